"""Fake OpenAI-compatible endpoints for tests, on ``httpx2.MockTransport``.

The official ``openai`` 3.x client is built on httpx2, so respx and other
httpx mocks do not see its requests; instead a :class:`FakeAPI` hands the
client an ``httpx2.Client`` whose transport answers in-process (no socket is
ever opened) and counts every request it receives.

    fake = FakeAPI(sequence(error_response(429, headers={"Retry-After": "0.05"}), chat_response("hi")))
    register_fake("fake-closed", fake, task="text-generation")
    run = oc.compare("text-generation", ["fake-closed"], ["Hello"])
    assert fake.count == 2
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx2

FAKE_KEY = "sk-test-0123456789abcdef"  # recognisable: must never appear in any output
SERVED_MODEL = "gpt-6-luna-fake-snapshot"

Handler = Callable[[httpx2.Request], httpx2.Response]


# ------------------------------------------------------------------ responses
def chat_response(content: str, *, model: str = SERVED_MODEL, finish_reason: str = "stop",
                  usage: tuple[int, int] = (42, 7)) -> httpx2.Response:
    """A non-streamed chat completion."""
    return httpx2.Response(200, json={
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    })


def sentiment_response(label: str = "positive", confidence: float = 0.9, **kw: Any) -> httpx2.Response:
    """A structured-output sentiment answer."""
    return chat_response(json.dumps({"label": label, "confidence": confidence}), **kw)


def _chunk(model: str, delta: dict[str, Any] | None, finish: str | None = None,
           usage: tuple[int, int] | None = None) -> bytes:
    body: dict[str, Any] = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
                            "model": model,
                            "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    return f"data: {json.dumps(body)}\n\n".encode()


def sse_events(pieces: Iterable[str], *, model: str = SERVED_MODEL, finish_reason: str | None = "stop",
               usage: bool = True, delay: float = 0.0, cut_after: int | None = None,
               stop: threading.Event | None = None) -> Iterator[bytes]:
    """The SSE byte chunks of a streamed chat completion.

    ``delay`` sleeps before each piece (a trickling server); ``cut_after``
    ends the stream after that many pieces with no finish reason and no
    ``[DONE]`` (a dropped connection); ``stop`` ends a trickle early.
    """
    pieces = list(pieces)
    yield _chunk(model, {"role": "assistant", "content": ""})
    for i, piece in enumerate(pieces):
        if cut_after is not None and i >= cut_after:
            return
        if delay:
            time.sleep(delay)
        if stop is not None and stop.is_set():
            return
        yield _chunk(model, {"content": piece})
    if finish_reason is not None:
        yield _chunk(model, {}, finish=finish_reason)
    if usage:
        yield _chunk(model, None, usage=(42, len(pieces)))
    yield b"data: [DONE]\n\n"


def stream_response(pieces: Iterable[str] = ("Hello", " from", " the", " fake", "."), **kw: Any) -> httpx2.Response:
    """A streamed chat completion (``text/event-stream``), produced lazily."""
    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=sse_events(pieces, **kw))


def tiny_png(color: tuple[int, int, int] = (200, 30, 30), size: int = 8) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return buf.getvalue()


def image_response(png: bytes | None = None, *, usage: tuple[int, int] | None = (20, 1056)) -> httpx2.Response:
    body: dict[str, Any] = {"created": 1_700_000_000,
                            "data": [{"b64_json": base64.b64encode(png or tiny_png()).decode()}]}
    if usage:
        body["usage"] = {"input_tokens": usage[0], "output_tokens": usage[1], "total_tokens": sum(usage),
                         "input_tokens_details": {"text_tokens": usage[0], "image_tokens": 0}}
    return httpx2.Response(200, json=body)


def models_response(*ids: str) -> httpx2.Response:
    return httpx2.Response(200, json={"object": "list", "data": [
        {"id": i, "object": "model", "created": 0, "owned_by": "fake"} for i in ids]})


def error_response(status: int, message: str = "fake error", *, code: str | None = None,
                   type_: str | None = None, headers: dict[str, str] | None = None) -> httpx2.Response:
    """An OpenAI-style error body: ``{"error": {"message", "type", "code"}}``."""
    return httpx2.Response(status, headers=headers, json={
        "error": {"message": message, "type": type_ or "invalid_request_error", "param": None, "code": code}})


def not_json_response() -> httpx2.Response:
    """A 200 that claims JSON but is not (a broken proxy): surfaces as a bare JSONDecodeError."""
    return httpx2.Response(200, headers={"content-type": "application/json"},
                           content=b"<html><body>Gateway says hello</body></html>")


# ------------------------------------------------------------------ handlers
def sequence(*responses: httpx2.Response | Callable[[httpx2.Request], httpx2.Response]) -> Handler:
    """Answer with each response in turn, then repeat the last one.

    Items may be responses or handlers (called with the request); a response
    object is rebuilt for each use so a body can be read more than once.
    """
    items = list(responses)
    counter = itertools.count()
    lock = threading.Lock()

    def handler(request: httpx2.Request) -> httpx2.Response:
        with lock:
            i = min(next(counter), len(items) - 1)
        item = items[i]
        if callable(item) and not isinstance(item, httpx2.Response):
            return item(request)
        return _copy(item)

    return handler


def always(response: httpx2.Response | Handler) -> Handler:
    return sequence(response)


def _copy(resp: httpx2.Response) -> httpx2.Response:
    try:
        return httpx2.Response(resp.status_code, headers=resp.headers, content=resp.content)
    except httpx2.ResponseNotRead:
        return resp  # a lazy (streamed) body: only usable once


def smart(label: str = "positive", text: Iterable[str] = ("Hello", " from", " the", " fake", "."),
          model: str = SERVED_MODEL, delay: float = 0.0) -> Handler:
    """A well-behaved OpenAI-compatible endpoint: JSON sentiment for structured
    requests, a plain label otherwise, SSE for streams, images, a model list."""
    pieces = list(text)

    def handler(request: httpx2.Request) -> httpx2.Response:
        if delay:
            time.sleep(delay)
        path = request.url.path
        if path.endswith("/models"):
            return models_response(model)
        if path.endswith("/images/generations"):
            return image_response()
        body = json.loads(request.content or b"{}")
        if body.get("stream"):
            return stream_response(pieces, model=model)
        if body.get("response_format"):
            return sentiment_response(label, model=model)
        return chat_response(label, model=model)

    return handler


# ------------------------------------------------------------------ the fake
class FakeAPI:
    """An in-process OpenAI-compatible endpoint: ``client`` goes to
    ``oc.register(..., http_client=fake.client)``; ``requests`` records every
    request that reached the transport (retries included)."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler = handler or smart()
        self.requests: list[httpx2.Request] = []
        self._lock = threading.Lock()
        self.client = httpx2.Client(transport=httpx2.MockTransport(self._handle))

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        with self._lock:
            self.requests.append(request)
        return self.handler(request)

    @property
    def count(self) -> int:
        return len(self.requests)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.content]

    def close(self) -> None:
        self.client.close()


def register_fake(name: str, fake: FakeAPI, task: str = "sentiment", *, family: str = "closed",
                  model: str = "gpt-6-luna", base_url: str | None = None, **kw: Any):
    """Register ``fake`` as a model called ``name`` (a closed gpt-6-luna by
    default, so prices and the spending cap apply)."""
    import openclosed as oc

    if family == "closed":
        return oc.register(name, task=task, model=model, family="closed", provider="openai",
                           http_client=fake.client, replace_existing=True, **kw)
    return oc.register(name, task=task, model=model, base_url=base_url or "http://127.0.0.1:9/v1",
                       family=family, http_client=fake.client, replace_existing=True, **kw)


def use_key(monkeypatch, key: str = FAKE_KEY, **setup: Any):
    """Make ``key`` the session's OPENAI_API_KEY (from the environment, as a
    user would) and apply ``setup`` options; returns the settings."""
    import openclosed as oc
    from openclosed import get_settings

    monkeypatch.setenv("OPENAI_API_KEY", key)
    s = get_settings()
    opts = dict(profile="offline", cache_dir=s.cache_dir, responses_path=s.responses_dir, verbose=False)
    opts.update(setup)
    return oc.setup(**opts)


