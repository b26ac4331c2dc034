"""One served model for a room: 1, 4, 8 and 16 concurrent streaming requests
to SmolLM2-135M-Instruct (the offline asset) behind ``transformers serve``,
plain (one request at a time) and with ``oc.serve(..., concurrent=N)``'s
continuous batching, in one run.

Both servers run at once (each idle while the other is measured) and the
waves alternate: for every concurrency level and round, plain then batched,
the order flipped every round, so a drift of the machine's speed falls on
both. Each wave sends ``n`` requests at the same moment with the official
``openai`` client (one thread per request, ``stream=True``, greedy, a
different prompt each, ``max_tokens`` the same) and records each request's
time to first token (from the wave's start) and the wave's generated tokens
(the usage chunk; with continuous batching ``transformers serve`` ignores
``stream_options`` and sends none, so there the chunks with text are
counted, one token each) over its wall time. One request to each server before
timing loads its model (not counted).

Prints the table and writes ``benchmarks/results/serving.json`` through the
shared writer (``results_file.write_results``: the measurement under
``"results"``, with the commit, machine, dtype, date and this command beside
it) - the file the instructor's guide reads.

    python benchmarks/bench_serving.py [--rounds 2] [--tokens 32] [--levels 1 4 8 16]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENCLOSED_CACHE_DIR", str(ROOT / ".cache" / "openclosed"))

TOPICS = ["cats", "rain", "the moon", "bread", "rivers", "trees", "music", "bees", "salt", "glass", "owls",
          "snow", "maps", "tea", "wind", "clocks"]


def percentile(values: list[float], q: float) -> float:
    """The ``q`` percentile (0-100) by linear interpolation (numpy's default)."""
    import numpy as np

    return float(np.percentile(values, q))


def wave(base_url: str, model: str, n: int, max_tokens: int) -> dict:
    """``n`` streaming requests sent at once; TTFT of each from the wave's start, tokens over the wave's wall time."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=600)
    ttft: list[float | None] = [None] * n
    tokens = [0] * n
    errors: list[str] = []
    go = threading.Barrier(n + 1)

    def one(i: int) -> None:
        go.wait()
        try:
            stream = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": f"Tell me one fact about {TOPICS[i % len(TOPICS)]}."}],
                max_tokens=max_tokens, temperature=0.0, stream=True, stream_options={"include_usage": True})
            pieces = 0
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    if ttft[i] is None:
                        ttft[i] = time.perf_counter() - t0
                    pieces += 1
                if chunk.usage is not None:
                    tokens[i] = chunk.usage.completion_tokens
            tokens[i] = tokens[i] or pieces
        except Exception as exc:  # counted and reported, never hidden
            errors.append(f"{type(exc).__name__}: {exc}"[:200])

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    go.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"ttft_s": [x for x in ttft if x is not None], "tokens": sum(tokens), "wall_s": wall, "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=32, help="max_tokens of every request")
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--out", type=Path, default=HERE / "results" / "serving.json")
    args = ap.parse_args()
    from results_file import commit, write_results  # benchmarks/ is the script's own folder

    drawn_by = commit()  # the code that measures, before anything else can change
    load_at_start = list(os.getloadavg())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped benchmark still stops its servers

    import openclosed as oc
    from openclosed.backends.files import model_files
    from openclosed.catalog.registry import get_model
    from openclosed.session.serving import Server, server_dtype

    settings = oc.setup(verbose=False)
    spec = get_model("smollm2-135m")
    folder = Path(model_files(spec, settings).where)
    dtype, _note = server_dtype(spec, settings)
    logs = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    peak = max(args.levels)
    servers = {"plain": Server(folder, device="cpu" if settings.device == "cpu" else "cuda", dtype=dtype, log_dir=logs),
               "concurrent": Server(folder, device="cpu" if settings.device == "cpu" else "cuda", dtype=dtype,
                                    log_dir=logs, concurrent=peak)}
    try:
        for s in servers.values():
            s.start()
        for name, s in servers.items():
            s.wait_ready(progress=True)
            warm = wave(s.base_url, str(folder), 1, 4)  # loads the model (and the batching manager)
            print(f"{name}: ready, first request {warm['wall_s']:.1f} s (model loading, not counted)", flush=True)
        waves: dict[str, dict[int, list[dict]]] = {k: {n: [] for n in args.levels} for k in servers}
        for r in range(args.rounds):
            for n in args.levels:
                order = ("plain", "concurrent") if r % 2 == 0 else ("concurrent", "plain")
                for name in order:
                    w = wave(servers[name].base_url, str(folder), n, args.tokens)
                    waves[name][n].append(w)
                    print(f"round {r + 1} {name:10s} {n:2d} requests: {w['wall_s']:.1f} s, {w['tokens']} tokens"
                          + (f", {len(w['errors'])} errors" if w["errors"] else ""), flush=True)
    finally:
        for s in servers.values():
            s.stop()

    rows = []
    for name in servers:
        for n in args.levels:
            ws = waves[name][n]
            ttfts = [x for w in ws for x in w["ttft_s"]]
            rows.append({
                "server": name, "concurrent_requests": n, "rounds": len(ws),
                "ttft_p50_s": percentile(ttfts, 50) if ttfts else None,
                "ttft_p95_s": percentile(ttfts, 95) if ttfts else None,
                "total_tokens_per_s": sum(w["tokens"] for w in ws) / sum(w["wall_s"] for w in ws),
                "tokens": sum(w["tokens"] for w in ws), "errors": sum(len(w["errors"]) for w in ws),
                "error_samples": [e for w in ws for e in w["errors"]][:3]})
    print(f"\nSmolLM2-135M-Instruct served by transformers serve ({dtype}, {settings.device}), "
          f"{args.tokens} tokens per request, {args.rounds} rounds:")
    print(f"{'server':12s} {'requests':>8s} {'TTFT p50':>9s} {'TTFT p95':>9s} {'tokens/s':>9s} {'errors':>6s}")
    for row in rows:
        print(f"{row['server']:12s} {row['concurrent_requests']:8d} {row['ttft_p50_s']:8.2f}s {row['ttft_p95_s']:8.2f}s "
              f"{row['total_tokens_per_s']:9.1f} {row['errors']:6d}")
    for n in args.levels:
        plain = next(r for r in rows if r["server"] == "plain" and r["concurrent_requests"] == n)
        batched = next(r for r in rows if r["server"] == "concurrent" and r["concurrent_requests"] == n)
        print(f"  {n:2d} at once: batched / plain tokens/s = {batched['total_tokens_per_s'] / plain['total_tokens_per_s']:.2f}x, "
              f"TTFT p95 {plain['ttft_p95_s']:.2f} s -> {batched['ttft_p95_s']:.2f} s")
    write_results(args.out.stem, {
        "what": "concurrent streaming requests to one served model: plain transformers serve (one at a time) vs "
                f"oc.serve(..., concurrent={peak}) (continuous batching)",
        "model": "smollm2-135m", "device": settings.device, "max_tokens": args.tokens,
        "rounds": args.rounds, "levels": args.levels, "rows": rows, "load_average_at_start": load_at_start,
        "versions": {m: __import__(m).__version__ for m in ("transformers", "openai")},  # torch: under machine
    }, dtype=dtype, at_commit=drawn_by, folder=args.out.parent)


if __name__ == "__main__":
    main()
