"""A stand-in OpenAI-compatible server on 127.0.0.1, for rehearsal and tests.

It is NOT a model: it answers chat requests with a keyword rule (``negative``
when the text contains bad/terrible/awful/hate/worst, else ``positive``), as
JSON when structured output is asked for, streamed (SSE) when ``stream=True``,
after an optional fixed latency. It lets the whole closed-model path (the
official ``openai`` client, retries, streaming, timing, caching) run with no
key and no network, e.g. ``OPENAI_BASE_URL=<base_url>`` for the closed models.
Every answer reports the model ``openclosed-stub``, so no display can mistake
it for a real API model.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STUB_MODEL = "openclosed-stub"


class Handler(BaseHTTPRequestHandler):
    """Minimal OpenAI-compatible chat endpoint: JSON, structured output, SSE."""

    protocol_version = "HTTP/1.1"  # keep-alive, as real servers
    wbufsize = 1 << 16  # one write per response: unbuffered header/body writes meet Nagle + delayed ACK (+40 ms)
    latency = 0.0

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, json.dumps({"object": "list", "data": [
                {"id": STUB_MODEL, "object": "model", "created": 0, "owned_by": "openclosed"}]}).encode())
        else:
            self._send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        getattr(self.server, "auth_seen", []).append(self.headers.get("authorization") or "")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "not found"}}')
            return
        time.sleep(self.latency)
        text = body["messages"][-1]["content"].lower()
        label = "negative" if any(w in text for w in ("bad", "terrible", "awful", "hate", "worst")) else "positive"
        content = json.dumps({"label": label, "confidence": 0.8}) if body.get("response_format") else label
        base = {"id": "chatcmpl-stub", "created": int(time.time()), "model": STUB_MODEL}
        if body.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            chunks = [{"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": None},
                      {"index": 0, "delta": {}, "finish_reason": "stop"}]
            events = [dict(base, object="chat.completion.chunk", choices=[c]) for c in chunks]
            events.append(dict(base, object="chat.completion.chunk", choices=[],
                               usage={"prompt_tokens": 30, "completion_tokens": 1, "total_tokens": 31}))
            for ev in [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]:
                data = ev.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        self._send(200, json.dumps(dict(
            base, object="chat.completion",
            choices=[{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            usage={"prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38})).encode())


def start_server(latency: float = 0.0) -> tuple[ThreadingHTTPServer, str]:
    """Start the stub on a free port of 127.0.0.1 in a daemon thread; returns
    (server, base_url). Stop it with ``server.shutdown()``."""
    Handler.latency = latency
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.auth_seen = []  # the Authorization header of every POST this server received (tests: where keys went)
    threading.Thread(target=server.serve_forever, daemon=True, name="openclosed-stub-server").start()
    return server, f"http://127.0.0.1:{port}/v1"
