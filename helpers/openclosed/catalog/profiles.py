"""Choosing a profile: the one asked for, unless its open models are neither
on disk nor downloadable, in which case ``offline`` with the reason."""

from __future__ import annotations

from ..core.machine import hub_reachable
from ..core.settings import requested_profile
from .hub import hub_models, missing_hub_models
from .standins import standin_info


def choose_profile(requested: str | None) -> tuple[str, str]:
    """(profile, why) for ``requested`` (None: ``OPENCLOSED_PROFILE`` or ``workshop``)."""
    name, chosen = requested_profile(requested)
    if name == "offline":
        return name, "chosen" if chosen else "default"
    missing = missing_hub_models(name)
    if not missing:
        stand_ins = [m.name for m in hub_models(name) if standin_info(m)]
        if stand_ins:
            return name, (f"its open models are on disk, but {', '.join(stand_ins)} are STAND-INS with random weights "
                          "(a rehearsal: their outputs are meaningless)")
        return name, "all its open models are on disk"
    if hub_reachable():
        return name, f"{len(missing)} open model(s) will download from the Hub on first use"
    return "offline", (
        f"the {name!r} profile needs {', '.join(missing)}, which are not on disk and the Hub cannot be reached; "
        "using 'offline' (set OPENCLOSED_PROFILE=offline to skip this check; to rehearse the profile with "
        f"random-weight stand-ins: python -m openclosed.catalog.standins --profile {name})"
    )
