"""One meter for every streamed answer. (Introduced in ``02_text_generation.ipynb``.)

A streaming backend only tells the meter what arrived (the text so far and
how many tokens); the meter keeps the books the same way for every family:

* time to first token - from the call's start to the first generated token;
* tokens/s - from the first token to the last (``(tokens - 1) / span``);
* the partial text and live counters handed to the display
  (:meth:`RunContext.partial`), at most every ``push_every_s`` seconds;
* Stop (``ctx.cancel``) and the wall-clock deadline (``settings.deadline_s``),
  read with :meth:`StreamMeter.halt` between tokens;
* the timing fields of the final :class:`Result`, and the error that says
  why an answer ended early with its partial text kept.

Backends that feed it: ``transformers`` (one meter per row of a batch),
``openai`` (any OpenAI-compatible stream) and ``llamacpp``.
"""

from __future__ import annotations

import time

from ..core.errors import DeadlineError
from .context import Item, RunContext, error_info, stopped
from .results import Result

STOPPED, DEADLINE = "stopped", "deadline"


class StreamMeter:
    """The books of one streamed answer for input ``item`` of ``ctx``.

    ``t0``/``started_at``: the call's start (perf_counter / epoch seconds),
    now unless given (rows of one batch share theirs). ``push_every_s``: how
    often partial text goes to the display (0: on every update)."""

    def __init__(self, ctx: RunContext, item: Item, *, t0: float | None = None, started_at: float | None = None,
                 push_every_s: float = 0.0) -> None:
        self.ctx, self.index = ctx, item[0]
        self.t0 = time.perf_counter() if t0 is None else t0
        self.started_at = time.time() if started_at is None else started_at
        self.push_every_s = push_every_s
        self.text = ""
        self.tokens = 0
        self.first_at: float | None = None  # perf_counter of the first token
        self.last_at: float | None = None  # perf_counter of the latest token
        self.halted: str | None = None  # STOPPED or DEADLINE once halt() saw either
        self._pushed_at = float("-inf")

    # ------------------------------------------------------------ fed by the backend
    def update(self, text: str, tokens: int, *, first_at: float | None = None, last_at: float | None = None,
               force: bool = False) -> None:
        """The answer so far: ``text`` and ``tokens`` generated (``first_at`` /
        ``last_at``: when the first and latest token came, default now), then
        the display is told (at most every ``push_every_s`` unless ``force``)."""
        now = time.perf_counter()
        self.text = text
        if tokens > self.tokens or (tokens and self.last_at is None):
            self.last_at = last_at if last_at is not None else now
        self.tokens = tokens
        if tokens and self.first_at is None:
            self.first_at = first_at if first_at is not None else self.last_at
        if force or now - self._pushed_at >= self.push_every_s:
            self._pushed_at = now
            self.push(now)

    def push(self, now: float | None = None) -> None:
        """Hand the text so far and its live counters to the display."""
        if self.ctx.on_partial is None or not self.tokens:
            return
        now = time.perf_counter() if now is None else now
        self.ctx.partial(self.index, self.text, tokens=self.tokens, ttft_s=self.ttft_s,
                         tokens_per_s=self._rate(now))

    def halt(self) -> str | None:
        """``"stopped"`` once Stop is pressed, ``"deadline"`` once the call has run past the deadline, else None
        (and the first reason seen sticks)."""
        if self.halted is None:
            if self.ctx.cancelled:
                self.halted = STOPPED
            elif time.perf_counter() - self.t0 > self.deadline_s:
                self.halted = DEADLINE
        return self.halted

    # ------------------------------------------------------------ read
    @property
    def deadline_s(self) -> float:
        return float(self.ctx.settings.deadline_s)

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_at is None else self.first_at - self.t0

    def _rate(self, until: float | None) -> float | None:
        if self.first_at is None or until is None or self.tokens < 2 or until <= self.first_at:
            return None
        return (self.tokens - 1) / (until - self.first_at)

    # ------------------------------------------------------------ the result
    def finish(self, r: Result, *, tokens: int | None = None, end: float | None = None) -> Result:
        """Fill ``r``'s output and timing: the text, ``tokens`` (default: as
        counted), latency to ``end`` (default: the last token, else now), time
        to first token and tokens/s; a halted answer gets its reason (Stop:
        ``stopped``; deadline: a retryable :class:`DeadlineError`)."""
        now = time.perf_counter()
        if tokens is not None:
            self.tokens = tokens
        end = end if end is not None else now
        r.output = self.text
        r.output_tokens = self.tokens if self.tokens or tokens is not None else r.output_tokens
        r.started_at = self.started_at
        r.latency_s = end - self.t0
        r.ended_at = self.started_at + r.latency_s
        r.ttft_s = self.ttft_s if self.tokens else None
        r.tokens_per_s = self._rate(end)
        if self.halted == STOPPED:
            stopped(r, self.tokens)
        elif self.halted == DEADLINE:
            r.finish_reason = DEADLINE
            r.error = error_info(DeadlineError(
                f"the answer passed the {self.deadline_s:g} s deadline after {self.tokens} tokens; the partial "
                "text is kept", "lower max_tokens, or raise oc.setup(deadline_s=...)"))
            r.error.retryable = True
        return r


__all__ = ["DEADLINE", "STOPPED", "StreamMeter"]
