"""What every backend is handed and shares: the run context, the loaded
model, result construction, timing, peak-memory sampling and turning
exceptions into :class:`ErrorInfo`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..core.errors import OpenClosedError
from ..core.secrets import redact
from ..core.settings import Settings
from ..catalog.specs import ModelSpec
from .loaded import Loaded
from .pricing import local_cost
from .results import ErrorInfo, Result

Item = tuple[int, str]  # (input index, input text)


@dataclass
class RunContext:
    """Handed to ``backend.run`` for one model: the task, validated
    parameters, settings and callbacks. A backend sets ``label_map`` (its
    labels -> ours, for sentiment) before it emits results."""

    spec: ModelSpec
    task: str
    params: dict[str, Any]
    settings: Settings
    emit: Callable[[Result], None]
    on_partial: Callable[[str, int, str], None] | None = None  # (model, input index, text so far)
    loaded: Loaded | None = None
    label_map: dict[str, str] | None = None
    cancel: threading.Event | None = None  # set by a Stop button: end streams now, keep the partial text

    def result(self, item: Item) -> Result:
        """A Result for ``item`` pre-filled with who is answering (stand-ins labelled as such)."""
        r = new_result(self.spec, self.task, *item)
        if self.loaded is not None:
            r.random_weights = r.random_weights or self.loaded.random_weights
            r.stand_in = self.loaded.stand_in
            r.notes.extend(self.loaded.notes)
        return r

    @property
    def cancelled(self) -> bool:
        """True once the run's ``cancel`` event is set (the user pressed Stop)."""
        return self.cancel is not None and self.cancel.is_set()

    def partial(self, index: int, text: str, **stats: float | int | None) -> None:
        """Hand streamed text so far to the display callback (never raises);
        ``stats`` (``tokens``, ``ttft_s``, ``tokens_per_s``) ride along on a :class:`Partial`."""
        if self.on_partial is not None:
            try:
                self.on_partial(self.spec.name, index, Partial(text, **stats))
            except Exception:  # a display callback must never break a run
                pass


class Partial(str):
    """Streamed text so far (a ``str``), with live counters measured the
    same way for every family: ``tokens`` generated so far, ``ttft_s`` (call
    start to first token) and ``tokens_per_s`` (from the first token to now)."""

    tokens: int | None
    ttft_s: float | None
    tokens_per_s: float | None

    def __new__(cls, text: str, tokens: int | None = None, ttft_s: float | None = None,
                tokens_per_s: float | None = None) -> Partial:
        obj = super().__new__(cls, text)
        obj.tokens, obj.ttft_s, obj.tokens_per_s = tokens, ttft_s, tokens_per_s
        return obj


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


def stopped(r: Result, tokens: int) -> Result:
    """Mark ``r`` as stopped by the user (Stop pressed), its partial text kept."""
    r.finish_reason = "stopped"
    r.error = ErrorInfo("Stopped", f"stopped by the user after {tokens} tokens; the partial text is kept"
                        if tokens else "stopped by the user before this input started",
                        "press Run again for a whole answer")
    return r


_peak_blocks = 0  # peak_memory blocks running now in this process
_peak_lock = threading.Lock()


def _reset_peak_rss() -> bool:
    """Reset the kernel's record of this process's peak resident memory (Linux: VmHWM); False where that is not
    possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


@contextmanager
def peak_memory(device: str = "cpu") -> Iterator[dict[str, float]]:
    """Peak memory of the block in MB, in the yielded dict's ``mb`` once it
    ends: on CUDA the GPU memory torch allocated
    (``torch.cuda.max_memory_allocated``); elsewhere this process's peak
    resident memory, read from the operating system's own record (Linux,
    reset when the block starts: nothing runs beside the model), or where
    that is not possible or another block is running, sampled every 20 ms."""
    global _peak_blocks
    if device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()
        box = {"mb": 0.0}
        try:
            yield box
        finally:
            box["mb"] = torch.cuda.max_memory_allocated() / 2**20
        return
    with _peak_lock:
        _peak_blocks += 1
        alone = _peak_blocks == 1
    try:
        if alone and _reset_peak_rss() and _peak_rss_mb() is not None:
            box = {"mb": 0.0}
            try:
                yield box
            finally:
                box["mb"] = _peak_rss_mb() or 0.0
            return
        with _sampled_peak_rss() as box:
            yield box
    finally:
        with _peak_lock:
            _peak_blocks -= 1


@contextmanager
def _sampled_peak_rss() -> Iterator[dict[str, float]]:
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


def emit_batch(ctx: RunContext, items: list[Item], outputs: list[dict[str, Any]], started: float,
               ended: float, peak_mb: float | None, note: str | None = None) -> None:
    """Emit one Result per item of a batched local run; the batch time is
    shared equally and the note says so."""
    share = (ended - started) / max(1, len(items))
    cost, basis = local_cost(share, ctx.settings.local_usd_per_hour)
    for item, out in zip(items, outputs, strict=True):
        r = ctx.result(item)
        for k, v in out.items():
            if k == "notes":
                r.notes.extend(v)
            else:
                setattr(r, k, v)
        r.started_at, r.ended_at, r.latency_s = started, ended, share
        r.cost_usd, r.cost_basis, r.peak_memory_mb = cost, basis, peak_mb
        if len(items) > 1:
            r.notes.append(f"batched: {len(items)} inputs in {ended - started:.3g} s, latency is the per-input share")
        if note:
            r.notes.append(note)
        ctx.emit(r)


