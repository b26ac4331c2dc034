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
import sys
import tempfile
import time
from pathlib import Path

from results_file import write_results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENCLOSED_CACHE_DIR", str(ROOT / ".cache" / "openclosed"))


# ------------------------------------------------------------------ helpers
def local_predictor(name: str):
    """The local model used directly, one input at a time (warm: loaded/trained before timing)."""
    import openclosed as oc
    from openclosed.backends import embedding as embedding_backend

    spec = oc.get_model(name)
    if spec.backend == "embedding":
        encoder, clf, _ = embedding_backend.classifier(oc.load_model(spec))

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
    from openclosed.backends.openai import SENTIMENT_SCHEMA
    from openclosed.core.labelled_data import sentiment_data
    from openclosed.core.labels import zero_shot_messages
    from openclosed.core.settings import package_versions
    from openclosed.testing.stub_server import STUB_MODEL, start_server

    settings = oc.setup("offline", responses_path=tmp / "responses", verbose=False)
    server, base_url = start_server(args.latency)
    oc.register("bench-served", task="sentiment", base_url=base_url, model=STUB_MODEL, replace_existing=True)

    pool = sentiment_data("test")["text"].tolist()
    texts = [pool[i % len(pool)] + ("" if i < len(pool) else f" ({i})") for i in range(args.inputs)]

    # warm-up (not timed): load/train the local model, open a connection, import everything
    predict = local_predictor(args.local)
    predict("warm up")
    client = openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=settings.max_retries)
    client.chat.completions.create(model=STUB_MODEL, messages=zero_shot_messages("warm up"), temperature=0)
    oc.compare("sentiment", [args.local, "bench-served"], ["warm up"], progress=False, cache="off")

    # (a) the plain sequential loop
    t0 = time.perf_counter()
    for text in texts:
        resp = client.chat.completions.create(
            model=STUB_MODEL, messages=zero_shot_messages(text), temperature=0, max_tokens=40,
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
    write_results(args.out.stem, report, dtype=oc.get_settings().dtype, folder=args.out.parent)

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
    if not all(report["goals_met"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
