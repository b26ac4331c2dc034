"""The one way anything runs: :func:`compare` puts the same inputs through
several models at once, with the response cache, and returns a
:class:`~openclosed.engine.results.Comparison`. (Introduced in ``00_start_here.ipynb``.)

This module checks the call (inputs, model names, the task's parameters,
local-only rules) and resolves each model's backend, then hands over to
:class:`~openclosed.engine.run.ComparisonRun`, which runs it: API models in
their own threads (their inputs fan out over a bounded pool) while local
models run one after another on the calling thread (a model's ``generate``
in a worker thread ran at 0.35-0.64x the speed), so an open + closed
comparison takes about as long as the slower of the two. A model that fails
becomes error results in its own column; the others are unaffected.
:func:`rerun` repeats a saved run, making its models again from the manifest
when this kernel's catalog lacks them.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from ..backends import get_backend
from ..catalog.registry import add_spec, default_models, get_model
from ..catalog.specs import TASKS, ModelSpec
from ..core.errors import BadInputError, OpenClosedError, UnknownModelError
from ..engine.responsecache import active_cache
from ..engine.results import Comparison, load
from ..engine.run import ComparisonRun
from ..tasks import get_task
from .loading import load_model
from .setup import get_settings


def _check_inputs(inputs: Any) -> list[str]:
    if isinstance(inputs, str):
        return [inputs]
    if inputs is None or not hasattr(inputs, "__iter__"):
        raise BadInputError(f"inputs must be a string or a list of strings, not {type(inputs).__name__}",
                            'e.g. oc.compare("sentiment", models, ["I loved it", "Meh"])')
    out = list(inputs)
    if not out:
        raise BadInputError("inputs is empty", "pass at least one text")
    for i, x in enumerate(out):
        if not isinstance(x, str):
            raise BadInputError(f"input {i} is {type(x).__name__} ({x!r:.40}), not a string",
                                f"fix or drop inputs[{i}]; e.g. [t for t in texts if isinstance(t, str)]")
    return out


def compare(task: str, models: list[str] | str | None = None, inputs: list[str] | str | None = None, *,
            cache: str | None = None, progress: bool = True, on_partial=None, cancel: threading.Event | None = None,
            on_loaded=None, on_result=None, **params: Any) -> Comparison:
    """Run ``inputs`` through every model in ``models`` for ``task``.

    ``task``: ``"sentiment"``, ``"text-generation"`` or ``"image-generation"``.
    ``models``: catalog names (default: the active profile's models for the task).
    ``cache``: response-cache mode for this call (``readwrite``, ``read``,
    ``write``, ``off``; default from :func:`openclosed.setup`).
    ``on_partial(model, input_index, text_so_far)`` receives streamed text (a
    :class:`~openclosed.engine.context.Partial`: a ``str`` with live ``tokens``,
    ``ttft_s`` and ``tokens_per_s``; ``ttft_s`` counts from the start of
    generation, after the model was loaded). ``on_loaded(model, seconds)`` is
    called once each model is ready (the seconds its loading took in this call:
    about 0 when it was already loaded; a closed model that cannot be called,
    e.g. without a key, fails here instead). ``on_result(result)`` receives
    each :class:`~openclosed.engine.results.Result` the moment it is known —
    a model's error included, before the other models finish. ``cancel``: a ``threading.Event``; once
    set, streams end at the next token with their partial text kept and
    marked stopped, and inputs not yet started are not run.
    Other keyword arguments are model parameters (``max_tokens``,
    ``temperature``, ``seed``, ``steps``, ``size``...) and are recorded in the
    manifest. Never raises for a model failure: see ``run.errors()``.
    """
    if task not in TASKS:
        raise OpenClosedError(f"unknown task {task!r}", f"use one of {', '.join(TASKS)}")
    settings = get_settings()
    texts = _check_inputs(inputs)
    names = [models] if isinstance(models, (str, ModelSpec)) else list(models or default_models(task, settings.profile))
    if not names:
        raise OpenClosedError(f"no models given for {task!r}", "pass models=[...] (see oc.models(task))")
    specs = [get_model(n, task) for n in names]
    if len({s.name for s in specs}) != len(specs):
        raise BadInputError("the same model is listed twice", "list each model once")
    task_def = get_task(task)
    params = task_def.validate(params, settings)
    backends = {s.name: get_backend(s.backend) for s in specs}
    local = [s for s in specs if backends[s.name].LOCAL]
    if task_def.check_local and local:
        task_def.check_local(params, settings, local)
    run = ComparisonRun(task, specs, texts, params, settings, active_cache(settings, cache), backends=backends,
                        load_local=load_model, on_partial=on_partial, cancel=cancel, progress=progress,
                        on_loaded=on_loaded, on_result=on_result)
    return run.execute()


def rerun(manifest: dict[str, Any] | str | Path, **overrides: Any) -> Comparison:
    """Repeat a saved run: same task, models, inputs and parameters.

    ``manifest`` is a manifest dict, a folder written by ``run.save`` or its
    ``manifest.json``. ``overrides`` change parameters. Models missing from
    this kernel's catalog (a fresh kernel, say) are registered again exactly
    as the manifest records them (:meth:`ModelSpec.from_record`): the same
    backend, source (hub, folder, asset, API), endpoint, revision and key
    variable *name*; the key itself is read from the environment as usual.
    """
    if not isinstance(manifest, dict):
        path = Path(manifest)
        manifest = load(path).manifest if path.is_dir() else json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in ("task", "models", "inputs") if k not in manifest]
    if missing:
        raise BadInputError(f"the manifest has no {', '.join(missing)}",
                            "pass run.manifest of a run made with oc.compare(), or a folder written by run.save()")
    for rec in manifest.get("model_specs", []):
        try:
            get_model(rec["name"])
        except UnknownModelError:  # e.g. a fresh kernel: the same model again, from everything the record holds
            add_spec(ModelSpec.from_record(rec))
    params = {**manifest.get("params", {}), **overrides}
    return compare(manifest["task"], manifest["models"], manifest["inputs"], **params)


__all__ = ["compare", "rerun"]
