"""Which models can run here, and why not: panels offer only these (the
others are listed with the reason)."""

from __future__ import annotations

from ..backends import get_backend
from ..catalog.hub import local_snapshot
from ..catalog.registry import all_models
from ..catalog.specs import ModelSpec
from ..core.errors import ModelTooLargeError
from ..core.settings import Settings
from .loading import fitting_dtype
from .setup import get_settings


def why_not(spec: ModelSpec, s: Settings | None = None) -> str:
    """Why ``spec`` cannot run in this session ("" when it can)."""
    s = s or get_settings()
    backend = get_backend(spec.backend)
    if not backend.LOCAL:
        return ""  # no key: its column says how to add one (or replays recorded answers)
    check = getattr(backend, "unavailable", None)  # a backend may know more (e.g. its library is not installed)
    reason = check(spec, s) if check is not None else ""
    if reason:
        return reason
    if spec.source == "hub" and s.offline and local_snapshot(spec) is None:
        return "not downloaded, and this profile is offline"
    try:
        fitting_dtype(spec, s)
    except ModelTooLargeError:
        return f"too large for the {s.model_budget_gb:g} GB model budget"
    return ""


def missing_key(name: str, s: Settings | None = None) -> str:
    """Why model ``name`` cannot be called now for want of a key ("" when it
    runs here or has its key): panels leave such models unticked at first."""
    from ..catalog.registry import get_model

    spec = get_model(name)
    backend = get_backend(spec.backend)
    check = getattr(backend, "missing_key", None)
    return check(spec, s or get_settings()) if check is not None and not backend.LOCAL else ""


def usable_models(task: str, s: Settings | None = None) -> tuple[list[str], dict[str, str]]:
    """(names usable for ``task`` here, {name: why not} for the rest)."""
    s = s or get_settings()
    ok, not_ok = [], {}
    for spec in all_models():
        if spec.does(task):
            reason = why_not(spec, s)
            if reason:
                not_ok[spec.name] = reason
            else:
                ok.append(spec.name)
    return ok, not_ok


def default_ticked(task: str, options: list[str], s: Settings | None = None) -> list[str]:
    """The active profile's models for ``task`` that can run here now: usable
    (in ``options``) and, for closed models, with a key."""
    from ..catalog.registry import default_models

    s = s or get_settings()
    return [m for m in default_models(task, s.profile) if m in options and not missing_key(m, s)]


def available_models(task: str) -> list[str]:
    """Names of the models that can run ``task`` in this session (see :func:`why_not` for the others)."""
    return usable_models(task)[0]
