"""The llama.cpp backend through ``oc.compare`` against ``llama_cpp.Llama`` called directly, and against
transformers on the same model, in one run.

SmolLM2-135M-Instruct: the shipped Q4_1 GGUF (and any other GGUF of the catalog with ``--gguf``), greedy, the
same prompts and ``max_tokens``, one prompt at a time, this session's threads on both sides.

* **lab**: ``oc.compare("text-generation", [gguf model], [prompt], cache="off")`` per prompt (streaming on);
* **direct**: ``Llama.create_chat_completion(messages, temperature=0, stream=True)`` per prompt on one
  ``Llama`` (the same file, context and threads) - what a user of llama-cpp-python would write;
* **transformers**: ``oc.compare`` with ``smollm2-135m`` (the dtype ``oc.setup`` picks), the lab's fast path.

tokens/s = generated tokens / wall time of the prompts. Rounds alternate which side goes first (and
transformers' place); the ratios are medians over rounds. Goals: lab / direct >= 0.95; lab (llama.cpp) /
transformers >= 2. Prints a table and writes ``benchmarks/results/llamacpp.json`` (commit, machine, dtype, date).

    python benchmarks/bench_llamacpp.py [--rounds 3] [--tokens 48] [--gguf smollm2-135m-q4_1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from results_file import write_results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENCLOSED_CACHE_DIR", str(ROOT / ".cache" / "openclosed"))

PROMPTS = [
    "What is the capital of France?", "Name three primary colours.", "Write a haiku about rain.",
    "Why is the sky blue?",
]


def direct(llm, prompts: list[str], max_tokens: int) -> tuple[list[str], int, float]:
    """llama-cpp-python on its own: streamed greedy chat completions, one prompt after another."""
    texts, tokens = [], 0
    t0 = time.perf_counter()
    for p in prompts:
        text, n = "", 0
        for chunk in llm.create_chat_completion([{"role": "user", "content": p}], temperature=0.0,
                                                max_tokens=max_tokens, repeat_penalty=1.0, stream=True):
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                text += piece
                n += 1
        texts.append(text)
        tokens += n
    return texts, tokens, time.perf_counter() - t0


def through_lab(oc, model: str, prompts: list[str], max_tokens: int) -> tuple[list[str], int, float]:
    """The same prompts through ``oc.compare``, one call per prompt (as a chat would), streaming on."""
    t0 = time.perf_counter()
    results = [oc.compare("text-generation", [model], [p], max_tokens=max_tokens, cache="off", progress=False,
                          on_partial=lambda *a: None).results[0] for p in prompts]
    wall = time.perf_counter() - t0
    bad = [r.error for r in results if not r.ok]
    if bad:
        raise SystemExit(f"{model} failed: {bad[0]}")
    return [r.output for r in results], sum(r.output_tokens or 0 for r in results), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--gguf", default="smollm2-135m-q4_1")
    args = ap.parse_args()

    import llama_cpp

    import openclosed as oc
    from openclosed.backends.llamacpp import N_CTX, gguf_path
    from openclosed.core.settings import package_versions

    settings = oc.setup("offline", verbose=False)
    spec = oc.get_model(args.gguf)
    path = gguf_path(spec, settings)
    llm = llama_cpp.Llama(str(path), n_ctx=N_CTX, n_threads=settings.threads, n_threads_batch=settings.threads,
                          verbose=False)
    loaded = oc.load_model(args.gguf)
    tf = oc.load_model("smollm2-135m")
    # warm-up: first calls pay one-off costs on every side
    direct(llm, PROMPTS[:1], 4)
    through_lab(oc, args.gguf, PROMPTS[:1], 4)
    through_lab(oc, "smollm2-135m", PROMPTS[:1], 4)
    print(f"SmolLM2-135M-Instruct: {args.gguf} (GGUF {loaded.dtype}, llama-cpp-python {llama_cpp.__version__}) vs "
          f"transformers {tf.dtype} on {tf.device}; {settings.threads} threads, {len(PROMPTS)} prompts x "
          f"{args.tokens} tokens, {args.rounds} rounds")
    rows = []
    for k in range(args.rounds):
        sides = {"direct": lambda: direct(llm, PROMPTS, args.tokens),
                 "lab": lambda: through_lab(oc, args.gguf, PROMPTS, args.tokens),
                 "transformers": lambda: through_lab(oc, "smollm2-135m", PROMPTS, args.tokens)}
        order = ["direct", "lab", "transformers"]
        order = order[k % 3:] + order[:k % 3]  # who goes first rotates every round
        row = {}
        for side in order:
            texts, n, wall = sides[side]()
            row[side] = {"tokens": n, "seconds": wall, "tokens_per_s": n / wall, "texts": texts}
        same = row["lab"]["texts"] == row["direct"]["texts"]
        row["lab_over_direct"] = row["lab"]["tokens_per_s"] / row["direct"]["tokens_per_s"]
        row["lab_over_transformers"] = row["lab"]["tokens_per_s"] / row["transformers"]["tokens_per_s"]
        row["direct_over_transformers"] = row["direct"]["tokens_per_s"] / row["transformers"]["tokens_per_s"]
        row["same_answers_lab_direct"] = same
        rows.append(row)
        print(f"  round {k + 1} ({' -> '.join(order)}): direct {row['direct']['tokens_per_s']:.1f}, lab "
              f"{row['lab']['tokens_per_s']:.1f}, transformers {row['transformers']['tokens_per_s']:.1f} tokens/s; "
              f"lab/direct {row['lab_over_direct']:.3f}, lab/transformers {row['lab_over_transformers']:.2f}; "
              f"same answers as direct: {same}")
    med = {key: statistics.median(r[key] for r in rows)
           for key in ("lab_over_direct", "lab_over_transformers", "direct_over_transformers")}
    med.update({f"{side}_tokens_per_s": statistics.median(r[side]["tokens_per_s"] for r in rows)
                for side in ("direct", "lab", "transformers")})
    print(f"  median: lab/direct {med['lab_over_direct']:.3f} (goal >= 0.95), lab/transformers "
          f"{med['lab_over_transformers']:.2f} (goal >= 2), direct/transformers {med['direct_over_transformers']:.2f}")
    llm.close()
    write_results("llamacpp", {
        "gguf": args.gguf, "gguf_type": loaded.dtype, "transformers_dtype": tf.dtype, "device": tf.device,
        "threads": settings.threads, "prompts": len(PROMPTS), "max_tokens": args.tokens, "rounds": args.rounds,
        "median": med, "rounds_detail": rows,
        "versions": {**package_versions(), "llama-cpp-python": llama_cpp.__version__},
    }, dtype=f"gguf {loaded.dtype} / transformers {tf.dtype}")


if __name__ == "__main__":
    main()
