"""The one way anything runs: :func:`compare` puts the same inputs through
several models at once, with the response cache, and returns a
:class:`~openclosed.engine.results.Comparison`. (Introduced in ``00_start_here.ipynb``.)

Parameters are checked by the task before any model runs. API models run in
their own threads (their inputs fan out over a bounded pool) while local
models run one after another on the calling thread (a model's ``generate``
in a worker thread ran at 0.35-0.64x the speed), so an open + closed
comparison takes about as long as the slower of the two. A model that fails
becomes error results in its own column; the others are unaffected.
"""

from __future__ import annotations

import json
import platform
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..backends import get_backend
from ..catalog.registry import default_models, get_model, register
from ..catalog.specs import TASKS, ModelSpec
from ..core import netguard
from ..core.errors import BadInputError, OpenClosedError
from ..core.settings import Settings, package_versions
from ..engine.context import RunContext, failed
from ..engine.pricing import overrides, price_source
from ..engine.responsecache import ResponseCache, active_cache, response_key
from ..engine.results import Comparison, ErrorInfo, Result, image_from_b64, image_to_b64, load
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


def _entry(r: Result) -> dict[str, Any]:
    rec = r.to_record()
    if r.image is not None:
        rec["image_b64"] = image_to_b64(r.image)
    return rec


def _from_entry(entry: dict[str, Any], spec: ModelSpec, index: int, text: str) -> Result:
    img = image_from_b64(entry["image_b64"]) if entry.get("image_b64") else None
    r = Result.from_record({k: v for k, v in entry.items() if k not in ("image_b64", "stored_at", "imported")}, image=img)
    r.model, r.input_index, r.input = spec.name, index, text
    r.cache = "replay" if entry.get("imported") else "hit"
    r.cached_at = entry.get("stored_at")
    return r


def _manifest(task: str, specs: list[ModelSpec], params: dict[str, Any], cache: ResponseCache,
              s: Settings) -> dict[str, Any]:
    return {
        "openclosed": package_versions().get("openclosed", ""),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "task": task,
        "model_specs": [m.record() for m in specs],
        "params": params,
        "seed": params.get("seed"),
        "profile": s.profile, "device": s.device, "dtype": s.dtype, "threads": s.threads,
        "response_cache": cache.mode,
        "prices": {"source": price_source(), "overrides": overrides(),
                   "local_usd_per_hour": s.local_usd_per_hour},
        "versions": package_versions(), "python": platform.python_version(), "platform": platform.platform(),
        "settings": s.as_dict(),
    }


def compare(task: str, models: list[str] | str | None = None, inputs: list[str] | str | None = None, *,
            cache: str | None = None, progress: bool = True, on_partial=None, cancel: threading.Event | None = None,
            **params: Any) -> Comparison:
    """Run ``inputs`` through every model in ``models`` for ``task``.

    ``task``: ``"sentiment"``, ``"text-generation"`` or ``"image-generation"``.
    ``models``: catalog names (default: the active profile's models for the task).
    ``cache``: response-cache mode for this call (``readwrite``, ``read``,
    ``write``, ``off``; default from :func:`openclosed.setup`).
    ``on_partial(model, input_index, text_so_far)`` receives streamed text (a
    :class:`~openclosed.engine.context.Partial`: a ``str`` with live ``tokens``,
    ``ttft_s`` and ``tokens_per_s``). ``cancel``: a ``threading.Event``; once
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
    local = [s for s in specs if get_backend(s.backend).LOCAL]
    if task_def.check_local and local:
        task_def.check_local(params, settings, local)
    rc = active_cache(settings, cache)
    manifest = _manifest(task, specs, params, rc, settings)

    from tqdm.auto import tqdm

    total = len(specs) * len(texts)
    bar = tqdm(total=total, desc=f"{task}: {len(specs)} models x {len(texts)} inputs", disable=not progress or total < 2,
               leave=False)
    results: dict[tuple[str, int], Result] = {}
    label_maps: dict[str, dict[str, str]] = {}  # sentiment: each model's labels -> ours (kept with cached answers too)
    endpoints: dict[str, dict[str, Any]] = {}  # API models: where requests went, and how many
    loaded_as: dict[str, dict[str, Any]] = {}  # local models: the folder, dtype and device that actually ran
    lock = threading.Lock()

    def store(r: Result, key: str | None, label_map: dict[str, str] | None = None,
              endpoint: str | None = None) -> None:
        with lock:
            if (r.model, r.input_index) in results:
                return
            results[(r.model, r.input_index)] = r
            if label_map:
                label_maps.setdefault(r.model, dict(label_map))
            bar.update(1)
        if key and r.ok and r.cache == "miss":
            extra = {"label_map": label_map} if label_map else {}
            rc.put(key, dict(_entry(r), family=r.family, endpoint=endpoint, **extra))

    def run_one(spec: ModelSpec) -> None:
        with netguard.attribute(spec.name):  # a connection refused by oc.setup(local_only=True) names the model
            run_model(spec)

    def run_model(spec: ModelSpec) -> None:
        backend = get_backend(spec.backend)
        endpoint = backend.endpoint(spec) if hasattr(backend, "endpoint") else None
        keys: dict[int, str] = {}
        pending = []
        for i, text in enumerate(texts):
            if not text.strip():
                store(failed(spec, task, (i, text), ErrorInfo(
                    "EmptyInput", f"input {i} is empty or only whitespace", "give the model some text")), None)
                continue
            keys[i] = response_key(spec, task, text, params, endpoint)
            hit = rc.get(keys[i])
            if hit is not None:
                store(_from_entry(hit, spec, i, text), None, hit.get("label_map"))
            else:
                pending.append((i, text))
        if endpoint:  # where did the data go: filled in as the requests are sent
            sent_before = backend.requests_sent(spec) if hasattr(backend, "requests_sent") else None
            with lock:
                endpoints[spec.name] = {"endpoint": endpoint, "inputs sent": len(pending),
                                        "answered from the cache": len(texts) - len(pending),
                                        "requests": 0, "input tokens": 0, "output tokens": 0}
        if not pending:
            return
        try:
            run_pending(spec, backend, pending, keys, endpoint)
        finally:
            if endpoint:
                fresh = [r for (m, i), r in list(results.items()) if m == spec.name and r.cache in ("miss", "off")]
                with lock:
                    endpoints[spec.name].update({
                        "requests": None if sent_before is None else backend.requests_sent(spec) - sent_before,
                        "input tokens": sum(r.input_tokens or 0 for r in fresh),
                        "output tokens": sum(r.output_tokens or 0 for r in fresh)})

    def run_pending(spec: ModelSpec, backend, pending: list[tuple[int, str]], keys: dict[int, str],
                    endpoint: str | None) -> None:
        ctx = RunContext(spec, task, dict(params), settings, on_partial=on_partial, cancel=cancel,
                         emit=lambda r: store(_mark(r, rc), keys.get(r.input_index), ctx.label_map, endpoint))
        try:
            ctx.loaded = load_model(spec) if backend.LOCAL else backend.load(spec, settings)
            if backend.LOCAL:
                loaded_as[spec.name] = {"folder": ctx.loaded.folder, "dtype": ctx.loaded.dtype,
                                        "device": ctx.loaded.device, "random_weights": ctx.loaded.random_weights,
                                        "stand_in": ctx.loaded.stand_in, "notes": list(ctx.loaded.notes)}
            backend.run(ctx.loaded, pending, ctx)
        except Exception as exc:  # the model failed as a whole: every input it owed gets the error
            for item in pending:
                store(failed(spec, task, item, exc), None)
        for item in pending:  # no result is ever silently dropped
            if (spec.name, item[0]) not in results:
                store(failed(spec, task, item, ErrorInfo("NoResult", "the backend returned no result for this input",
                                                         "this is a bug in the backend; please report it")), None)

    started = time.time()
    remote = [s for s in specs if not get_backend(s.backend).LOCAL]
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(remote)), thread_name_prefix="oc-api") as pool:
            futures = [pool.submit(run_one, s) for s in remote]  # network-bound: in threads, at the same time
            for spec in specs:  # compute-bound: on this thread, one after another
                if spec not in remote:
                    run_one(spec)
            for f in futures:
                f.result()
    finally:
        bar.close()
    manifest["started_at"] = datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds")
    manifest["wall_s"] = round(time.time() - started, 4)
    if label_maps:
        manifest["label_maps"] = {s.name: label_maps[s.name] for s in specs if s.name in label_maps}
    if endpoints:
        manifest["endpoints"] = endpoints
    if loaded_as:
        manifest["loaded"] = loaded_as
    manifest["models"], manifest["inputs"] = [s.name for s in specs], texts  # enough for oc.rerun(run.manifest)
    ordered = [results[(s.name, i)] for s in specs for i in range(len(texts))]
    return Comparison(task, [s.name for s in specs], texts, ordered, manifest)


def _mark(r: Result, rc: ResponseCache) -> Result:
    if rc.mode == "off":
        r.cache = "off"
    return r


def rerun(manifest: dict[str, Any] | str | Path, **overrides: Any) -> Comparison:
    """Repeat a saved run: same task, models, inputs and parameters.

    ``manifest`` is a manifest dict, a folder written by ``run.save`` or its
    ``manifest.json``. Models missing from this kernel's catalog are
    registered again from the manifest's record.
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
        except KeyError:
            register(rec["name"], tasks=rec["tasks"], model=rec["ref"], base_url=rec.get("base_url"),
                     revision=rec.get("revision"), family=rec.get("family"), arch=rec.get("arch") or None)
    params = {**manifest.get("params", {}), **overrides}
    return compare(manifest["task"], manifest["models"], manifest["inputs"], **params)


__all__ = ["compare", "rerun"]
