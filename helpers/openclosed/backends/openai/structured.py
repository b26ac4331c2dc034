"""Sentiment from a chat model with structured output: a JSON schema that
allows only negative/neutral/positive, asked with the same zero-shot prompt
the open LLMs get, built by :func:`.request.chat_request` from what the
endpoint honours. Where the vendor has no structured output (Anthropic's
compatibility layer ignores ``response_format``), or a server refuses
``json_schema``, a strict prompt asks for one label word and a parser reads
it (noted on the result as a fallback)."""

from __future__ import annotations

import json
import threading
import weakref
import time
from typing import Any

from ...core.errors import OpenClosedError, SpendingCapError
from ...core.labels import LABELS, first_label, zero_shot_messages
from ...engine.context import Item, RunContext, error_info
from ...engine.results import ErrorInfo, Result
from .accounting import call_failed, done, malformed, price, read_usage, reserve_estimate, settle_cost
from .client import run_with_deadline
from .request import chat_request, plain_prompt, who

SENTIMENT_MAX_TOKENS = 40

SENTIMENT_SCHEMA: dict[str, Any] = {
    "name": "sentiment",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": list(LABELS)},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["label", "confidence"],
        "additionalProperties": False,
    },
}

_lock = threading.Lock()
# client -> models that refused response_format through it; weak keys, so a new client never inherits the
# refusals of a dead one that happened to have the same id
_no_json_schema: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
def sentiment(spec, client, item: Item, ctx: RunContext) -> Result:
    r = ctx.result(item)
    messages = zero_shot_messages(item[1])
    try:
        reserved = reserve_estimate(ctx, messages[0]["content"] + messages[1]["content"], SENTIMENT_MAX_TOKENS)
    except SpendingCapError as exc:
        r.error = error_info(exc)
        return r
    seed = ctx.params.get("seed")
    try:
        req = chat_request(spec, messages, max_tokens=SENTIMENT_MAX_TOKENS, temperature=0,
                           seed=int(seed) if seed is not None else None, schema=SENTIMENT_SCHEMA)
    except OpenClosedError as exc:
        r.error = error_info(exc)
        settle_cost(ctx, reserved, 0.0)
        return r
    if req.structured == "json_schema" and spec.ref in _no_json_schema.get(client, ()):
        plain_prompt(req, who(spec), "refused earlier in this session")
    r.started_at = time.time()
    t0 = time.perf_counter()
    deadline = float(ctx.settings.deadline_s)
    try:
        try:
            resp = run_with_deadline(lambda: client.chat.completions.create(**req.kwargs), deadline)
        except Exception as exc:
            if req.structured != "json_schema" or not _refuses_response_format(exc):
                raise
            with _lock:
                _no_json_schema.setdefault(client, set()).add(spec.ref)
            plain_prompt(req, who(spec), "refused (response_format)")
            resp = run_with_deadline(lambda: client.chat.completions.create(**req.kwargs),
                                      deadline - (time.perf_counter() - t0))
    except Exception as exc:
        r.notes.extend(req.notes)
        r.generation = req.record()
        return call_failed(r, t0, ctx, client, reserved, exc, "answer", deadline,
                            "raise oc.setup(deadline_s=...), or check that the server is not overloaded")
    r.notes.extend(req.notes)
    done(r, t0)
    try:
        choice = resp.choices[0]
        content = choice.message.content or ""
        r.finish_reason = choice.finish_reason
        r.answered_by = resp.model or spec.ref
        read_usage(r, resp.usage)
    except (AttributeError, IndexError, TypeError) as exc:
        return malformed(r, ctx, reserved, f"the response has no choices/message ({type(exc).__name__})")
    price(spec, r)
    settle_cost(ctx, reserved, r.cost_usd)
    r.output = content
    r.generation = req.record()
    declined = refused(choice)
    if declined:
        r.error = ErrorInfo("RefusalError", f"{who(spec)} declined to answer this input ({declined})",
                            "the vendor's policy or the model refused it (not retried); its text is kept as the "
                            "output: rephrase the input, or compare the other models on it")
        return r
    if req.structured == "prompt":
        label = first_label(content)
        if label is None:
            r.error = ErrorInfo("MalformedResponse", f"no sentiment label in the answer {content[:80]!r}",
                                "the model did not answer with negative/neutral/positive; try a larger model")
        else:
            r.output = label
        return r
    try:
        data = json.loads(content)
        label = str(data["label"]).strip().lower()
        if label not in LABELS:
            raise ValueError(f"label {data['label']!r} is not one of {', '.join(LABELS)}")
        conf = data.get("confidence")
        r.output = label
        r.confidence = min(1.0, max(0.0, float(conf))) if conf is not None else None
        req.honoured["response_format"] = "honoured (the requested JSON came back)"
    except (ValueError, KeyError, TypeError) as exc:
        # an endpoint whose support is only assumed (a self-hosted server) may ignore response_format and answer
        # in words; a vendor documented to honour it is not credited with a label it did not give as asked
        label = first_label(content) if not req.caps.documented else None
        req.honoured["response_format"] = "ignored (the answer was not the requested JSON)"
        if label is not None:
            r.output = label
            r.notes.append("the answer was not the requested JSON (this server ignores response_format?); "
                           "took the first label word")
        else:
            r.error = ErrorInfo("MalformedResponse",
                                f"the answer is not the requested JSON label ({exc}): {content[:80]!r}",
                                "the raw text is kept as the output; rerun, or use a model that supports "
                                "structured output")
    r.generation = req.record()
    return r


REFUSAL_FINISH = ("content_filter", "refusal")
"""Finish reasons that mean the vendor declined (OpenAI and Gemini: content_filter; Anthropic's stop reason
``refusal`` passed through)."""


def refused(choice: Any) -> str:
    """Why ``choice`` is a refusal ("" when it is not): its finish reason, or the message's ``refusal`` text."""
    text = getattr(getattr(choice, "message", None), "refusal", None)
    if text:
        return f"refusal: {str(text)[:120]}"
    reason = getattr(choice, "finish_reason", None)
    return f"finish_reason={reason}" if reason in REFUSAL_FINISH else ""


def _refuses_response_format(exc: Exception) -> bool:
    import openai

    if not isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)):
        return False
    text = f"{exc.message} {exc.body}".lower()
    return "response_format" in text or "json_schema" in text or "structured output" in text


