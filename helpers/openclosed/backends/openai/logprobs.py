"""Token log-probabilities from an OpenAI-compatible chat API: one
non-streamed chat completion with ``logprobs=True, top_logprobs=k``, for
looking inside a closed (or served) model the way we look inside an open
one. Counted against the spending cap like any other call; the wall-clock
deadline applies; failures come back as an :class:`ErrorInfo` with a hint,
never with a key."""

from __future__ import annotations

import math

from ...core.errors import DeadlineError, OpenClosedError, SpendingCapError
from ...core.settings import Settings
from ...engine.context import RunContext, error_info
from ...engine.inside import TokenStep, TokenTrace
from ...engine.pricing import api_cost
from .accounting import reserve_estimate, settle_cost
from .client import DeadlinePassed, run_with_deadline
from .errors import map_error
from .request import chat_request, who

MAX_TOP_LOGPROBS = 20  # the API's limit


def _prob(logprob: float | None) -> float | None:
    return math.exp(logprob) if logprob is not None else None


def chat_logprobs(spec, client, messages: list[dict[str, str]], settings: Settings, *, max_tokens: int = 24,
                  temperature: float | None = 0.0, top_p: float | None = None, seed: int | None = 0,
                  top: int = 5) -> TokenTrace:
    """Ask ``spec``'s endpoint for an answer with the log-probability of each
    generated token and its ``top`` alternatives, as a :class:`TokenTrace`."""
    prompt = messages[-1]["content"]
    trace = TokenTrace(spec.name, spec.family, prompt, answered_by=spec.ref,
                       settings={"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p, "seed": seed,
                                 "top_logprobs": top},
                       source=f"logprobs returned by the API (chat completions, top_logprobs={top})")
    ctx = RunContext(spec, "text-generation", dict(trace.settings), settings, emit=lambda _r: None)
    try:
        reserved = reserve_estimate(ctx, " ".join(m["content"] for m in messages), max_tokens)
    except SpendingCapError as exc:
        trace.error = error_info(exc)
        return trace
    try:
        req = chat_request(spec, messages, max_tokens=int(max_tokens), temperature=temperature, top_p=top_p,
                           seed=seed, top_logprobs=max(0, min(MAX_TOP_LOGPROBS, int(top))))
    except OpenClosedError as exc:
        trace.error = error_info(exc)
        settle_cost(ctx, reserved, 0.0)
        return trace
    trace.notes.extend(req.notes)
    if not req.logprobs:  # nothing to look at: no request is sent (and none paid for)
        settle_cost(ctx, reserved, 0.0)
        trace.error = error_info(OpenClosedError(
            f"logprobs: not supported by {who(spec)} (not sent); no request was sent",
            "token probabilities come from OpenAI's chat models, vLLM and llama.cpp servers; compare those"))
        return trace
    kwargs = req.kwargs
    deadline = float(settings.deadline_s)
    try:
        resp = run_with_deadline(lambda: client.chat.completions.create(**kwargs), deadline)
    except DeadlinePassed:
        trace.error = error_info(DeadlineError(f"no answer within the {deadline:g} s deadline",
                                               "rerun later, or raise oc.setup(deadline_s=...)"))
        settle_cost(ctx, reserved, None)
        return trace
    except Exception as exc:  # noqa: BLE001 - every failure becomes an ErrorInfo with a hint
        trace.error = map_error(exc, spec, client)
        settle_cost(ctx, reserved, 0.0)
        return trace
    trace.answered_by = getattr(resp, "model", None) or spec.ref
    fingerprint = getattr(resp, "system_fingerprint", None)
    if fingerprint:
        trace.notes.append(f"system fingerprint {fingerprint}")
    usage = getattr(resp, "usage", None)
    cost = None
    if usage is not None:
        cost, _basis = api_cost(spec.ref, spec.provider, int(getattr(usage, "prompt_tokens", 0) or 0),
                                int(getattr(usage, "completion_tokens", 0) or 0))
        if cost is not None:
            trace.notes.append(f"${cost:.6f}")
    settle_cost(ctx, reserved, cost)
    choice = resp.choices[0] if resp.choices else None
    content = getattr(getattr(choice, "logprobs", None), "content", None) if choice is not None else None
    if not content:
        text = getattr(getattr(choice, "message", None), "content", None) if choice is not None else None
        where = f"the server at {spec.base_url}" if spec.base_url else "the API"
        trace.error = error_info(OpenClosedError(
            f"{where} answered{' (the text is shown, without probabilities)' if text else ''} but returned no logprobs",
            "this endpoint does not return token probabilities; OpenAI's chat models, vLLM and llama.cpp servers do"))
        if text:
            trace.steps = [TokenStep(text, None, None)]
        return trace
    for item in content:
        alts = [(alt.token, _prob(alt.logprob)) for alt in (getattr(item, "top_logprobs", None) or [])]
        trace.steps.append(TokenStep(item.token, None, _prob(item.logprob), alts[:top]))
    return trace


__all__ = ["MAX_TOP_LOGPROBS", "chat_logprobs"]
