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
    if not get_backend(spec.backend).LOCAL:
        return ""  # no key: its column says how to add one (or replays recorded answers)
    if spec.source == "hub" and s.offline and local_snapshot(spec) is None:
        return "not downloaded, and this profile is offline"
    try:
        fitting_dtype(spec, s)
    except ModelTooLargeError:
        return f"too large for the {s.model_budget_gb:g} GB model budget"
    return ""


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


def available_models(task: str) -> list[str]:
    """Names of the models that can run ``task`` in this session (see :func:`why_not` for the others)."""
    return usable_models(task)[0]
