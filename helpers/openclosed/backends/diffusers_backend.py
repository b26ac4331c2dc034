"""Open image models in this kernel with diffusers. A seed means the same
image on every device (the generator lives on the CPU)."""

from __future__ import annotations

import time

from ..loading import load_model
from ..pricing import local_cost
from .base import Item, RunContext, error_info, new_result, peak_rss


def run(spec, items: list[Item], ctx: RunContext) -> None:
    import torch

    loaded = load_model(spec)
    pipe, p = loaded.model, ctx.params
    size = p.get("size")
    for item in items:
        r = new_result(spec, ctx.task, *item)
        kwargs = {"num_inference_steps": int(p.get("steps", 4)), "guidance_scale": float(p.get("guidance_scale", 0.0)),
                  "generator": torch.Generator("cpu").manual_seed(int(p.get("seed") or 0))}
        if size:
            kwargs["height"] = kwargs["width"] = int(size)
        if p.get("negative_prompt"):
            kwargs["negative_prompt"] = p["negative_prompt"]
        with peak_rss() as mem:
            r.started_at = time.time()
            t0 = time.perf_counter()
            try:
                with torch.inference_mode():
                    r.image = pipe(item[1], **kwargs).images[0]
            except Exception as exc:
                r.error = error_info(exc)
            r.latency_s = time.perf_counter() - t0
            r.ended_at = time.time()
        r.peak_memory_mb = mem["mb"]
        r.cost_usd, r.cost_basis = local_cost(r.latency_s)
        if r.image is not None:
            r.output = f"{r.image.width}x{r.image.height} image"
            r.notes.append(f"{kwargs['num_inference_steps']} steps, seed {p.get('seed') or 0}, {loaded.dtype}")
        if spec.random_weights:
            r.notes.append("random weights: the image is noise, it proves the plumbing")
        ctx.emit(r)
