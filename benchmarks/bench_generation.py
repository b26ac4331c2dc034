"""Text generation through ``oc.compare`` against the plain library, in one run.

SmolLM2-135M-Instruct (the offline asset), the dtype ``oc.setup`` picks,
greedy decoding, the same chat-templated prompts and ``max_new_tokens``.
Rounds alternate which side goes first.

  (a) one prompt at a time: a raw ``model.generate`` loop vs ``oc.compare``
      called once per prompt (streaming on), tokens/s = generated tokens /
      wall time on both sides. The two sides alternate prompt by prompt
      (raw first for even prompts, oc.compare first for odd ones, flipped
      every round), so a slow drift of the machine's speed falls on both
      equally. Goal: >= 0.95.
  (b) all prompts for the one model in one ``oc.compare`` call (batched)
      vs the raw loop's aggregate tokens/s. Goal: >= 3x for 6 or more
      prompts (8 by default). The plain library's own batched ``generate``
      (left padding) is reported next to it: what batching can give on this
      machine, and oc.compare's overhead.
  (c) time to first token for every family: the local model, the same model
      served by ``transformers serve`` on 127.0.0.1 (``oc.serve``; one request
      at a time, and all at once, when the server queues them), and a
      closed model pointed at a loopback stand-in server (``OPENAI_BASE_URL``).

Also checks that every greedy answer equals the raw loop's. Prints a table
and writes ``benchmarks/results/generation.json``.

    python benchmarks/bench_generation.py [--rounds 3] [--prompts 8] [--tokens 48] [--no-served]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from results_file import write_results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENCLOSED_CACHE_DIR", str(ROOT / ".cache" / "openclosed"))

PROMPTS = [
    "What is the capital of France?", "Name three primary colours.", "Write a haiku about rain.",
    "Explain what a neural network is in one sentence.", "Give me a tip for learning to code.",
    "Why is the sky blue?", "What is photosynthesis?", "Suggest a name for a cat.",
]


def raw_loop(model, tok, prompts: list[str], max_new: int, device: str) -> tuple[list[str], int, float]:
    """The plain library: chat template, then ``model.generate`` once per prompt."""
    import torch

    texts, tokens = [], 0
    t0 = time.perf_counter()
    for p in prompts:
        enc = tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                      return_dict=True, return_tensors="pt").to(device)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, temperature=None, top_p=None,
                                 top_k=None, pad_token_id=tok.pad_token_id)
        new = out[0, enc["input_ids"].shape[-1]:]
        tokens += int(new.shape[-1])
        texts.append(tok.decode(new, skip_special_tokens=True))
    return texts, tokens, time.perf_counter() - t0


def raw_batch(model, tok, prompts: list[str], max_new: int, device: str) -> tuple[list[str], int, float]:
    """The plain library batched: every prompt left-padded into one ``model.generate`` (the reference for (b))."""
    import torch

    texts = [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
             for p in prompts]
    side, tok.padding_side = tok.padding_side, "left"
    try:
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
    finally:
        tok.padding_side = side
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, temperature=None, top_p=None, top_k=None,
                             pad_token_id=tok.pad_token_id)
    s = time.perf_counter() - t0
    new = out[:, enc["input_ids"].shape[-1]:]
    answers, tokens = [], 0
    for row in new.tolist():
        n = next((k + 1 for k, t in enumerate(row) if t == tok.eos_token_id), len(row))
        tokens += n
        answers.append(tok.decode(row[:n], skip_special_tokens=True))
    return answers, tokens, s


def oc_loop(prompts: list[str], max_new: int) -> tuple[list, float]:
    import openclosed as oc

    t0 = time.perf_counter()
    results = [oc.compare("text-generation", ["smollm2-135m"], [p], max_tokens=max_new, cache="off",
                          progress=False, on_partial=lambda *a: None).results[0] for p in prompts]
    return results, time.perf_counter() - t0


def paired_single(model, tok, prompts: list[str], max_new: int, device: str, raw_first: bool) -> dict:
    """(a): every prompt through the raw loop and through ``oc.compare``, back to back, the order alternating."""
    raw_texts, results, raw_tokens, raw_s, oc_s, pair_ratios = [], [], 0, 0.0, 0.0, []
    for j, p in enumerate(prompts):
        tps = {}
        for side in (("raw", "oc") if (j % 2 == 0) == raw_first else ("oc", "raw")):
            if side == "raw":
                texts, n, s = raw_loop(model, tok, [p], max_new, device)
                raw_texts += texts
                raw_tokens, raw_s, tps["raw"] = raw_tokens + n, raw_s + s, n / s
            else:
                rs, s = oc_loop([p], max_new)
                results += rs
                oc_s, tps["oc"] = oc_s + s, (rs[0].output_tokens or 0) / s
        pair_ratios.append(tps["oc"] / tps["raw"])
    return dict(raw_texts=raw_texts, raw_tokens=raw_tokens, raw_s=raw_s, oc_texts=[r.output for r in results],
                oc_tokens=sum(r.output_tokens or 0 for r in results), oc_s=oc_s, oc_ttft=[r.ttft_s for r in results],
                oc_errors=[str(r.error) for r in results if r.error], pair_ratios=pair_ratios)


def oc_batch(prompts: list[str], max_new: int) -> tuple[list, float]:
    import openclosed as oc

    t0 = time.perf_counter()
    run = oc.compare("text-generation", ["smollm2-135m"], prompts, max_tokens=max_new, cache="off", progress=False,
                     on_partial=lambda *a: None)
    return run.results, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=48, help="max_new_tokens")
    ap.add_argument("--no-served", action="store_true", help="skip the transformers serve column of (c)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "generation.json")
    args = ap.parse_args()

    import openclosed as oc
    from openclosed.core.settings import package_versions
    from openclosed.testing.stub_server import start_server

    tmp = Path(tempfile.mkdtemp(prefix="oc-bench-gen-"))
    settings = oc.setup("offline", responses_path=tmp / "responses", deadline_s=3600, verbose=False)
    prompts = (PROMPTS * ((args.prompts + len(PROMPTS) - 1) // len(PROMPTS)))[:args.prompts]
    loaded = oc.load_model("smollm2-135m")
    model, tok = loaded.model, loaded.tokenizer
    print(f"SmolLM2-135M-Instruct, {loaded.dtype} on {loaded.device}, {settings.threads} threads, "
          f"{len(prompts)} prompts x {args.tokens} new tokens, greedy, {args.rounds} alternating rounds")

    raw_loop(model, tok, prompts[:1], 4, loaded.device)  # warm-up (not timed)
    raw_batch(model, tok, prompts[:2], 4, loaded.device)
    oc_loop(prompts[:1], 4)
    oc_batch(prompts[:2], 4)

    rounds = []
    for k in range(args.rounds):
        order = ["single", "batch", "raw_batch"] if k % 2 == 0 else ["raw_batch", "batch", "single"]
        row: dict = {}
        for side in order:
            if side == "single":
                row.update(paired_single(model, tok, prompts, args.tokens, loaded.device, raw_first=k % 2 == 0))
            elif side == "raw_batch":
                texts, n, s = raw_batch(model, tok, prompts, args.tokens, loaded.device)
                row.update(raw_batch_texts=texts, raw_batch_tokens=n, raw_batch_s=s)
            else:
                rs, s = oc_batch(prompts, args.tokens)
                row.update(batch_texts=[r.output for r in rs], batch_tokens=sum(r.output_tokens or 0 for r in rs),
                           batch_s=s, batch_errors=[str(r.error) for r in rs if r.error])
        row["raw_tps"] = row["raw_tokens"] / row["raw_s"]
        row["oc_tps"] = row["oc_tokens"] / row["oc_s"]
        row["batch_tps"] = row["batch_tokens"] / row["batch_s"]
        row["raw_batch_tps"] = row["raw_batch_tokens"] / row["raw_batch_s"]
        row["batch_vs_raw_batch"] = row["batch_tps"] / row["raw_batch_tps"]
        row["single_ratio"] = row["oc_tps"] / row["raw_tps"]
        row["batch_ratio"] = row["batch_tps"] / row["raw_tps"]
        row["same_as_raw"] = sum(a == b for a, b in zip(row["raw_texts"], row["oc_texts"], strict=True))
        row["batch_same_as_raw"] = sum(a == b for a, b in zip(row["raw_texts"], row["batch_texts"], strict=True))
        print(f"round {k + 1}: raw loop {row['raw_tps']:.1f} tok/s | oc.compare one at a time {row['oc_tps']:.1f} "
              f"({row['single_ratio']:.2f}x) | oc.compare batched {row['batch_tps']:.1f} ({row['batch_ratio']:.2f}x; "
              f"raw batched generate {row['raw_batch_tps']:.1f}, oc/raw batched {row['batch_vs_raw_batch']:.2f}x) "
              f"| same text as raw: {row['same_as_raw']}/{len(prompts)} one at a time, "
              f"{row['batch_same_as_raw']}/{len(prompts)} batched", flush=True)
        rounds.append(row)

    # (c) time to first token, every family
    ttft: dict[str, float | None] = {"local (in this kernel)": statistics.median(
        t for r in rounds for t in r["oc_ttft"] if t is not None)}
    server, base_url = start_server(0.0)
    os.environ["OPENAI_BASE_URL"], os.environ["OPENAI_API_KEY"] = base_url, "sk-bench-loopback-not-a-key"
    oc.setup("offline", responses_path=tmp / "responses", deadline_s=3600, verbose=False)
    closed = oc.compare("text-generation", ["gpt-6-luna"], prompts, max_tokens=args.tokens, cache="off",
                        progress=False)
    ttft["closed (loopback stand-in server)"] = statistics.median(r.ttft_s for r in closed.results if r.ttft_s)
    server.shutdown()
    served_note = "skipped (--no-served)"
    if not args.no_served and hasattr(oc, "serve"):
        with oc.serve("smollm2-135m", task="text-generation") as served:
            oc.compare("text-generation", [served.name], prompts[:1], max_tokens=4, cache="off", progress=False)
            # one request at a time (what a single user waits), then all at once (the server queues them)
            alone = [oc.compare("text-generation", [served.name], [p], max_tokens=args.tokens, cache="off",
                                progress=False).results[0] for p in prompts]
            vals = [r.ttft_s for r in alone if r.ttft_s]
            ttft[f"served ({served.server.dtype}, one request at a time)"] = statistics.median(vals) if vals else None
            run = oc.compare("text-generation", [served.name], prompts, max_tokens=args.tokens, cache="off",
                             progress=False)
            queued = [r.ttft_s for r in run.results if r.ttft_s]
            ttft[f"served ({served.server.dtype}, {len(prompts)} at once: queued)"] = (
                statistics.median(queued) if queued else None)
            errors = [str(r.error) for r in [*alone, *run.results] if r.error]
            served_note = (f"{len(vals)}/{len(prompts)} answers alone, {len(queued)}/{len(prompts)} at once; "
                           f"errors: {errors[:2]}")
    elif not hasattr(oc, "serve"):
        served_note = "oc.serve is not available in this version"

    med = {k: statistics.median(r[k] for r in rounds) for k in ("raw_tps", "oc_tps", "batch_tps", "single_ratio",
                                                                 "batch_ratio", "raw_batch_tps", "batch_vs_raw_batch")}
    pairs = [x for r in rounds for x in r["pair_ratios"]]
    print("\nmedian over rounds:")
    print(f"  (a) one prompt at a time: oc.compare {med['oc_tps']:.1f} tok/s vs raw generate {med['raw_tps']:.1f} "
          f"-> {med['single_ratio']:.2f}x  (goal >= 0.95); "
          f"per prompt pair: median {statistics.median(pairs):.2f}x, range {min(pairs):.2f}-{max(pairs):.2f}x")
    print(f"  (b) {len(prompts)} prompts, one model: oc.compare {med['batch_tps']:.1f} tok/s vs the raw loop "
          f"-> {med['batch_ratio']:.2f}x  (goal >= 3); the plain library batched: {med['raw_batch_tps']:.1f} tok/s "
          f"(oc.compare / raw batched = {med['batch_vs_raw_batch']:.2f}x)")
    print("  (c) time to first token (median):")
    for k, v in ttft.items():
        print(f"      {k:42s} {'-' if v is None else f'{v * 1000:.0f} ms'}")
    print(f"      served: {served_note}")
    write_results(args.out.stem, {
        "model": "smollm2-135m", "dtype": loaded.dtype, "device": loaded.device, "threads": settings.threads,
        "prompts": len(prompts), "max_new_tokens": args.tokens, "rounds": rounds, "median": med,
        "pair_ratio_median": statistics.median(pairs), "ttft_s": ttft,
        "served": served_note, "load_average": os.getloadavg(), "cpu_count": os.cpu_count(),
        "platform": platform.platform(), "versions": package_versions(),
    }, dtype=str(loaded.dtype), folder=args.out.parent)


if __name__ == "__main__":
    main()
