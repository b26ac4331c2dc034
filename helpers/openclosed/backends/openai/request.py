"""The one place chat requests are built: the model's capabilities
(:func:`openclosed.catalog.vendors.capabilities`) decide which parameters are
sent. A parameter the endpoint does not honour is not sent as if it worked:
the request leaves it out and the result's notes say so ("seed: not
supported by anthropic (not sent)"); structured output falls back to a strict
prompt and a parser where the vendor has none, marked as a fallback."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ...catalog.vendors import Capabilities, capabilities, vendor_of
from ...core.errors import BadParameterError

STRICT_LABEL_PROMPT = "Answer with exactly one word: negative, neutral or positive. No other text."


@dataclass
class ChatRequest:
    """The keyword arguments for ``chat.completions.create`` and what was left out or changed."""

    kwargs: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    structured: str = "none"  # json_schema | json_object | prompt (strict prompt + parser) | none (not asked)
    logprobs: bool = False
    caps: Capabilities | None = None
    honoured: dict[str, str] = field(default_factory=dict)

    def sent(self) -> dict[str, Any]:
        """The parameters that went out, besides the model and the messages (structured output by its kind)."""
        out: dict[str, Any] = {}
        for k, v in self.kwargs.items():
            if k in ("model", "messages"):
                continue
            if k == "response_format":
                v = v.get("type")
            elif k == "stream_options":
                v = ", ".join(o for o, on in v.items() if on)
            elif k == "extra_body":
                out.update(v)
                continue
            out[k] = v
        if self.structured == "prompt":
            out["structured output"] = "strict prompt + parser (fallback)"
        return out

    def record(self) -> str:
        """What the result keeps of its request (``Result.generation``): what was sent, what was left out and
        why, and what the answer showed was honoured."""
        return json.dumps({"sent": self.sent(), "not sent": [n for n in self.notes if "(not sent)" in n],
                           "honoured": dict(self.honoured)}, default=str)


def who(spec) -> str:
    """How notes name the endpoint: the vendor's id, or "this server"."""
    v = vendor_of(spec) if spec.family == "closed" else None
    return v.id if v is not None else "this server"


def chat_request(spec, messages: list[dict[str, str]], *, max_tokens: int, temperature: float | None = None,
                 top_p: float | None = None, seed: int | None = None, stop: list[str] | None = None,
                 stream: bool = False, schema: dict[str, Any] | None = None, top_logprobs: int | None = None,
                 caps: Capabilities | None = None) -> ChatRequest:
    """Build one request for ``spec`` from what its endpoint honours."""
    caps = caps or capabilities(spec)
    by = who(spec)
    kw: dict[str, Any] = dict(model=spec.ref, messages=list(messages), **{caps.max_tokens_param: int(max_tokens)})
    req = ChatRequest(kw, caps=caps)
    sampling = False
    if temperature is not None:
        lo, hi = caps.temperature
        if not lo <= float(temperature) <= hi:
            raise BadParameterError(f"temperature={temperature:g} is outside {by}'s range {lo:g}-{hi:g}",
                                    f"pass a temperature between {lo:g} and {hi:g} for {spec.name!r}")
        kw["temperature"] = float(temperature)
        sampling = True
    if top_p is not None:
        kw["top_p"] = float(top_p)
        sampling = True
    if seed is not None:
        if caps.seed:
            kw["seed"] = int(seed)
        else:
            req.notes.append(f"seed: not supported by {by} (not sent)")
    if stop:
        kw["stop"] = list(stop)
    if stream:
        kw["stream"] = True
        if caps.stream_usage:
            kw["stream_options"] = {"include_usage": True}
        else:
            req.notes.append(f"usage in streams: not supported by {by} (not sent)")
    if top_logprobs is not None:
        if caps.logprobs:
            kw["logprobs"], kw["top_logprobs"] = True, int(top_logprobs)
            req.logprobs = sampling = True
        else:
            req.notes.append(f"logprobs: not supported by {by} (not sent)")
    if schema is not None:
        if caps.structured == "json_schema":
            kw["response_format"] = {"type": "json_schema", "json_schema": schema}
            req.structured = "json_schema"
        elif caps.structured == "json_object":
            kw["response_format"] = {"type": "json_object"}
            kw["messages"] = _with_instruction(kw["messages"], "Answer in json with the keys: "
                                               + ", ".join(schema["schema"]["properties"]))
            req.structured = "json_object"
            req.notes.append(f"structured output: {by} takes only json_object (no schema); the keys were asked "
                             "for in the prompt")
        else:
            plain_prompt(req, by)
    if sampling and caps.sampling_extra:
        kw["extra_body"] = dict(caps.sampling_extra)
        req.notes.append("sent " + ", ".join(f"{k}={v}" for k, v in caps.sampling_extra.items())
                         + " (this model takes temperature/top_p/logprobs only then)")
    return req


def plain_prompt(req: ChatRequest, by: str, why: str = "not supported") -> ChatRequest:
    """Ask for a label in words instead of JSON: a strict prompt, read by a parser (a marked fallback)."""
    req.kwargs.pop("response_format", None)
    req.kwargs["messages"] = _with_instruction(req.kwargs["messages"], STRICT_LABEL_PROMPT)
    req.structured = "prompt"
    req.notes.append(f"structured output (response_format): {why} by {by} (not sent); fallback: a strict prompt, "
                     "the first label word parsed")
    return req


def _with_instruction(messages: list[dict[str, str]], text: str) -> list[dict[str, str]]:
    out = [dict(m) for m in messages]
    out[-1]["content"] = f"{out[-1]['content']}\n\n{text}"
    return out


__all__ = ["STRICT_LABEL_PROMPT", "ChatRequest", "chat_request", "plain_prompt", "who"]
