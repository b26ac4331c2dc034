"""Tokens, dollars and the spending cap for API calls, and filling in the
result of a call that failed or came back unreadable."""

from __future__ import annotations

import time
from typing import Any

from ...core.errors import DeadlineError
from ...engine.context import RunContext, error_info
from ...engine.pricing import api_cost, estimate_tokens, reserve, settle
from ...engine.results import ErrorInfo, Result
from .client import DeadlinePassed
from .errors import malformed_hint, map_error


def reserve_estimate(ctx: RunContext, text: str, out_tokens: int) -> float:
    """Count an estimate against the spending cap (closed models only); raises SpendingCapError."""
    spec = ctx.spec
    if spec.family != "closed":
        return 0.0
    est, _ = api_cost(spec.ref, spec.provider, estimate_tokens(text) + 40, out_tokens)
    est = float(est or 0.0)
    reserve(ctx.settings, est, f"{spec.name} on one input")
    return est


def settle_cost(ctx: RunContext, reserved: float, actual: float | None) -> None:
    if ctx.spec.family == "closed":
        settle(ctx.settings, reserved, actual)


def price(spec, r: Result) -> None:
    if r.input_tokens is None and r.output_tokens is None:
        r.cost_usd, r.cost_basis = None, "no token counts in the response"
        return
    cost, basis = api_cost(spec.ref, spec.provider, r.input_tokens or 0, r.output_tokens or 0)
    if spec.family != "closed" and cost is None:
        basis = f"self-hosted server at {spec.base_url}: no API price (its compute is not measured here)"
    r.cost_usd, r.cost_basis = cost, basis


def read_usage(r: Result, usage: Any) -> None:
    if usage is None:
        return
    inp = getattr(usage, "prompt_tokens", None)
    if inp is None:
        inp = getattr(usage, "input_tokens", None)
    out = getattr(usage, "completion_tokens", None)
    if out is None:
        out = getattr(usage, "output_tokens", None)
    r.input_tokens = int(inp) if inp is not None else r.input_tokens
    r.output_tokens = int(out) if out is not None else r.output_tokens


def call_failed(r: Result, t0: float, ctx: RunContext, client, reserved: float, exc: BaseException, what: str,
                 deadline: float, deadline_hint: str) -> Result:
    """Fill ``r`` for a request that raised: the deadline, or the client's error."""
    done(r, t0)
    if isinstance(exc, DeadlinePassed):
        r.error = error_info(DeadlineError(f"no {what} within the {deadline:g} s deadline", deadline_hint))
        r.error.retryable = True
        settle_cost(ctx, reserved, None)  # the request may still be billed: keep the estimate
    else:
        r.error = map_error(exc, ctx.spec, client)
        settle_cost(ctx, reserved, 0.0)
    return r


def malformed(r: Result, ctx: RunContext, reserved: float, message: str) -> Result:
    """Fill ``r`` for an answer that came back but cannot be read."""
    r.error = ErrorInfo("MalformedResponse", message, malformed_hint(ctx.spec))
    settle_cost(ctx, reserved, None)
    return r


def done(r: Result, t0: float) -> None:
    r.ended_at = time.time()
    r.latency_s = time.perf_counter() - t0


