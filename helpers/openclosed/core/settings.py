"""Session settings: profile, device, dtype, threads, memory budget, cache
folders and API keys, read from the environment and the machine.

This module only *builds* settings and holds the active ones; choosing a
profile (which needs the catalog) and printing the report happen in
:func:`openclosed.setup`. Nothing happens at import time.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import OpenClosedError
from .machine import cpu_quota, model_budget, pick_device, pick_dtype
from .paths import default_cache_dir
from .secrets import Secret, find_keys

PROFILES = ("offline", "workshop", "gpu")
CACHE_MODES = ("readwrite", "read", "write", "off")
DTYPES = ("float32", "bfloat16", "float16")

_lock = threading.RLock()
_settings: Settings | None = None


def _env_float(name: str, default: float | None) -> float | None:
    v = os.environ.get(name)
    if v in (None, ""):
        return default
    try:
        return float(v)
    except ValueError as exc:
        raise OpenClosedError(f"{name}={v!r} is not a number", f"set {name} to a number such as 1.5") from exc


@dataclass
class Settings:
    """Everything a run depends on besides the model and the inputs.

    Read with :func:`openclosed.get_settings`; change with :func:`openclosed.setup`.
    """

    profile: str = "offline"
    profile_reason: str = ""
    device: str = "cpu"
    dtype: str = "float32"
    dtype_reason: str = ""
    threads: int = 1
    cache_dir: Path = field(default_factory=default_cache_dir)
    response_cache: str = "readwrite"
    max_spend_usd: float | None = None
    spent_usd: float = 0.0
    local_usd_per_hour: float = 0.10
    model_budget_gb: float = 1.5
    budget_reason: str = ""
    api_concurrency: int = 8
    deadline_s: float = 120.0
    max_retries: int = 2
    local_only: bool = False  # refuse every connection beyond this machine (core/netguard.py)
    responses_path: Path | None = None  # default: <cache_dir>/responses
    today: str | None = None  # the date retirements are judged by (YYYY-MM-DD; None: the real date)
    keys: dict[str, Secret] = field(default_factory=dict, repr=False)

    @property
    def models_dir(self) -> Path:
        return self.cache_dir / "models"

    @property
    def responses_dir(self) -> Path:
        return Path(self.responses_path) if self.responses_path else self.cache_dir / "responses"

    @property
    def offline(self) -> bool:
        """True when nothing may be downloaded: the offline profile or HF_HUB_OFFLINE."""
        return self.profile == "offline" or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")

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
        """The text that :func:`openclosed.setup` prints."""
        lines = [
            f"openclosed {package_versions().get('openclosed', '')}",
            f"  profile   : {self.profile}" + (f"  ({self.profile_reason})" if self.profile_reason else ""),
            f"  device    : {self.device}, dtype {self.dtype} ({self.dtype_reason})",
            f"  threads   : {self.threads} (from the CPU quota; override with oc.setup(threads=N))",
            f"  models    : {self.models_dir}",
            f"  responses : {self.responses_dir} (cache mode: {self.response_cache})",
            f"  memory    : models in memory up to {self.model_budget_gb:g} GB ({self.budget_reason})",
            "  network   : " + ("local only: connections beyond 127.0.0.1 are refused" if self.local_only
                                else "open (oc.setup(local_only=True) refuses connections beyond 127.0.0.1)"),
            "  spending  : " + (f"API spend capped at ${self.max_spend_usd:g}" if self.max_spend_usd is not None
                                else "no API spending cap (oc.setup(max_spend_usd=...))"),
            "  versions  : " + ", ".join(f"{k} {v}" for k, v in package_versions().items()),
        ]
        if self.keys:
            lines += [f"  key       : {k} = {v.masked} (from {v.source})" for k, v in self.keys.items()]
        else:
            lines.append(
                "  key       : no API key found - closed models will show a clear 'no key' note"
                " (add OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY or MISTRAL_API_KEY to .env, "
                "or call oc.ask_for_key(name))"
            )
        return "\n".join(lines)


def package_versions() -> dict[str, str]:
    """Versions of the libraries that shape results (recorded in manifests)."""
    return dict(_package_versions())


@functools.lru_cache(maxsize=1)
def _package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("openclosed", "torch", "transformers", "diffusers", "sentence-transformers", "openai", "genai-prices"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def requested_profile(requested: str | None) -> tuple[str, bool]:
    """(profile name, whether the user chose it) from the argument or ``OPENCLOSED_PROFILE``."""
    name = requested or os.environ.get("OPENCLOSED_PROFILE") or "workshop"
    if name not in PROFILES:
        raise OpenClosedError(f"unknown profile {name!r}", f"use one of {', '.join(PROFILES)}")
    return name, bool(requested or os.environ.get("OPENCLOSED_PROFILE"))


def build_settings(profile: str, profile_reason: str = "", **overrides: Any) -> Settings:
    """Settings for ``profile`` from the environment, the machine and ``overrides``."""
    device = overrides.pop("device", None) or os.environ.get("OPENCLOSED_DEVICE") or pick_device()
    dtype = overrides.pop("dtype", None) or os.environ.get("OPENCLOSED_DTYPE")
    dtype_reason = "chosen by you"
    if not dtype:
        dtype, dtype_reason = pick_dtype(device)
    if dtype not in DTYPES:
        raise OpenClosedError(f"unknown dtype {dtype!r}", f"use one of {', '.join(DTYPES)}")
    if device == "cpu" and dtype == "float16":
        raise OpenClosedError("float16 on CPU is slow and inaccurate", "use dtype='bfloat16' or 'float32' on CPU")
    threads = overrides.pop("threads", None) or int(os.environ.get("OPENCLOSED_THREADS", 0)) or cpu_quota()
    env_file = overrides.pop("env_file", None)
    budget = _env_float("OPENCLOSED_MODEL_BUDGET_GB", None)
    budget_reason = "OPENCLOSED_MODEL_BUDGET_GB"
    if budget is None:
        budget, budget_reason = model_budget(device)
    s = Settings(
        profile=profile,
        profile_reason=profile_reason,
        device=device,
        dtype=dtype,
        dtype_reason=dtype_reason,
        threads=threads,
        cache_dir=Path(overrides.pop("cache_dir", None) or default_cache_dir()).expanduser(),
        response_cache=os.environ.get("OPENCLOSED_RESPONSE_CACHE", "readwrite"),
        max_spend_usd=_env_float("OPENCLOSED_MAX_SPEND_USD", None),
        local_usd_per_hour=_env_float("OPENCLOSED_LOCAL_USD_PER_HOUR", 0.10),
        local_only=os.environ.get("OPENCLOSED_LOCAL_ONLY", "").lower() in ("1", "true", "yes"),
        model_budget_gb=budget,
        budget_reason=budget_reason,
        responses_path=Path(os.environ["OPENCLOSED_RESPONSES_DIR"]) if os.environ.get("OPENCLOSED_RESPONSES_DIR") else None,
        keys=find_keys(Path(env_file) if env_file else None),
    )
    if overrides.get("model_budget_gb") is not None:
        s.budget_reason = "chosen by you"
    settable = [f.name for f in dataclasses.fields(Settings) if f.name not in ("keys", "spent_usd", "budget_reason",
                                                                                "profile_reason", "dtype_reason")]
    for name, value in overrides.items():
        if value is None:
            continue
        if name not in settable:
            raise OpenClosedError(f"setup() got an unknown setting {name!r}", f"known settings: {', '.join(settable)}")
        setattr(s, name, value)
    if s.response_cache not in CACHE_MODES:
        raise OpenClosedError(f"unknown response cache mode {s.response_cache!r}", f"use one of {', '.join(CACHE_MODES)}")
    return s


def install(s: Settings) -> Settings:
    """Make ``s`` the active settings and apply its thread count to torch."""
    global _settings
    import torch

    if torch.get_num_threads() != s.threads:
        torch.set_num_threads(s.threads)
    with _lock:
        _settings = s
    return s


def current() -> Settings | None:
    """The active settings, or None before the first :func:`openclosed.setup`."""
    return _settings
