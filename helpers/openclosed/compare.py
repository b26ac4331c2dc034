"""The one way anything runs: :func:`compare` puts the same inputs through
several models at once, with the response cache, and returns a
:class:`~openclosed.results.Comparison`. (Introduced in ``00_start_here.ipynb``.)

Each model runs in its own thread (local models batch their inputs; API
models fan out over a bounded pool), so an open + closed comparison takes
about as long as the slower of the two. A model that fails becomes error
results in its own column; the others are unaffected.
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

from .backends import get_backend
from .backends.base import RunContext, failed, new_result
from .catalog import TASKS, ModelSpec, default_models, get_model, register
from .errors import BadInputError, OpenClosedError
from .responsecache import ResponseCache, active_cache, response_key
from .results import Comparison, ErrorInfo, Result, image_from_b64, image_to_b64, load
from .settings import get_settings, package_versions

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "sentiment": {},
    "text-generation": {"max_tokens": 128, "temperature": 0.0, "seed": 0},
    "image-generation": {"steps": 4, "size": None, "guidance_scale": 0.0, "seed": 0},
}


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


def _manifest(task: str, specs: list[ModelSpec], params: dict[str, Any], cache: ResponseCache) -> dict[str, Any]:
    from . import __version__
    from .pricing import _overrides, price_source

    s = get_settings()
    return {
        "openclosed": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "task": task,
        "model_specs": [m.record() for m in specs],
        "params": params,
        "seed": params.get("seed"),
        "profile": s.profile, "device": s.device, "dtype": s.dtype, "threads": s.threads,
        "response_cache": cache.mode,
        "prices": {"source": price_source(), "overrides": dict(_overrides),
                   "local_usd_per_hour": s.local_usd_per_hour},
        "versions": package_versions(), "python": platform.python_version(), "platform": platform.platform(),
        "settings": s.as_dict(),
    }


def compare(task: str, models: list[str] | str | None = None, inputs: list[str] | str | None = None, *,
            cache: str | None = None, progress: bool = True, on_partial=None, **params: Any) -> Comparison:
    """Run ``inputs`` through every model in ``models`` for ``task``.

    ``task``: ``"sentiment"``, ``"text-generation"`` or ``"image-generation"``.
    ``models``: catalog names (default: the active profile's models for the task).
    ``cache``: response-cache mode for this call (``readwrite``, ``read``,
    ``write``, ``off``; default from :func:`openclosed.setup`).
    ``on_partial(model, input_index, text_so_far)`` receives streamed text.
    Other keyword arguments are model parameters (``max_tokens``,
    ``temperature``, ``seed``, ``steps``, ``size``...) and are recorded in the
    manifest. Never raises for a model failure: see ``run.errors()``.
    """
    if task not in TASKS:
        raise OpenClosedError(f"unknown task {task!r}", f"use one of {', '.join(TASKS)}")
    texts = _check_inputs(inputs)
    names = [models] if isinstance(models, (str, ModelSpec)) else list(models or default_models(task))
    if not names:
        raise OpenClosedError(f"no models given for {task!r}", "pass models=[...] (see oc.models(task))")
    specs = [get_model(n, task) for n in names]
    if len({s.name for s in specs}) != len(specs):
        raise BadInputError("the same model is listed twice", "list each model once")
    params = {**DEFAULT_PARAMS[task], **params}
    rc = active_cache(cache)
    manifest = _manifest(task, specs, params, rc)
    settings = get_settings()

    from tqdm.auto import tqdm

    total = len(specs) * len(texts)
    bar = tqdm(total=total, desc=f"{task}: {len(specs)} models x {len(texts)} inputs", disable=not progress or total < 2,
               leave=False)
    results: dict[tuple[str, int], Result] = {}
    label_maps: dict[str, dict[str, str]] = {}  # sentiment: each model's labels -> ours (kept with cached answers too)
    lock = threading.Lock()

    def store(r: Result, key: str | None, label_map: dict[str, str] | None = None) -> None:
        with lock:
            if (r.model, r.input_index) in results:
                return
            results[(r.model, r.input_index)] = r
            if label_map:
                label_maps.setdefault(r.model, dict(label_map))
            bar.update(1)
        if key and r.ok and r.cache == "miss":
            rc.put(key, dict(_entry(r), family=r.family, **({"label_map": label_map} if label_map else {})))

    def run_one(spec: ModelSpec) -> None:
        keys: dict[int, str] = {}
        pending = []
        for i, text in enumerate(texts):
            if not text.strip():
                store(failed(spec, task, (i, text), ErrorInfo(
                    "EmptyInput", f"input {i} is empty or only whitespace", "give the model some text")), None)
                continue
            keys[i] = response_key(spec, task, text, params)
            hit = rc.get(keys[i])
            if hit is not None:
                store(_from_entry(hit, spec, i, text), None, hit.get("label_map"))
            else:
                pending.append((i, text))
        if not pending:
            return
        ctx = RunContext(task, dict(params), settings, on_partial=on_partial,
                         emit=lambda r: store(_mark(r, rc), keys.get(r.input_index),
                                              ctx.extras.get("label_maps", {}).get(spec.name)))
        try:
            get_backend(spec.backend).run(spec, pending, ctx)
        except Exception as exc:  # the model failed as a whole: every input it owed gets the error
            for item in pending:
                store(failed(spec, task, item, exc), None)
        for item in pending:  # no result is ever silently dropped
            if (spec.name, item[0]) not in results:
                store(failed(spec, task, item, ErrorInfo("NoResult", "the backend returned no result for this input",
                                                         "this is a bug in the backend; please report it")), None)

    started = time.time()
    try:
        with ThreadPoolExecutor(max_workers=len(specs), thread_name_prefix="oc-model") as pool:
            list(pool.map(run_one, specs))
    finally:
        bar.close()
    manifest["started_at"] = datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds")
    manifest["wall_s"] = round(time.time() - started, 4)
    if label_maps:
        manifest["label_maps"] = {s.name: label_maps[s.name] for s in specs if s.name in label_maps}
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
    for rec in manifest.get("model_specs", []):
        try:
            get_model(rec["name"])
        except KeyError:
            register(rec["name"], tasks=rec["tasks"], model=rec["ref"], base_url=rec.get("base_url"),
                     revision=rec.get("revision"), family=rec.get("family"), arch=rec.get("arch") or None)
    params = {**manifest.get("params", {}), **overrides}
    return compare(manifest["task"], manifest["models"], manifest["inputs"], **params)


__all__ = ["compare", "rerun", "new_result"]
