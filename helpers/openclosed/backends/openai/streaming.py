"""Text generation, always streamed, so time to first token and tokens/s are
measured the same way as for local models (client-side, from the call's start
to the first token, and from the first token to the last). A wall-clock
deadline is enforced here (the client's timeout is per read: a trickling
stream would never time out), a stream that ends without a finish reason is
reported as cut, and Stop (``ctx.cancel``) closes the stream within a tenth
of a second; in all three the partial text is kept. The seed is sent and the
``system_fingerprint`` the API returns is recorded on the result."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from ...core.errors import OpenClosedError, SpendingCapError, StreamCutError
from ...engine.context import Item, RunContext, error_info
from ...engine.stream import DEADLINE, STOPPED, StreamMeter
from ...engine.results import ErrorInfo, Result
from .accounting import price, read_usage, reserve_estimate, settle_cost
from .errors import map_error
from .request import chat_request, who
from .structured import REFUSAL_FINISH


def generate(spec, client, item: Item, ctx: RunContext) -> Result:
    p = ctx.params
    r = ctx.result(item)
    max_tokens = int(p.get("max_tokens") or 128)
    messages = ([{"role": "system", "content": p["system"]}] if p.get("system") else []) + [
        {"role": "user", "content": item[1]}]
    try:
        reserved = reserve_estimate(ctx, (p.get("system") or "") + item[1], max_tokens)
    except SpendingCapError as exc:
        r.error = error_info(exc)
        return r
    try:
        req = chat_request(spec, messages, max_tokens=max_tokens, stream=True,
                           temperature=float(p["temperature"]) if p.get("temperature") is not None else None,
                           top_p=float(p["top_p"]) if p.get("top_p") is not None else None,
                           seed=int(p["seed"]) if p.get("seed") is not None else None, stop=p.get("stop") or None)
    except OpenClosedError as exc:
        r.error = error_info(exc)
        settle_cost(ctx, reserved, 0.0)
        return r
    kwargs = req.kwargs
    r.notes.extend(req.notes)
    r.generation = req.record()

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

    finish, failure = None, None
    meter = StreamMeter(ctx, item)  # the books: TTFT, tokens/s, partial text, Stop and the deadline
    threading.Thread(target=reader, daemon=True, name=f"oc-stream-{spec.name}-{item[0]}").start()

    def close() -> None:
        stop.set()
        stream = holder.get("stream")
        if stream is not None:
            try:  # wake a reader blocked on a silent connection
                stream.close()
            except Exception:  # noqa: BLE001
                pass

    while True:
        if meter.halt():
            close()
            break
        try:  # poll: Stop and the deadline are checked every tenth of a second
            kind, value = chunks.get(timeout=max(0.0, min(meter.deadline_s - (time.perf_counter() - meter.t0), 0.1)))
        except queue.Empty:
            continue
        if kind == "end":
            break
        if kind == "exc":
            failure = map_error(value, spec, client)
            break
        chunk = value
        if getattr(chunk, "model", None):
            r.answered_by = chunk.model
        if getattr(chunk, "system_fingerprint", None):
            r.system_fingerprint = chunk.system_fingerprint
        if getattr(chunk, "usage", None) is not None:
            read_usage(r, chunk.usage)
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            piece = getattr(delta, "content", None) if delta is not None else None
            if piece:
                meter.update(meter.text + piece, meter.tokens + 1)  # one streamed chunk counted as one token
            if getattr(choice, "finish_reason", None):
                finish = choice.finish_reason
    pieces = meter.tokens
    counted = r.output_tokens is None and pieces
    meter.finish(r, tokens=r.output_tokens if r.output_tokens is not None else pieces)
    if "stream_options" in kwargs:
        req.honoured["stream_options"] = ("honoured (usage came back)" if r.input_tokens is not None
                                          else "ignored (no usage in the stream)")
        r.generation = req.record()
    if counted:
        r.notes.append("no usage in the stream: output tokens counted as streamed chunks")
    if meter.halted is None:
        r.finish_reason = finish
    if meter.halted == STOPPED:
        price(spec, r)
        settle_cost(ctx, reserved, r.cost_usd if r.cost_usd is not None else None)
        return r
    if meter.halted == DEADLINE:
        failure = r.error
        r.error = None
        failure.hint = ("lower max_tokens, raise oc.setup(deadline_s=...), or check that the server is not "
                        "overloaded")
    if failure is None and finish in REFUSAL_FINISH:
        failure = ErrorInfo("RefusalError", f"{who(spec)} declined to go on (finish_reason={finish}) after "
                            f"{len(meter.text)} characters; the partial text is kept",
                            "the vendor's policy or the model refused it (not retried): rephrase the prompt")
    if failure is None and finish is None:
        failure = error_info(StreamCutError(
            f"the stream ended without a finish reason after {len(meter.text)} characters; the partial text is kept",
            "the connection or the server broke off; rerun this input"))
        failure.retryable = True
    if failure is not None:
        r.error = failure
        if failure.type in ("DeadlineError", "StreamCutError"):
            failure.retryable = True
        if r.output_tokens is not None:
            price(spec, r)
        settle_cost(ctx, reserved, None if meter.text else 0.0)
        return r
    price(spec, r)
    settle_cost(ctx, reserved, r.cost_usd)
    return r


