"""Closed APIs (OpenAI, Azure OpenAI) and open models behind any
OpenAI-compatible server (vLLM, Ollama, TGI, ``transformers serve``), through
the official ``openai`` client. (Closed models: ``01_sentiment.ipynb``;
served models: ``02_text_generation.ipynb``.)

One module, one way of calling, for both families:

* ``sentiment``: a chat completion with structured output (a JSON schema that
  allows only negative/neutral/positive), asked with the same zero-shot
  prompt the open LLMs get. A server that refuses ``json_schema`` is asked
  again once in plain text and the first label word is taken (noted).
* ``text-generation``: always streamed, so time to first token and tokens/s
  are measured the same way as for local models. A wall-clock deadline is
  enforced here (the client's timeout is per read: a trickling stream would
  never time out) and a stream that ends without a finish reason is reported
  as cut, with the partial text kept.
* ``image-generation``: ``images.generate``, decoded to a PIL image.

Inputs fan out over a bounded pool: at most ``api_concurrency`` requests in
flight per endpoint, shared by every model and call on that endpoint. The
client does the retrying (408/409/429/5xx/connection errors, honouring
``Retry-After``, ``max_retries`` from the settings); 400/401/403/404 are never
retried. Every failure becomes an error Result with a hint; API keys never
appear in a result, a message or a manifest.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import queue
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import DeadlineError, MissingKeyError, SpendingCapError, StreamCutError
from ..labels import LABELS, map_label, zero_shot_messages
from ..results import ErrorInfo, Result
from ..settings import Secret
from .base import Item, RunContext, error_info, new_result
from .openai_errors import malformed_hint, map_error

DEFAULT_BASE_URL = "https://api.openai.com/v1"
SERVED_PLACEHOLDER_KEY = "not-needed"
SENTIMENT_MAX_TOKENS = 40
IMAGE_OUTPUT_TOKENS = 1056  # output tokens of one 1024x1024 medium-quality gpt-image-1 image (for estimates)

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
_clients: dict[tuple, Any] = {}
_semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_no_json_schema: set[tuple[int, str]] = set()  # (id of cached client, model) pairs that refused response_format


# ----------------------------------------------------------------- plumbing
class _Deadline(Exception):
    """Internal: the wall-clock deadline passed."""


def endpoint_of(spec) -> str:
    """The URL requests for ``spec`` go to (closed models: OPENAI_BASE_URL or OpenAI's)."""
    return (spec.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def _endpoint_semaphore(endpoint: str, limit: int) -> threading.BoundedSemaphore:
    limit = max(1, int(limit))
    with _lock:
        sem = _semaphores.get((endpoint, limit))
        if sem is None:
            sem = _semaphores[(endpoint, limit)] = threading.BoundedSemaphore(limit)
        return sem


def _api_key(spec, ctx: RunContext) -> Secret | str | None:
    """The key for ``spec``: a closed model's from the settings (or the
    environment); a served model's from ``api_key_env`` if given, else a
    placeholder string (not a Secret: it must not be redacted out of texts)."""
    name = spec.api_key_env or ("OPENAI_API_KEY" if spec.family == "closed" else None)
    if name:
        secret = ctx.settings.key(name)
        if secret is None and os.environ.get(name):
            secret = Secret(os.environ[name], "environment")
        if secret:
            return secret
    if spec.family == "closed":
        return None
    return SERVED_PLACEHOLDER_KEY


def _client(spec, secret: Secret | str, ctx: RunContext):
    """One ``openai.OpenAI`` per (endpoint, key, http client, retry/timeout settings)."""
    import httpx2
    import openai

    http_client = spec.extra.get("http_client")
    deadline = float(ctx.settings.deadline_s)
    key = secret.reveal() if isinstance(secret, Secret) else secret  # revealed only to build the client
    fingerprint = hashlib.sha256(key.encode()).hexdigest()[:16]
    ident = (endpoint_of(spec), fingerprint, id(http_client) if http_client is not None else None,
             int(ctx.settings.max_retries), deadline)
    with _lock:
        client = _clients.get(ident)
        if client is None:
            client = openai.OpenAI(
                api_key=key, base_url=spec.base_url, max_retries=int(ctx.settings.max_retries),
                # per read: never longer than the whole call may take
                timeout=httpx2.Timeout(min(deadline, 600.0), connect=min(10.0, deadline)),
                http_client=http_client,
            )
            _clients[ident] = client
        return client


def _run_with_deadline(fn, seconds: float):
    """``fn()`` in a helper thread; raise :class:`_Deadline` if it takes longer
    than ``seconds`` (the thread is abandoned; its own read timeout ends it)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            box["exc"] = exc
        finally:
            done.set()

    threading.Thread(target=work, daemon=True, name="oc-openai-call").start()
    if not done.wait(max(0.0, seconds)):
        raise _Deadline
    if "exc" in box:
        raise box["exc"]
    return box["value"]


# ------------------------------------------------------------------- entry
def run(spec, items: list[Item], ctx: RunContext) -> None:
    """Emit one Result per item; never raises for a per-input failure."""
    task = ctx.task
    if task not in ("sentiment", "text-generation", "image-generation"):
        for item in items:
            ctx.emit(_failed(spec, ctx, item, ErrorInfo("UnsupportedTask", f"the openai backend does not do {task!r}",
                                                        "pick a model that does this task (see oc.models())")))
        return
    secret = _api_key(spec, ctx)
    if secret is None:
        name = spec.api_key_env or "OPENAI_API_KEY"
        err = error_info(MissingKeyError(
            f"{spec.name!r} is a closed API model and no {name} was found; no request was sent",
            f"add {name}=sk-... to a .env file next to the notebooks (then oc.setup()), call oc.ask_for_key(), "
            "or replay an instructor's recorded answers with oc.import_cache(path)"))
        for item in items:
            ctx.emit(_failed(spec, ctx, item, dataclasses.replace(err)))
        return
    if task == "sentiment":
        ctx.extras.setdefault("label_maps", {})[spec.name] = {
            f"JSON schema label {lab!r} (plain-text fallback: first label word)": lab for lab in LABELS}
    client = _client(spec, secret, ctx)
    endpoint = endpoint_of(spec)
    sem = _endpoint_semaphore(endpoint, ctx.settings.api_concurrency)
    one = {"sentiment": _sentiment, "text-generation": _generate, "image-generation": _image}[task]

    def do(item: Item) -> None:
        with sem:
            try:
                r = one(spec, client, item, ctx)
            except Exception as exc:  # a bug here must still give this input a result
                r = _failed(spec, ctx, item, map_error(exc, spec, client))
        ctx.emit(r)

    workers = max(1, min(len(items), int(ctx.settings.api_concurrency)))
    if workers == 1:
        for item in items:
            do(item)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"oc-api-{spec.name}") as pool:
        list(pool.map(do, items))


def _failed(spec, ctx: RunContext, item: Item, err: ErrorInfo) -> Result:
    r = new_result(spec, ctx.task, *item)
    r.error = err
    return r


# ------------------------------------------------------------------ money
def _reserve(spec, ctx: RunContext, text: str, out_tokens: int) -> float:
    """Count an estimate against the spending cap (closed models only); raises SpendingCapError."""
    if spec.family != "closed":
        return 0.0
    from ..pricing import api_cost, estimate_tokens, reserve

    est, _ = api_cost(spec.ref, spec.provider, estimate_tokens(text) + 40, out_tokens)
    est = float(est or 0.0)
    reserve(est, f"{spec.name} on one input")
    return est


def _settle(spec, reserved: float, actual: float | None) -> None:
    if spec.family == "closed":
        from ..pricing import settle

        settle(reserved, actual)


def _price(spec, r: Result) -> None:
    from ..pricing import api_cost

    if r.input_tokens is None and r.output_tokens is None:
        r.cost_usd, r.cost_basis = None, "no token counts in the response"
        return
    cost, basis = api_cost(spec.ref, spec.provider, r.input_tokens or 0, r.output_tokens or 0)
    if spec.family != "closed" and cost is None:
        basis = f"self-hosted server at {spec.base_url}: no API price (its compute is not measured here)"
    r.cost_usd, r.cost_basis = cost, basis


def _usage(r: Result, usage: Any) -> None:
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


# -------------------------------------------------------------- sentiment
def _call_failed(r: Result, t0: float, spec, client, reserved: float, exc: BaseException, what: str,
                 deadline: float, deadline_hint: str) -> Result:
    """Fill ``r`` for a request that raised: the deadline, or the client's error."""
    _done(r, t0)
    if isinstance(exc, _Deadline):
        r.error = error_info(DeadlineError(f"no {what} within the {deadline:g} s deadline", deadline_hint))
        r.error.retryable = True
        _settle(spec, reserved, None)  # the request may still be billed: keep the estimate
    else:
        r.error = map_error(exc, spec, client)
        _settle(spec, reserved, 0.0)
    return r


def _malformed(r: Result, spec, reserved: float, message: str) -> Result:
    """Fill ``r`` for an answer that came back but cannot be read."""
    r.error = ErrorInfo("MalformedResponse", message, malformed_hint(spec))
    _settle(spec, reserved, None)
    return r


def _sentiment(spec, client, item: Item, ctx: RunContext) -> Result:
    r = new_result(spec, ctx.task, *item)
    messages = zero_shot_messages(item[1])
    try:
        reserved = _reserve(spec, ctx, messages[0]["content"] + messages[1]["content"], SENTIMENT_MAX_TOKENS)
    except SpendingCapError as exc:
        r.error = error_info(exc)
        return r
    base = dict(model=spec.ref, messages=messages, temperature=0, **_max_tokens(spec, SENTIMENT_MAX_TOKENS))
    if ctx.params.get("seed") is not None:
        base["seed"] = int(ctx.params["seed"])
    plain = (id(client), spec.ref) in _no_json_schema
    r.started_at = time.time()
    t0 = time.perf_counter()
    deadline = float(ctx.settings.deadline_s)
    try:
        if not plain:
            try:
                resp = _run_with_deadline(lambda: client.chat.completions.create(
                    **base, response_format={"type": "json_schema", "json_schema": SENTIMENT_SCHEMA}), deadline)
            except Exception as exc:
                if not _refuses_response_format(exc):
                    raise
                with _lock:
                    _no_json_schema.add((id(client), spec.ref))
                plain = True
        if plain:
            r.notes.append("this server refused structured output (response_format); "
                           "asked in plain text and took the first label word")
            resp = _run_with_deadline(lambda: client.chat.completions.create(**base),
                                      deadline - (time.perf_counter() - t0))
    except Exception as exc:
        return _call_failed(r, t0, spec, client, reserved, exc, "answer", deadline,
                            "raise oc.setup(deadline_s=...), or check that the server is not overloaded")
    _done(r, t0)
    try:
        choice = resp.choices[0]
        content = choice.message.content or ""
        r.finish_reason = choice.finish_reason
        r.answered_by = resp.model or spec.ref
        _usage(r, resp.usage)
    except (AttributeError, IndexError, TypeError) as exc:
        return _malformed(r, spec, reserved, f"the response has no choices/message ({type(exc).__name__})")
    _price(spec, r)
    _settle(spec, reserved, r.cost_usd)
    r.output = content
    if plain:
        label = _first_label(content)
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
    except (ValueError, KeyError, TypeError) as exc:
        label = _first_label(content) if spec.family != "closed" else None
        if label is not None:  # a server that ignores response_format answers in plain words
            r.output = label
            r.notes.append("the answer was not the requested JSON (this server ignores response_format?); "
                           "took the first label word")
        else:
            r.error = ErrorInfo("MalformedResponse",
                                f"the answer is not the requested JSON label ({exc}): {content[:80]!r}",
                                "the raw text is kept as the output; rerun, or use a model that supports "
                                "structured output")
    return r


def _max_tokens(spec, n: int) -> dict[str, int]:
    # OpenAI's newer models only take max_completion_tokens; self-hosted servers all know max_tokens.
    return {"max_completion_tokens": n} if spec.family == "closed" else {"max_tokens": n}


_LABEL_WORD = re.compile(r"\b(negative|neutral|positive|mixed|neg|neu|pos)\b", re.IGNORECASE)


def _first_label(text: str) -> str | None:
    m = _LABEL_WORD.search(text or "")
    return map_label(m.group(1)) if m else None


def _refuses_response_format(exc: Exception) -> bool:
    import openai

    if not isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)):
        return False
    text = f"{exc.message} {exc.body}".lower()
    return "response_format" in text or "json_schema" in text or "structured output" in text


def _done(r: Result, t0: float) -> None:
    r.ended_at = time.time()
    r.latency_s = time.perf_counter() - t0


# -------------------------------------------------------- text generation
def _generate(spec, client, item: Item, ctx: RunContext) -> Result:
    p = ctx.params
    r = new_result(spec, ctx.task, *item)
    max_tokens = int(p.get("max_tokens") or 128)
    messages = ([{"role": "system", "content": p["system"]}] if p.get("system") else []) + [
        {"role": "user", "content": item[1]}]
    try:
        reserved = _reserve(spec, ctx, (p.get("system") or "") + item[1], max_tokens)
    except SpendingCapError as exc:
        r.error = error_info(exc)
        return r
    kwargs: dict[str, Any] = dict(model=spec.ref, messages=messages, stream=True,
                                  stream_options={"include_usage": True}, **_max_tokens(spec, max_tokens))
    for name in ("temperature", "top_p"):
        if p.get(name) is not None:
            kwargs[name] = float(p[name])
    if p.get("seed") is not None:
        kwargs["seed"] = int(p["seed"])
    deadline = float(ctx.settings.deadline_s)

    chunks: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    holder: dict[str, Any] = {}

    def reader() -> None:
        stream = None
        try:
            stream = client.chat.completions.create(**kwargs)
            holder["stream"] = stream
            for chunk in stream:
                chunks.put(("chunk", chunk))
                if stop.is_set():
                    break
            chunks.put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            chunks.put(("exc", exc))
        finally:
            if stream is not None:
                try:
                    stream.close()
                except Exception:  # noqa: BLE001
                    pass

    text, pieces, first, finish, failure = "", 0, None, None, None
    r.started_at = time.time()
    t0 = time.perf_counter()
    threading.Thread(target=reader, daemon=True, name=f"oc-stream-{spec.name}-{item[0]}").start()
    while True:
        remaining = deadline - (time.perf_counter() - t0)
        try:
            if remaining <= 0:
                raise queue.Empty
            kind, value = chunks.get(timeout=remaining)
        except queue.Empty:
            stop.set()
            stream = holder.get("stream")
            if stream is not None:
                try:  # wake a reader blocked on a silent connection
                    stream.close()
                except Exception:  # noqa: BLE001
                    pass
            failure = error_info(DeadlineError(
                f"the answer passed the {deadline:g} s deadline after {len(text)} characters; the partial text is kept",
                "lower max_tokens, raise oc.setup(deadline_s=...), or check that the server is not overloaded"))
            finish = "deadline"
            break
        if kind == "end":
            break
        if kind == "exc":
            failure = map_error(value, spec, client)
            break
        chunk = value
        if getattr(chunk, "model", None):
            r.answered_by = chunk.model
        if getattr(chunk, "usage", None) is not None:
            _usage(r, chunk.usage)
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            piece = getattr(delta, "content", None) if delta is not None else None
            if piece:
                if first is None:
                    first = time.perf_counter()
                text += piece
                pieces += 1
                ctx.partial(spec.name, item[0], text)
            if getattr(choice, "finish_reason", None):
                finish = choice.finish_reason
    end = time.perf_counter()
    r.ended_at = time.time()
    r.latency_s = end - t0
    r.output = text
    r.ttft_s = (first - t0) if first is not None else None
    if r.output_tokens is None and pieces:
        r.output_tokens = pieces
        r.notes.append("no usage in the stream: output tokens counted as streamed chunks")
    if r.output_tokens and r.output_tokens > 1 and first is not None and end > first:
        r.tokens_per_s = (r.output_tokens - 1) / (end - first)
    r.finish_reason = finish
    if failure is None and finish is None:
        failure = error_info(StreamCutError(
            f"the stream ended without a finish reason after {len(text)} characters; the partial text is kept",
            "the connection or the server broke off; rerun this input"))
        failure.retryable = True
    if failure is not None:
        r.error = failure
        if failure.type in ("DeadlineError", "StreamCutError"):
            failure.retryable = True
        if r.output_tokens is not None:
            _price(spec, r)
        _settle(spec, reserved, None if text else 0.0)
        return r
    _price(spec, r)
    _settle(spec, reserved, r.cost_usd)
    return r


# ------------------------------------------------------- image generation
def _image(spec, client, item: Item, ctx: RunContext) -> Result:
    p = ctx.params
    r = new_result(spec, ctx.task, *item)
    try:
        reserved = _reserve(spec, ctx, item[1], IMAGE_OUTPUT_TOKENS)
    except SpendingCapError as exc:
        r.error = error_info(exc)
        return r
    kwargs: dict[str, Any] = dict(model=spec.ref, prompt=item[1], n=1)
    size = p.get("size")
    if isinstance(size, (list, tuple)):
        size = f"{size[0]}x{size[1]}"
    if isinstance(size, int):
        size = f"{size}x{size}"
    if size:
        kwargs["size"] = size
    if not spec.ref.startswith("gpt-image"):  # gpt-image-* always answer in base64 and refuse the parameter
        kwargs["response_format"] = "b64_json"
    ignored = [k for k in ("steps", "guidance_scale", "seed") if p.get(k) not in (None, 0, 0.0)]
    if ignored:
        r.notes.append(f"not sent (the images API has no such parameter): {', '.join(ignored)}")
    r.started_at = time.time()
    t0 = time.perf_counter()
    try:
        resp = _run_with_deadline(lambda: client.images.generate(**kwargs), float(ctx.settings.deadline_s))
    except Exception as exc:
        return _call_failed(r, t0, spec, client, reserved, exc, "image", float(ctx.settings.deadline_s),
                            "raise oc.setup(deadline_s=...), or use a smaller size")
    _done(r, t0)
    try:
        data = resp.data[0]
        raw = base64.b64decode(data.b64_json) if data.b64_json else _fetch(spec, data.url)
        from PIL import Image

        with Image.open(io.BytesIO(raw)) as im:
            r.image = im.copy()
        if getattr(data, "revised_prompt", None):
            r.notes.append(f"the API rewrote the prompt: {data.revised_prompt}")
        r.answered_by = getattr(resp, "model", None) or spec.ref
        r.output_tokens = None
        _usage(r, getattr(resp, "usage", None))
        r.output = f"{r.image.width}x{r.image.height} image"
    except Exception as exc:  # noqa: BLE001 - not an image
        return _malformed(r, spec, reserved, f"the response holds no readable image ({type(exc).__name__}: {exc})")
    _price(spec, r)
    _settle(spec, reserved, r.cost_usd)
    return r


def _fetch(spec, url: str | None) -> bytes:
    if not url:
        raise ValueError("neither b64_json nor url in the response")
    import httpx2

    http = spec.extra.get("http_client")
    if http is not None:
        return http.get(url).raise_for_status().content
    with httpx2.Client(timeout=60) as c:
        return c.get(url).raise_for_status().content


__all__ = ["run", "endpoint_of", "SENTIMENT_SCHEMA"]
