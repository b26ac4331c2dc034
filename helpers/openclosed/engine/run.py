"""One comparison, run: the heart of :func:`openclosed.compare` once the
session has checked its arguments (inputs, models, parameters, local-only
rules). Read :class:`ComparisonRun` top-down:

1. :meth:`~ComparisonRun.execute` - run every model, return the Comparison;
2. :meth:`~ComparisonRun._run_models` - API models in a thread pool, local
   models one after another on the calling thread;
3. :meth:`~ComparisonRun._run_model` - one model: answers from the response
   cache first (:meth:`~ComparisonRun._answer_from_cache`), the rest through
   its backend (:meth:`~ComparisonRun._run_backend`); for an API model, a
   record of where its inputs went and how many requests that took;
4. :meth:`~ComparisonRun._collect` - every result lands here, once per
   (model, input); fresh answers go into the response cache;
5. :meth:`~ComparisonRun._comparison` - the results in model and input order,
   with the manifest (:func:`~openclosed.engine.manifest.build_manifest`).

Why the threads are where they are: a local model's ``generate`` called from
a worker thread ran at 0.35-0.64x the speed of the same call on the calling
thread (SmolLM2-135M on a 2-core CPU and on an H200), so in-process models
run on the calling thread, one after another (they stream through a callback,
not a thread). API calls wait on the network, so each API model runs in its
own thread (its inputs fan out over a bounded pool inside its backend) while
the local models compute: an open + closed comparison takes about as long as
the slower of the two. A model that fails becomes error results in its own
column; the others are unaffected.

The engine sits below the backends and the session, so it imports neither:
the session hands in each model's backend module and the function that loads
a local model through the model cache (``oc.load_model``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from ..catalog.specs import ModelSpec
from ..core import netguard
from ..core.settings import Settings
from .context import Item, RunContext, failed
from .loaded import Loaded
from .manifest import build_manifest
from .responsecache import ResponseCache, response_key
from .results import Comparison, ErrorInfo, Result

Backend = Any
"""A module of ``openclosed.backends``: ``LOCAL``, ``load(spec, settings)``, ``run(loaded, items, ctx)``, and for
API backends ``endpoint(spec)`` and optionally ``requests_sent(spec)``."""


class ComparisonRun:
    """Runs checked ``texts`` through ``specs`` for ``task`` and builds the
    :class:`~openclosed.engine.results.Comparison`.

    ``params``: the task's validated parameters. ``cache``: the response
    cache in this call's mode. ``backends``: model name -> backend module.
    ``load_local(spec)``: loads a local model once per kernel (through the
    model cache). ``on_partial``, ``on_loaded``, ``on_result``, ``cancel``,
    ``progress``: as in :func:`openclosed.compare`. Use once: ``ComparisonRun(...).execute()``.
    """

    def __init__(self, task: str, specs: list[ModelSpec], texts: list[str], params: dict[str, Any],
                 settings: Settings, cache: ResponseCache, *, backends: dict[str, Backend],
                 load_local: Callable[[ModelSpec], Loaded], on_partial: Callable[[str, int, str], None] | None = None,
                 cancel: threading.Event | None = None, progress: bool = True,
                 on_loaded: Callable[[str, float], None] | None = None,
                 on_result: Callable[[Result], None] | None = None) -> None:
        self.task, self.specs, self.texts, self.params = task, specs, texts, params
        self.settings, self.cache = settings, cache
        self.backends, self.load_local = backends, load_local
        self.on_partial, self.cancel, self.progress = on_partial, cancel, progress
        self.on_loaded, self.on_result = on_loaded, on_result
        # Filled in as answers arrive, from the calling thread and the API threads: written under _lock.
        self.results: dict[tuple[str, int], Result] = {}
        self.label_maps: dict[str, dict[str, str]] = {}  # sentiment: each model's labels -> ours (cached ones too)
        self.endpoints: dict[str, dict[str, Any]] = {}  # API models: where requests went, and how many
        self.loaded_as: dict[str, dict[str, Any]] = {}  # local models: the folder, dtype and device that ran
        self._lock = threading.Lock()
        self._bar: Any = None

    def is_local(self, spec: ModelSpec) -> bool:
        """True when ``spec``'s weights run in this process (False: an API call)."""
        return bool(self.backends[spec.name].LOCAL)

    # ------------------------------------------------------------ 1. the run
    def execute(self) -> Comparison:
        """Run every model on every input and return the Comparison (never
        raises for a model's failure: it becomes that model's error results)."""
        from tqdm.auto import tqdm

        created = datetime.now(timezone.utc)
        total = len(self.specs) * len(self.texts)
        self._bar = tqdm(total=total, desc=f"{self.task}: {len(self.specs)} models x {len(self.texts)} inputs",
                         disable=not self.progress or total < 2, leave=False)
        started = time.time()
        try:
            self._run_models()
        finally:
            self._bar.close()
        return self._comparison(created, started, time.time() - started)

    # ------------------------------------------------------------ 2. where each model runs
    def _run_models(self) -> None:
        """API models in threads, all at once (network-bound); local models
        on this thread, one after another (compute-bound: a worker thread
        slows them down, see the module docstring)."""
        api = [s for s in self.specs if not self.is_local(s)]
        with ThreadPoolExecutor(max_workers=max(1, len(api)), thread_name_prefix="oc-api") as pool:
            futures = [pool.submit(self._run_model, s) for s in api]
            for spec in self.specs:
                if self.is_local(spec):
                    self._run_model(spec)
            for f in futures:
                f.result()

    # ------------------------------------------------------------ 3. one model
    def _run_model(self, spec: ModelSpec) -> None:
        """``spec`` on every input: the response cache first, then its backend for the rest."""
        with netguard.attribute(spec.name):  # a connection refused by oc.setup(local_only=True) names the model
            backend = self.backends[spec.name]
            endpoint = backend.endpoint(spec) if hasattr(backend, "endpoint") else None
            pending, keys = self._answer_from_cache(spec, endpoint)
            if endpoint:  # where did the data go: filled in as the requests are sent
                sent_before = backend.requests_sent(spec) if hasattr(backend, "requests_sent") else None
                self._open_endpoint_record(spec, endpoint, pending)
            if not pending:
                return
            try:
                self._run_backend(spec, backend, pending, keys, endpoint)
            finally:
                if endpoint:
                    self._close_endpoint_record(spec, backend, sent_before)

    def _answer_from_cache(self, spec: ModelSpec, endpoint: str | None) -> tuple[list[Item], dict[int, str]]:
        """Collect the cached answers (and refuse empty inputs); returns the
        inputs still to run and every input's response-cache key."""
        keys: dict[int, str] = {}
        pending: list[Item] = []
        for i, text in enumerate(self.texts):
            if not text.strip():
                self._collect(failed(spec, self.task, (i, text), ErrorInfo(
                    "EmptyInput", f"input {i} is empty or only whitespace", "give the model some text")))
                continue
            keys[i] = response_key(spec, self.task, text, self.params, endpoint)
            hit = self.cache.get(keys[i])
            if hit is not None:
                self._collect(Result.from_cache_entry(hit, model=spec.name, input_index=i, input=text),
                              label_map=hit.get("label_map"))
            else:
                pending.append((i, text))
        return pending, keys

    def _run_backend(self, spec: ModelSpec, backend: Backend, pending: list[Item], keys: dict[int, str],
                     endpoint: str | None) -> None:
        """Load ``spec`` and hand it ``pending``; a model that fails as a whole
        gives every input it owed the error, and no input is ever dropped."""
        ctx = RunContext(spec, self.task, dict(self.params), self.settings, on_partial=self.on_partial,
                         cancel=self.cancel,
                         emit=lambda r: self._collect(self._mark(r), key=keys.get(r.input_index),
                                                      label_map=ctx.label_map, endpoint=endpoint))
        try:
            loading = time.perf_counter()
            ctx.loaded = self.load_local(spec) if backend.LOCAL else backend.load(spec, self.settings)
            _tell(self.on_loaded, spec.name, time.perf_counter() - loading)
            if backend.LOCAL:
                self.loaded_as[spec.name] = _how_loaded(ctx.loaded)
            backend.run(ctx.loaded, pending, ctx)
        except Exception as exc:  # the model failed as a whole: every input it owed gets the error
            for item in pending:
                self._collect(failed(spec, self.task, item, exc))
        for item in pending:  # no result is ever silently dropped
            if (spec.name, item[0]) not in self.results:
                self._collect(failed(spec, self.task, item, ErrorInfo(
                    "NoResult", "the backend returned no result for this input",
                    "this is a bug in the backend; please report it")))

    def _open_endpoint_record(self, spec: ModelSpec, endpoint: str, pending: list[Item]) -> None:
        with self._lock:
            self.endpoints[spec.name] = {"endpoint": endpoint, "inputs sent": len(pending),
                                         "answered from the cache": len(self.texts) - len(pending),
                                         "requests": 0, "input tokens": 0, "output tokens": 0}

    def _close_endpoint_record(self, spec: ModelSpec, backend: Backend, sent_before: int | None) -> None:
        """Requests actually sent (retries included) and the tokens of the fresh answers."""
        with self._lock:
            fresh = [r for (m, _), r in self.results.items() if m == spec.name and r.cache in ("miss", "off")]
            self.endpoints[spec.name].update({
                "requests": None if sent_before is None else backend.requests_sent(spec) - sent_before,
                "input tokens": sum(r.input_tokens or 0 for r in fresh),
                "output tokens": sum(r.output_tokens or 0 for r in fresh)})

    # ------------------------------------------------------------ 4. collecting
    def _collect(self, r: Result, *, key: str | None = None, label_map: dict[str, str] | None = None,
                 endpoint: str | None = None) -> None:
        """Keep ``r`` (the first result per (model, input) wins) and store a
        fresh, successful answer in the response cache under ``key``."""
        with self._lock:
            if (r.model, r.input_index) in self.results:
                return
            self.results[(r.model, r.input_index)] = r
            if label_map:
                self.label_maps.setdefault(r.model, dict(label_map))
            self._bar.update(1)
        if key and r.ok and r.cache == "miss":
            self.cache.put(key, r.to_cache_entry(endpoint=endpoint, label_map=label_map))
        _tell(self.on_result, r)

    def _mark(self, r: Result) -> Result:
        if self.cache.mode == "off":
            r.cache = "off"
        return r

    # ------------------------------------------------------------ 5. the Comparison
    def _comparison(self, created: datetime, started: float, wall_s: float) -> Comparison:
        names = [s.name for s in self.specs]
        ordered = [self.results[(name, i)] for name in names for i in range(len(self.texts))]
        manifest = build_manifest(
            self.task, self.specs, self.texts, self.params, self.settings, response_cache=self.cache.mode,
            created_at=created, started_at=started, wall_s=wall_s,
            label_maps={n: self.label_maps[n] for n in names if n in self.label_maps},
            endpoints=self.endpoints, loaded=self.loaded_as, results=ordered)
        return Comparison(self.task, names, self.texts, ordered, manifest)


def _tell(callback: Callable[..., None] | None, *args: Any) -> None:
    """Hand ``args`` to a display callback; a callback's failure never breaks a run."""
    if callback is not None:
        try:
            callback(*args)
        except Exception:
            pass


def _how_loaded(loaded: Loaded) -> dict[str, Any]:
    """What the manifest says about a local model that ran: folder, dtype, device, random weights or a stand-in."""
    return {"folder": loaded.folder, "dtype": loaded.dtype, "device": loaded.device,
            "random_weights": loaded.random_weights, "stand_in": loaded.stand_in, "notes": list(loaded.notes)}


__all__ = ["ComparisonRun"]
