"""Which models can run here, and why not: panels offer only these (the
others are listed with the reason). :func:`answerable` picks the closed models
that can answer given inputs now: with their key, or from a recording
imported with ``oc.import_cache`` (notebooks 00, 04 and 05)."""

from __future__ import annotations

from ..backends import get_backend
from ..catalog.hub import local_snapshot
from ..catalog.registry import all_models
from ..catalog.specs import ModelSpec
from ..core.errors import ModelTooLargeError
from ..core.settings import Settings
from ..engine.responsecache import active_cache, recorded_models, response_key
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


def recorded(name: str, task: str, inputs: list[str] | str | None = None, s: Settings | None = None,
             **params) -> bool:
    """True when the response cache holds answers of model ``name`` for ``task``: for every input of ``inputs``
    with ``params`` (the task's defaults filled in), or, with no ``inputs``, any answer imported from a
    recording (``oc.import_cache``)."""
    from ..catalog.registry import get_model
    from ..tasks import get_task

    s = s or get_settings()
    if inputs is None:
        return name in recorded_models(s, task)
    spec = get_model(name, task)
    texts = [inputs] if isinstance(inputs, str) else list(inputs)
    backend = get_backend(spec.backend)
    endpoint = backend.endpoint(spec) if hasattr(backend, "endpoint") else None
    checked = get_task(task).validate(dict(params), s)
    cache = active_cache(s, "read")
    return bool(texts) and all(cache.get(response_key(spec, task, t, checked, endpoint)) is not None for t in texts)


def answerable(names: list[str], task: str, inputs: list[str] | str | None = None, s: Settings | None = None,
               **params) -> list[str]:
    """The models of ``names`` that can answer here now: open ones that run here, and API models with their
    key or with their answers recorded (``oc.import_cache``; for every one of ``inputs`` with ``params`` when
    given, else any recorded answer for ``task``). The rest are left out: a closed model's column would only
    say that its key is missing."""
    from ..catalog.registry import get_model

    s = s or get_settings()
    out = []
    for name in names:
        spec = get_model(name, task)
        if get_backend(spec.backend).LOCAL:
            if not why_not(spec, s):
                out.append(name)
        elif not missing_key(name, s) or recorded(name, task, inputs, s, **params):
            out.append(name)
    return out
