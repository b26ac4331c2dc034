"""What every backend shares: the run context, result construction, timing,
peak-memory sampling and turning exceptions into :class:`ErrorInfo`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..errors import OpenClosedError
from ..results import ErrorInfo, Result
from ..settings import Settings, redact

Item = tuple[int, str]  # (input index, input text)


@dataclass
class RunContext:
    """Handed to ``backend.run``: the task, parameters and callbacks."""

    task: str
    params: dict[str, Any]
    settings: Settings
    emit: Callable[[Result], None]
    on_partial: Callable[[str, int, str], None] | None = None  # (model, input index, text so far)
    extras: dict[str, Any] = field(default_factory=dict)

    def partial(self, model: str, index: int, text: str) -> None:
        if self.on_partial is not None:
            try:
                self.on_partial(model, index, text)
            except Exception:  # a display callback must never break a run
                pass


def new_result(spec, task: str, index: int, text: str) -> Result:
    """A Result pre-filled with who is answering."""
    return Result(model=spec.name, task=task, input_index=index, input=text, family=spec.family,
                  backend=spec.backend, ref=spec.ref, revision=spec.revision, answered_by=spec.ref,
                  random_weights=spec.random_weights)


def error_info(exc: BaseException) -> ErrorInfo:
    """An exception as an ErrorInfo with a hint (never with a key in it)."""
    if isinstance(exc, OpenClosedError):
        return ErrorInfo(type(exc).__name__, exc.message, exc.hint)
    if isinstance(exc, MemoryError):
        return ErrorInfo("MemoryError", str(exc) or "out of memory",
                         "use a smaller model, fewer inputs, or oc.setup(model_budget_gb=...)")
    return ErrorInfo(type(exc).__name__, redact(exc) or type(exc).__name__,
                     "this is unexpected: see the message, and report it if it persists")


def failed(spec, task: str, item: Item, exc: BaseException | ErrorInfo) -> Result:
    r = new_result(spec, task, *item)
    r.error = exc if isinstance(exc, ErrorInfo) else error_info(exc)
    return r


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Samples this process's resident memory every 20 ms; yields a dict whose
    ``mb`` is the peak (MB) once the block ends."""
    import psutil

    proc = psutil.Process()
    box = {"mb": proc.memory_info().rss / 2**20}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            box["mb"] = max(box["mb"], proc.memory_info().rss / 2**20)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        yield box
    finally:
        stop.set()
        t.join()
        box["mb"] = max(box["mb"], proc.memory_info().rss / 2**20)


def emit_batch(spec, ctx: RunContext, items: list[Item], outputs: list[dict[str, Any]], started: float,
               ended: float, peak_mb: float | None, note: str | None = None) -> None:
    """Emit one Result per item of a batched local run; the batch time is
    shared equally and the note says so."""
    share = (ended - started) / max(1, len(items))
    from ..pricing import local_cost

    cost, basis = local_cost(share)
    for item, out in zip(items, outputs, strict=True):
        r = new_result(spec, ctx.task, *item)
        for k, v in out.items():
            setattr(r, k, v)
        r.started_at, r.ended_at, r.latency_s = started, ended, share
        r.cost_usd, r.cost_basis, r.peak_memory_mb = cost, basis, peak_mb
        if len(items) > 1:
            r.notes.append(f"batched: {len(items)} inputs in {ended - started:.3g} s, latency is the per-input share")
        if note:
            r.notes.append(note)
        ctx.emit(r)


def now() -> float:
    return time.time()
