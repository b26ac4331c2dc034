"""An arena round, from New round to both answers complete: before (side A
generated, then side B, each through ``oc.compare`` on the calling thread,
as the panel used to) and after (``ArenaPanel``'s New round: a background
thread, one batched generate for the two settings of the offline chat
model), the same pair, prompt, seed and ``max_tokens``, alternating which
goes first every round.

While the new round streams, the calling thread keeps working (what a
notebook cell run meanwhile would do): a tiny job every 0.1 s, and the
longest wait for one is reported.

Writes ``benchmarks/results/arena.json`` through the shared writer
(``results_file.write_results``: the measurement under ``"results"``, with
the commit, machine, dtype, date and this command beside it).

    python benchmarks/bench_arena.py [--rounds 2] [--tokens 48]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from results_file import commit, write_results  # benchmarks/ is the script's own folder

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENCLOSED_CACHE_DIR", str(ROOT / ".cache" / "openclosed"))
PROMPT = "Explain in two sentences why the sky is blue."


def before(pair, seed: int, tokens: int) -> tuple[float, int]:
    """Side A, then side B, each through oc.compare on this thread (the old round): (seconds, tokens written)."""
    import openclosed as oc

    t0 = time.perf_counter()
    written = 0
    for c in pair:
        run = oc.compare("text-generation", [c.model], [PROMPT], progress=False, cache="off",
                         on_partial=lambda *a: None, **{"max_tokens": tokens, "seed": seed, **c.params})
        written += run.results[0].output_tokens or 0
    return time.perf_counter() - t0, written


def after(pair, seed: int, tokens: int) -> tuple[float, float, int, int]:
    """New round in the panel (a thread); meanwhile this thread runs a tiny job every 0.1 s. Returns (seconds to
    both answers complete, longest wait of the calling thread for its job, jobs done meanwhile, tokens written)."""
    import openclosed as oc
    from openclosed.session.arena import Arena

    arena = Arena(list(pair), save=False, seed=seed, max_tokens=tokens)
    arena.draw_pair = lambda: tuple(pair)  # the same sides as the before round
    arena.rng.randrange = lambda _n: seed
    panel = oc.ArenaPanel(arena)
    panel.start()
    worst, jobs = 0.0, 0
    while panel.thread.is_alive():
        asked = time.perf_counter()
        sum(range(10_000))  # a cell's worth of work on the calling thread
        worst = max(worst, time.perf_counter() - asked)
        jobs += 1
        time.sleep(0.1)
    panel.thread.join()
    rnd = panel.arena.current
    if not rnd.ok:
        sys.exit(f"the round failed: {panel.status.value}")
    return panel.round_s, worst, jobs, (rnd.answer_a.output_tokens or 0) + (rnd.answer_b.output_tokens or 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "arena.json")
    args = ap.parse_args()
    drawn_by = commit()  # the code that measures, before anything else can change
    load_at_start = list(os.getloadavg())

    import openclosed as oc

    settings = oc.setup(verbose=False)
    contestants = oc.arena_contestants()
    pair = (contestants[0], contestants[1])  # greedy and T=0.7
    oc.load_model(pair[0].model)  # loading is not part of a round
    rows = []
    for r in range(args.rounds):
        seed = 1000 + r
        order = ("before", "after") if r % 2 == 0 else ("after", "before")
        row = {"round": r + 1, "seed": seed}
        for which in order:
            if which == "before":
                row["before_s"], row["before_tokens"] = before(pair, seed, args.tokens)
            else:
                (row["after_s"], row["calling_thread_worst_wait_s"], row["calling_thread_jobs"],
                 row["after_tokens"]) = after(pair, seed, args.tokens)
        print(f"round {r + 1}: before {row['before_s']:.1f} s ({row['before_tokens']} tokens), after "
              f"{row['after_s']:.1f} s ({row['after_tokens']} tokens); the calling thread "
              f"waited at most {row['calling_thread_worst_wait_s'] * 1000:.0f} ms for a job "
              f"({row['calling_thread_jobs']} jobs meanwhile)", flush=True)
        rows.append(row)
    med = {k: statistics.median(x[k] for x in rows) for k in ("before_s", "after_s", "calling_thread_worst_wait_s")}
    print(f"median: New round to both answers complete {med['before_s']:.1f} s before, {med['after_s']:.1f} s after "
          f"({med['before_s'] / med['after_s']:.2f}x); {pair[0].name} vs {pair[1].name}, {args.tokens} tokens each")
    write_results(args.out.stem, {
        "what": "arena round, New round to both answers complete: sequential oc.compare (before) vs ArenaPanel "
                "(thread, one batched generate)", "pair": [c.name for c in pair], "max_tokens": args.tokens,
        "rows": rows, "median": med, "load_average_at_start": load_at_start,
    }, dtype=settings.dtype, at_commit=drawn_by, folder=args.out.parent)


if __name__ == "__main__":
    main()
