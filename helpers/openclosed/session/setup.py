"""``oc.setup()``: choose the profile and settings for this kernel, size the
model memory budget for this machine, and print what was found.
(Introduced in ``00_start_here.ipynb``.)"""

from __future__ import annotations

import getpass
import threading
import warnings
from typing import Any

from ..catalog.profiles import choose_profile
from ..core import netguard
from ..core import settings as core_settings
from ..core.errors import MissingKeyError
from ..core.secrets import Secret
from ..core.settings import Settings, build_settings
from ..engine.modelcache import model_cache

_lock = threading.Lock()


def setup(profile: str | None = None, *, verbose: bool = True, **options: Any) -> Settings:
    """Choose the profile and settings for this kernel and print what was found.

    ``profile``: ``"offline"``, ``"workshop"`` or ``"gpu"`` (default: the
    ``OPENCLOSED_PROFILE`` variable, else ``workshop`` falling back to
    ``offline`` when its models are neither on disk nor downloadable).
    Options: ``device``, ``dtype``, ``threads``, ``cache_dir``,
    ``response_cache`` (readwrite/read/write/off), ``max_spend_usd``,
    ``local_usd_per_hour``, ``model_budget_gb`` (default: from this machine's
    memory, or the GPU's), ``api_concurrency``, ``deadline_s``,
    ``max_retries``, ``responses_path``, ``env_file``, ``local_only``
    (True: refuse every connection beyond this machine, see
    ``05_cost_privacy_transparency.ipynb``; also ``OPENCLOSED_LOCAL_ONLY=1``;
    once on, it stays on through later ``setup()`` calls until
    ``local_only=False`` is passed).
    """
    if options.get("local_only") is None and netguard.enabled():
        options["local_only"] = True  # the guard is switched off only on purpose: oc.setup(local_only=False)
    with _lock:
        name, reason = choose_profile(profile)
        s = core_settings.install(build_settings(name, reason, **options))
        model_cache().set_budget(s.model_budget_gb)
        netguard.set_enabled(s.local_only)
    soon = retiring_defaults(s)
    crowded = crowded_by_other_kernels()
    if verbose:
        print(s.report() + "".join(f"\n  retiring  : {line}" for line in soon)
              + (f"\n  memory    : ⚠ {crowded}" if crowded else ""))
    for line in soon:
        warnings.warn(f"a default model {line}", FutureWarning, stacklevel=2)
    if crowded:
        warnings.warn(crowded, UserWarning, stacklevel=2)
    return s


def crowded_by_other_kernels() -> str | None:
    """A warning when other notebook kernels on this pod (or machine) hold enough memory to push this kernel over
    the memory limit (the container's, else the machine's RAM); None when there is room or nothing can be read."""
    from ..core.machine import crowding_warning, memory_limit, other_kernels

    try:
        limit, _source = memory_limit()
        return crowding_warning(limit, other_kernels())
    except Exception:  # never stop setup over a process listing (e.g. a restricted /proc)
        return None


def retiring_defaults(s: Settings) -> list[str]:
    """One line per default closed model of ``s.profile`` whose vendor retires it
    within 60 days of ``s.today`` (or has retired it)."""
    from ..catalog.registry import all_models, default_models
    from ..catalog.specs import TASKS
    from ..catalog.vendors import retiring_soon

    names = sorted({n for t in TASKS for n in default_models(t, s.profile)})
    return retiring_soon(names, {m.name: m for m in all_models()}, s.today)


def get_settings() -> Settings:
    """The active settings; the first call runs :func:`setup` quietly."""
    s = core_settings.current()
    if s is None:
        with _lock:
            s = core_settings.current()
        if s is None:
            s = setup(verbose=False)
    return s


def ask_for_key(name: str = "OPENAI_API_KEY") -> Secret:
    """Type an API key without it being echoed or saved in the notebook."""
    value = getpass.getpass(f"{name} (input hidden, not saved): ")
    secret = Secret(value, "typed with ask_for_key()")
    if not secret:
        raise MissingKeyError(f"no {name} was typed", "run oc.ask_for_key() again and paste the key")
    get_settings().keys[name] = secret
    print(f"{name} = {secret.masked} stored for this kernel only")
    return secret
