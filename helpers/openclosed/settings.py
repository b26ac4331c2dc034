"""Session settings: profile, device, dtype, threads, cache folders and API keys.

Nothing happens at import time. The first call to :func:`get_settings` (or an
explicit :func:`setup`) reads the environment once; ``setup`` also prints a
short report and applies the thread count to torch.

API keys are held as :class:`Secret` objects whose ``repr``/``str`` are masked
(``sk-…abcd``); :func:`redact` scrubs every known key out of any text before it
is shown, logged or saved. (Introduced in ``notebooks/00_start_here.ipynb``.)
"""

from __future__ import annotations

import dataclasses
import functools
import getpass
import math
import os
import re
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILES = ("offline", "workshop", "gpu")
CACHE_MODES = ("readwrite", "read", "write", "off")
KEY_NAMES = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")

_known_secrets: set[str] = set()
_lock = threading.RLock()
_settings: Settings | None = None


# --------------------------------------------------------------------------- keys
def mask(value: str) -> str:
    """``sk-proj-abc...wxyz`` -> ``sk-…wxyz``: enough to tell keys apart, no more."""
    if not value:
        return ""
    prefix = "sk-" if value.startswith("sk-") else ""
    return f"{prefix}…{value[-4:]}" if len(value) > 8 else "…"


class Secret:
    """An API key that never shows itself: repr, str and format are masked.

    Use :meth:`reveal` only at the point where the key is handed to a client.
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        self._value = value.strip()
        self.source = source
        if len(self._value) >= 8:
            _known_secrets.add(self._value)

    def reveal(self) -> str:
        """The real key, for passing to an API client. Never print it."""
        return self._value

    @property
    def masked(self) -> str:
        return mask(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked!r}, source={self.source!r})"

    __str__ = __format__ = lambda self, *_: self.masked  # noqa: E731

    def __reduce__(self):  # refuse to be pickled/saved
        raise TypeError("an API key cannot be pickled or saved")

    def __bool__(self) -> bool:
        return bool(self._value)


_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,})")


def redact(text: Any) -> str:
    """Return ``text`` as a string with every known API key (and anything
    shaped like an OpenAI key) replaced by its masked form."""
    s = str(text)
    for secret in sorted(_known_secrets, key=len, reverse=True):
        if secret in s:
            s = s.replace(secret, mask(secret))
    return _KEY_PATTERN.sub(lambda m: mask(m.group(1)), s)


# ---------------------------------------------------------------------- hardware
def cpu_quota() -> int:
    """CPUs this process may really use: the cgroup quota (v2 or v1) and the
    affinity mask, whichever is smaller. OpenMP ignores the quota, so a 1-CPU
    Binder pod would otherwise run one thread per host core and crawl."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = None
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if text and text[0] != "max":
            quota = int(text[0]) / int(text[1])
    except (OSError, ValueError, IndexError):
        try:
            q = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
            p = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
            if q > 0 and p > 0:
                quota = q / p
        except (OSError, ValueError):
            pass
    if quota:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def cpu_has_native_bf16() -> bool:
    """True on CPUs with native bfloat16 (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def pick_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str) -> tuple[str, str]:
    """(dtype name, why) for ``device``: never float16 on CPU."""
    if device == "cuda":
        import torch

        if torch.cuda.is_bf16_supported():
            return "bfloat16", "GPU supports bfloat16"
        return "float16", "GPU without bfloat16"
    if device == "mps":
        return "float16", "Apple GPU"
    if cpu_has_native_bf16():
        return "bfloat16", "CPU has native bfloat16 (AVX512-BF16/AMX): ~1.6x faster decoding"
    return "float32", "CPU without native bfloat16: bfloat16 would be slow here"


# ---------------------------------------------------------------------- settings
def _default_cache_dir() -> Path:
    env = os.environ.get("OPENCLOSED_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "openclosed"


def _env_float(name: str, default: float | None) -> float | None:
    v = os.environ.get(name)
    if v in (None, ""):
        return default
    try:
        return float(v)
    except ValueError as exc:
        from .errors import OpenClosedError

        raise OpenClosedError(f"{name}={v!r} is not a number", f"set {name} to a number such as 1.5") from exc


@dataclass
class Settings:
    """Everything a run depends on besides the model and the inputs.

    Read with :func:`get_settings`; change with :func:`setup`.
    """

    profile: str = "offline"
    profile_reason: str = ""
    device: str = "cpu"
    dtype: str = "float32"
    dtype_reason: str = ""
    threads: int = 1
    cache_dir: Path = field(default_factory=_default_cache_dir)
    response_cache: str = "readwrite"
    max_spend_usd: float | None = None
    spent_usd: float = 0.0
    local_usd_per_hour: float = 0.10
    model_budget_gb: float = 1.5
    api_concurrency: int = 8
    deadline_s: float = 120.0
    max_retries: int = 2
    responses_path: Path | None = None  # default: <cache_dir>/responses
    keys: dict[str, Secret] = field(default_factory=dict, repr=False)

    @property
    def models_dir(self) -> Path:
        return self.cache_dir / "models"

    @property
    def responses_dir(self) -> Path:
        return Path(self.responses_path) if self.responses_path else self.cache_dir / "responses"

    def key(self, name: str = "OPENAI_API_KEY") -> Secret | None:
        """The key called ``name`` if one was found (masked when shown)."""
        return self.keys.get(name)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-safe view (keys masked) for manifests and reports."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "keys"}
        d["cache_dir"] = str(self.cache_dir)
        d["responses_path"] = str(self.responses_dir)
        d["keys"] = {k: v.masked for k, v in self.keys.items()}
        return d

    def report(self) -> str:
        """The text that :func:`setup` prints."""
        from . import __version__

        lines = [
            f"openclosed {__version__}",
            f"  profile   : {self.profile}" + (f"  ({self.profile_reason})" if self.profile_reason else ""),
            f"  device    : {self.device}, dtype {self.dtype} ({self.dtype_reason})",
            f"  threads   : {self.threads} (from the CPU quota; override with oc.setup(threads=N))",
            f"  models    : {self.models_dir}",
            f"  responses : {self.responses_dir} (cache mode: {self.response_cache})",
            f"  budget    : models in memory up to {self.model_budget_gb:g} GB; "
            + (f"API spend capped at ${self.max_spend_usd:g}" if self.max_spend_usd is not None else "no API spending cap"),
            "  versions  : " + ", ".join(f"{k} {v}" for k, v in package_versions().items()),
        ]
        if self.keys:
            lines += [f"  key       : {k} = {v.masked} (from {v.source})" for k, v in self.keys.items()]
        else:
            lines.append(
                "  key       : no API key found - closed models will show a clear 'no key' note"
                " (add OPENAI_API_KEY to .env or call oc.ask_for_key())"
            )
        return "\n".join(lines)


def package_versions() -> dict[str, str]:
    """Versions of the libraries that shape results (recorded in manifests)."""
    return dict(_package_versions())


@functools.lru_cache(maxsize=1)
def _package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "transformers", "diffusers", "sentence-transformers", "openai", "genai-prices"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _find_keys(env_file: Path | None) -> dict[str, Secret]:
    keys: dict[str, Secret] = {}
    for name in KEY_NAMES:
        if os.environ.get(name):
            keys[name] = Secret(os.environ[name], "environment")
    path = env_file or Path.cwd() / ".env"
    if not path.exists():  # notebooks run in notebooks/: look one level up too
        path = Path.cwd().parent / ".env"
    if path.exists():
        from dotenv import dotenv_values

        for name, value in dotenv_values(path).items():
            if name in KEY_NAMES and value and name not in keys:
                keys[name] = Secret(value, f".env file {path.name}")
    return keys


def hub_reachable(timeout: float = 1.5) -> bool:
    """Whether the Hugging Face Hub answers (False at once when HF_HUB_OFFLINE is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = re.sub(r"^https?://", "", endpoint).split("/")[0].split(":")[0]
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _choose_profile(requested: str | None) -> tuple[str, str]:
    from .errors import OpenClosedError

    name = requested or os.environ.get("OPENCLOSED_PROFILE") or "workshop"
    if name not in PROFILES:
        raise OpenClosedError(f"unknown profile {name!r}", f"use one of {', '.join(PROFILES)}")
    if name == "offline":
        return name, "chosen" if requested or os.environ.get("OPENCLOSED_PROFILE") else "default"
    from .catalog import missing_hub_models

    missing = missing_hub_models(name)
    if not missing:
        return name, "all its open models are in the local cache"
    if hub_reachable():
        return name, f"{len(missing)} open model(s) will download from the Hub on first use"
    return "offline", (
        f"the {name!r} profile needs {', '.join(missing)}, which are not cached and the Hub cannot be reached; "
        "using 'offline' (set OPENCLOSED_PROFILE=offline to skip this check)"
    )


def _build(**overrides: Any) -> Settings:
    profile, reason = _choose_profile(overrides.pop("profile", None))
    device = overrides.pop("device", None) or os.environ.get("OPENCLOSED_DEVICE") or pick_device()
    dtype = overrides.pop("dtype", None) or os.environ.get("OPENCLOSED_DTYPE")
    dtype_reason = "chosen by you"
    if not dtype:
        dtype, dtype_reason = pick_dtype(device)
    if device == "cpu" and dtype == "float16":
        from .errors import OpenClosedError

        raise OpenClosedError("float16 on CPU is slow and inaccurate", "use dtype='bfloat16' or 'float32' on CPU")
    threads = overrides.pop("threads", None) or int(os.environ.get("OPENCLOSED_THREADS", 0)) or cpu_quota()
    env_file = overrides.pop("env_file", None)
    s = Settings(
        profile=profile,
        profile_reason=reason,
        device=device,
        dtype=dtype,
        dtype_reason=dtype_reason,
        threads=threads,
        cache_dir=Path(overrides.pop("cache_dir", None) or _default_cache_dir()).expanduser(),
        response_cache=os.environ.get("OPENCLOSED_RESPONSE_CACHE", "readwrite"),
        max_spend_usd=_env_float("OPENCLOSED_MAX_SPEND_USD", None),
        local_usd_per_hour=_env_float("OPENCLOSED_LOCAL_USD_PER_HOUR", 0.10),
        model_budget_gb=_env_float("OPENCLOSED_MODEL_BUDGET_GB", 1.5),
        responses_path=Path(os.environ["OPENCLOSED_RESPONSES_DIR"]) if os.environ.get("OPENCLOSED_RESPONSES_DIR") else None,
        keys=_find_keys(Path(env_file) if env_file else None),
    )
    for name, value in overrides.items():
        if value is None:
            continue
        if not hasattr(s, name) or name in ("keys", "spent_usd"):
            from .errors import OpenClosedError

            fields = [f.name for f in dataclasses.fields(Settings) if f.name not in ("keys", "spent_usd")]
            raise OpenClosedError(f"setup() got an unknown setting {name!r}", f"known settings: {', '.join(fields)}")
        setattr(s, name, value)
    if s.response_cache not in CACHE_MODES:
        from .errors import OpenClosedError

        raise OpenClosedError(f"unknown response cache mode {s.response_cache!r}", f"use one of {', '.join(CACHE_MODES)}")
    return s


def _apply(s: Settings) -> None:
    import torch

    if torch.get_num_threads() != s.threads:
        torch.set_num_threads(s.threads)


def get_settings() -> Settings:
    """The active settings, created from the environment on first use (quietly)."""
    global _settings
    with _lock:
        if _settings is None:
            _settings = _build()
            _apply(_settings)
        return _settings


def setup(profile: str | None = None, *, verbose: bool = True, **options: Any) -> Settings:
    """Choose the profile and settings for this kernel and print what was found.

    ``profile``: ``"offline"``, ``"workshop"`` or ``"gpu"`` (default: the
    ``OPENCLOSED_PROFILE`` variable, else ``workshop`` falling back to
    ``offline`` when its models are neither cached nor downloadable).
    Options: ``device``, ``dtype``, ``threads``, ``cache_dir``,
    ``response_cache`` (readwrite/read/write/off), ``max_spend_usd``,
    ``local_usd_per_hour``, ``model_budget_gb``, ``api_concurrency``,
    ``deadline_s``, ``max_retries``, ``responses_path``, ``env_file``.
    """
    global _settings
    with _lock:
        _settings = _build(profile=profile, **options)
        _apply(_settings)
        from .modelcache import model_cache

        model_cache().set_budget(_settings.model_budget_gb)
    if verbose:
        print(_settings.report())
    return _settings


def ask_for_key(name: str = "OPENAI_API_KEY") -> Secret:
    """Type an API key without it being echoed or saved in the notebook."""
    value = getpass.getpass(f"{name} (input hidden, not saved): ")
    secret = Secret(value, "typed with ask_for_key()")
    if not secret:
        from .errors import MissingKeyError

        raise MissingKeyError(f"no {name} was typed", "run oc.ask_for_key() again and paste the key")
    get_settings().keys[name] = secret
    print(f"{name} = {secret.masked} stored for this kernel only")
    return secret
