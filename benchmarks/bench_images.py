"""Per-image time through ``oc.compare`` against the same diffusers pipeline called directly, in one run.

The same loaded pipeline (``oc.load_model``), prompts, seed, steps, guidance and size on both sides; alternating
rounds (direct, helper, direct, helper, ...) so a busy machine slows both alike; the response cache off.

  (a) direct, one call per prompt: ``pipe(prompt, generator=torch.Generator("cpu").manual_seed(seed), ...)``;
  (b) direct, batched: one ``pipe(prompts, generator=[one generator per prompt], ...)`` call, as the helper does;
  (c) ``oc.compare("image-generation", [model], prompts, ...)`` (batched by the model's preset).

Prints per-image medians and the ratios (c)/(b) (goal: within 5%) and (c)/(a), and writes
``benchmarks/results/images.json``.

    python benchmarks/bench_images.py [--model mini-sd] [--prompts 12] [--steps 20] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from results_file import write_results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENCLOSED_CACHE_DIR", str(ROOT / ".cache" / "openclosed"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mini-sd")
    ap.add_argument("--prompts", type=int, default=12)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import numpy as np
    import torch

    import openclosed as oc
    from openclosed.backends.diffusers import generation, pipe_kwargs

    settings = oc.setup(verbose=False)
    loaded = oc.load_model(args.model)
    pipe = loaded.model
    prompts = oc.adherence_prompts(3)[: args.prompts]
    params = {"steps": args.steps, "seed": args.seed}
    g = generation(loaded.spec, params)

    def direct_loop() -> list:
        with torch.inference_mode():
            return [pipe(p, **pipe_kwargs(g, 1)).images[0] for p in prompts]

    def direct_batched() -> list:
        out = []
        step = int(g["batch_size"] or 1)
        with torch.inference_mode():
            for at in range(0, len(prompts), step):
                chunk = prompts[at:at + step]
                out += pipe(chunk, **pipe_kwargs(g, len(chunk))).images
        return out

    def helper() -> list:
        run = oc.compare("image-generation", [args.model], prompts, cache="off", progress=False, **params)
        bad = [r.error for r in run.results if not r.ok]
        if bad:
            raise SystemExit(f"oc.compare failed: {bad[0]}")
        return [r.image for r in run.results]

    ways = {"direct, one call per prompt": direct_loop, "direct, batched": direct_batched, "oc.compare": helper}
    direct_loop(), helper()  # warm up (first calls allocate)
    times: dict[str, list[float]] = {k: [] for k in ways}
    images: dict[str, list] = {}
    for _ in range(args.rounds):
        for name, fn in ways.items():
            t0 = time.perf_counter()
            images[name] = fn()
            times[name].append((time.perf_counter() - t0) / len(prompts))
    per_image = {k: statistics.median(v) for k, v in times.items()}
    same = all(np.array_equal(np.asarray(a), np.asarray(b))
               for a, b in zip(images["direct, batched"], images["oc.compare"]))
    ratio_batched = per_image["oc.compare"] / per_image["direct, batched"]
    ratio_loop = per_image["oc.compare"] / per_image["direct, one call per prompt"]

    print(f"{args.model}: {len(prompts)} prompts, {args.steps} steps, guidance {g['guidance_scale']}, "
          f"batch {g['batch_size']}, {settings.device} {loaded.dtype}, {settings.threads} thread(s), "
          f"median of {args.rounds} alternating rounds")
    for name, v in per_image.items():
        print(f"  {name:<30} {v * 1000:8.1f} ms per image")
    print(f"  oc.compare / direct batched      {ratio_batched:8.3f}x  (goal <= 1.05)")
    print(f"  oc.compare / direct one-by-one   {ratio_loop:8.3f}x")
    print(f"  identical pixels (helper vs direct batched): {same}")
    write_results("images", {
        "model": args.model, "prompts": len(prompts), "steps": args.steps, "rounds": args.rounds,
        "batch_size": g["batch_size"], "device": settings.device, "dtype": loaded.dtype, "threads": settings.threads,
        "per_image_s": per_image, "rounds_s": times, "ratio_vs_direct_batched": ratio_batched,
        "ratio_vs_direct_loop": ratio_loop, "identical_pixels": same, "platform": platform.platform(),
    }, dtype=str(loaded.dtype))


if __name__ == "__main__":
    main()
