"""What ``oc.compare`` buys over a plain loop, measured in one run.

One local model (``minilm-lr``: all-MiniLM-L6-v2 embeddings + logistic
regression, or ``vader``) and one *served* model: a real OpenAI-compatible
HTTP server on 127.0.0.1 (stdlib ``http.server`` in a background thread) that
waits 200 ms before every answer, like a remote API would. 100 inputs.

  (a) plain sequential loop: the official ``openai`` client once per input,
      then the local model once per input (the libraries used directly);
  (b) ``oc.compare`` with both models, in a fresh (empty) response cache;
  (c) the same ``oc.compare`` again: every answer comes from the cache.

Prints a table and writes ``benchmarks/results/compare.json``. Goals: the API
side >= 5x faster than sequential (bounded concurrency, ``api_concurrency``
in flight), and the cached rerun < 2% of the first run.

    python benchmarks/bench_compare.py [--inputs 100] [--latency 0.2] [--local minilm-lr]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVED_MODEL = "bench-served-model"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENCLOSED_CACHE_DIR", str(ROOT / ".cache" / "openclosed"))


# ------------------------------------------------------------ the fake server
class Handler(BaseHTTPRequestHandler):
    """Minimal OpenAI-compatible chat endpoint: JSON, structured output, SSE."""

    protocol_version = "HTTP/1.1"  # keep-alive, as real servers
    wbufsize = 1 << 16  # one write per response: unbuffered header/body writes meet Nagle + delayed ACK (+40 ms)
    latency = 0.2

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
                {"id": SERVED_MODEL, "object": "model", "created": 0, "owned_by": "bench"}]}).encode())
        else:
            self._send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "not found"}}')
            return
        time.sleep(self.latency)
        text = body["messages"][-1]["content"].lower()
        label = "negative" if any(w in text for w in ("bad", "terrible", "awful", "hate", "worst")) else "positive"
        content = json.dumps({"label": label, "confidence": 0.8}) if body.get("response_format") else label
        base = {"id": "chatcmpl-bench", "created": int(time.time()), "model": SERVED_MODEL}
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


def start_server(latency: float) -> tuple[ThreadingHTTPServer, str]:
    Handler.latency = latency
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="bench-server").start()
    return server, f"http://127.0.0.1:{port}/v1"


# ------------------------------------------------------------------ helpers
def local_predictor(name: str):
    """The local model used directly, one input at a time (warm: loaded/trained before timing)."""
    import openclosed as oc
    from openclosed.backends import embedding_backend

    spec = oc.get_model(name)
    if spec.backend == "embedding":
        encoder, clf, _ = embedding_backend.classifier(spec)

        def predict(text: str) -> str:
            x = encoder.encode([text], show_progress_bar=False, normalize_embeddings=True)
            return str(clf.predict(x)[0])

        return predict
    if spec.backend == "vader":
        analyzer = oc.load_model(name).model

        def predict(text: str) -> str:
            c = analyzer.polarity_scores(text)["compound"]
            return "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"

        return predict
    raise SystemExit(f"--local must be minilm-lr or vader, not {name!r}")


def span(results) -> float:
    """Wall time one model's results covered (first start to last end)."""
    starts = [r.started_at for r in results if r.started_at]
    ends = [r.ended_at for r in results if r.ended_at]
    return max(ends) - min(starts) if starts and ends else 0.0


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="oc-bench-"))  # a fresh, empty response cache
    try:
        _main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _main(tmp: Path) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=100)
    ap.add_argument("--latency", type=float, default=0.2, help="seconds the server waits before each answer")
    ap.add_argument("--local", default="minilm-lr", help="minilm-lr or vader")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "compare.json")
    args = ap.parse_args()

    import openai

    import openclosed as oc
    from openclosed.backends.openai_backend import SENTIMENT_SCHEMA
    from openclosed.labelled_data import sentiment_data
    from openclosed.labels import zero_shot_messages
    from openclosed.settings import package_versions

    settings = oc.setup("offline", responses_path=tmp / "responses", verbose=False)
    server, base_url = start_server(args.latency)
    oc.register("bench-served", task="sentiment", base_url=base_url, model=SERVED_MODEL, replace_existing=True)

    pool = sentiment_data("test")["text"].tolist()
    texts = [pool[i % len(pool)] + ("" if i < len(pool) else f" ({i})") for i in range(args.inputs)]

    # warm-up (not timed): load/train the local model, open a connection, import everything
    predict = local_predictor(args.local)
    predict("warm up")
    client = openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=settings.max_retries)
    client.chat.completions.create(model=SERVED_MODEL, messages=zero_shot_messages("warm up"), temperature=0)
    oc.compare("sentiment", [args.local, "bench-served"], ["warm up"], progress=False, cache="off")

    # (a) the plain sequential loop
    t0 = time.perf_counter()
    for text in texts:
        resp = client.chat.completions.create(
            model=SERVED_MODEL, messages=zero_shot_messages(text), temperature=0, max_tokens=40,
            response_format={"type": "json_schema", "json_schema": SENTIMENT_SCHEMA})
        json.loads(resp.choices[0].message.content)["label"]
    seq_api = time.perf_counter() - t0
    t1 = time.perf_counter()
    for text in texts:
        predict(text)
    seq_local = time.perf_counter() - t1
    seq_total = time.perf_counter() - t0

    # (b) oc.compare, fresh cache
    models = [args.local, "bench-served"]
    t0 = time.perf_counter()
    first = oc.compare("sentiment", models, texts, progress=False)
    first_s = time.perf_counter() - t0
    assert not first.errors(), [str(r.error) for r in first.errors()][:3]
    assert {r.cache for r in first.results} == {"miss"}
    api_span = span([r for r in first.results if r.model == "bench-served"])
    local_span = span([r for r in first.results if r.model == args.local])

    # (c) the same call again: all cached
    t0 = time.perf_counter()
    again = oc.compare("sentiment", models, texts, progress=False)
    cached_s = time.perf_counter() - t0
    assert {r.cache for r in again.results} == {"hit"}
    assert [r.output for r in again.results] == [r.output for r in first.results]
    more = []
    for _ in range(3):  # later reruns, for the spread (the goal is judged on the first rerun above)
        t0 = time.perf_counter()
        oc.compare("sentiment", models, texts, progress=False)
        more.append(time.perf_counter() - t0)
    more.sort()
    server.shutdown()

    api_speedup = seq_api / api_span
    report = {
        "inputs": args.inputs, "server_latency_s": args.latency, "local_model": args.local,
        "served_model": "bench-served (stdlib http.server on 127.0.0.1)",
        "api_concurrency": settings.api_concurrency, "threads": settings.threads,
        "sequential": {"api_s": round(seq_api, 3), "local_s": round(seq_local, 3), "total_s": round(seq_total, 3)},
        "compare_first": {"total_s": round(first_s, 3), "api_span_s": round(api_span, 3),
                          "local_span_s": round(local_span, 3)},
        "compare_cached": {"total_s": round(cached_s, 4), "percent_of_first": round(100 * cached_s / first_s, 2),
                           "next_3_reruns_s": [round(x, 4) for x in more]},
        "api_speedup_x": round(api_speedup, 2), "total_speedup_x": round(seq_total / first_s, 2),
        "goals": {"api_speedup_x": ">= 5", "cached_percent_of_first": "< 2"},
        "goals_met": {"api_speedup": api_speedup >= 5, "cached": 100 * cached_s / first_s < 2},
        "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
        "versions": package_versions(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    rows = [
        ("(a) sequential loop: API", seq_api, ""),
        ("(a) sequential loop: local", seq_local, ""),
        ("(a) sequential loop: total", seq_total, ""),
        ("(b) oc.compare, fresh cache: total", first_s, f"{seq_total / first_s:.1f}x faster than (a)"),
        ("(b)   API column (first start..last end)", api_span, f"{api_speedup:.1f}x faster than (a) API (goal >= 5x)"),
        ("(b)   local column", local_span, ""),
        ("(c) oc.compare again, all cached", cached_s, f"{100 * cached_s / first_s:.2f}% of (b) (goal < 2%)"),
        ("(c)   3 more cached reruns: median", more[1], f"{100 * more[1] / first_s:.2f}% of (b)"),
    ]
    print(f"\n{args.inputs} inputs; served endpoint waits {args.latency * 1000:.0f} ms per request; local model "
          f"{args.local}; api_concurrency {settings.api_concurrency}; {os.cpu_count()} CPUs\n")
    print(f"{'step':<44}{'seconds':>10}  note")
    print("-" * 100)
    for name, secs, note in rows:
        print(f"{name:<44}{secs:>10.3f}  {note}")
    print(f"\nwritten to {args.out}")
    if not all(report["goals_met"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
