"""A fake per closed vendor, answering in the shape that vendor's
OpenAI-compatible endpoint uses: the model id it reports, its error bodies
(OpenAI / Anthropic / Gemini / Mistral each wrap errors differently), its
rate-limit headers, and whether it honours ``response_format`` (Anthropic's
compatibility layer ignores it and answers in words). Built on
:class:`tests.openai_fakes.FakeAPI` (in-process, no socket)."""

from __future__ import annotations

import json
from typing import Any

import httpx2
from openai_fakes import FakeAPI, chat_response, stream_response

# the model id each vendor reports back (a dated snapshot where the vendor adds one); fakes, not real snapshots
REPORTED = {"openai": "gpt-6-luna-fake-snapshot", "anthropic": "claude-haiku-4-5-fake-snapshot",
            "google": "gemini-3.5-flash-lite", "mistral": "mistral-small-2603"}
CATALOG_NAME = {"openai": "gpt-6-luna", "anthropic": "claude-haiku-4-5", "google": "gemini-3.5-flash-lite",
                "mistral": "mistral-small-2603"}


def error_body(vendor: str, status: int, message: str) -> dict[str, Any] | list[Any]:
    """The error JSON each vendor's compatibility endpoint sends."""
    kind = {401: "authentication_error", 429: "rate_limit_error", 400: "invalid_request_error"}[status]
    if vendor == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    if vendor == "google":
        code = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 400: "INVALID_ARGUMENT"}[status]
        return [{"error": {"code": status, "message": message, "status": code}}]
    if vendor == "mistral":
        return {"object": "error", "message": message, "type": kind, "param": None, "code": str(status)}
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def vendor_error(vendor: str, status: int, message: str = "fake error", retry_after: str | None = None):
    headers = {"retry-after": retry_after} if retry_after is not None else None
    return httpx2.Response(status, headers=headers, json=error_body(vendor, status, message))


def vendor_handler(vendor: str, *, label: str = "positive", stream_usage: bool = True,
                   refusal: bool = False):
    """A well-behaved endpoint of ``vendor``: structured output where the vendor
    honours it, words where it does not; SSE streams with or without usage."""
    model = REPORTED[vendor]

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content or b"{}")
        if refusal:
            why = "content_filter" if vendor != "anthropic" else "refusal"
            if body.get("stream"):
                return stream_response(("I can't",), model=model, finish_reason=why)
            return chat_response("I can't help with that.", model=model, finish_reason=why)
        if body.get("stream"):
            return stream_response(("Hello", " from", " ", vendor), model=model,
                                   usage=stream_usage and "stream_options" in body)
        if body.get("response_format") and vendor != "anthropic":
            return chat_response(json.dumps({"label": label, "confidence": 0.9}), model=model)
        return chat_response(label.capitalize() + ".", model=model)  # Anthropic: response_format is ignored

    return handler


def register_vendor_fake(vendor: str, fake: FakeAPI, name: str | None = None):
    """The catalog's model of ``vendor`` again, its requests going to ``fake``."""
    from dataclasses import replace

    import openclosed as oc
    from openclosed.catalog.registry import add_spec

    spec = oc.get_model(CATALOG_NAME[vendor])
    return add_spec(replace(spec, name=name or f"fake-{vendor}", extra={"http_client": fake.client}),
                    replace_existing=True)
