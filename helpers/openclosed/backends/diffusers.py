"""Open image models in this kernel with diffusers. A seed means the same
image on every device (the generator lives on the CPU)."""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path

from ..core.errors import DeadlineError
from ..core.settings import Settings
from ..engine.context import Item, RunContext, error_info, peak_memory
from ..engine.loaded import Loaded, torch_dtype
from ..engine.pricing import local_cost
from .files import model_files

LOCAL = True


def load(spec, settings: Settings) -> Loaded:
    from transformers.utils import logging as hf_logging

    started = time.perf_counter()
    files = model_files(spec, settings)
    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "CLIPImageProcessor requires torchvision": not needed to draw, so not shown
    try:
        import diffusers

        extra, notes = _without_safety_checker(files.where)
        pipe = diffusers.DiffusionPipeline.from_pretrained(files.where, dtype=torch_dtype(settings.dtype),
                                                           use_safetensors=True, **files.kwargs, **extra)
    finally:
        hf_logging.set_verbosity(before)
    pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(settings.device)
    return Loaded(spec, pipe, folder=files.where, dtype=settings.dtype, device=settings.device,
                  load_s=time.perf_counter() - started, random_weights=files.random_weights,
                  stand_in=files.stand_in, notes=([files.note] if files.note else []) + notes)


def _without_safety_checker(where: str) -> tuple[dict, list[str]]:
    """Stable Diffusion 1.x folders ship a safety checker (a 300M-parameter CLIP vision model, 1.2 GB in
    float32) that would not fit a 2 GB machine next to the pipeline: it is not loaded, and results say so."""
    index = Path(where) / "model_index.json"
    try:
        entry = json.loads(index.read_text()).get("safety_checker")
    except (OSError, ValueError):
        return {}, []
    if not entry or entry == [None, None]:
        return {}, []
    return ({"safety_checker": None, "requires_safety_checker": False},
            ["the safety checker is not loaded (memory): images are not filtered for unsafe content"])


def run(loaded: Loaded, items: list[Item], ctx: RunContext) -> None:
    import torch

    pipe, p, spec = loaded.model, ctx.params, ctx.spec
    size = p.get("size")
    for item in items:
        r = ctx.result(item)
        kwargs = {"num_inference_steps": int(p.get("steps", 4)), "guidance_scale": float(p.get("guidance_scale", 0.0)),
                  "generator": torch.Generator("cpu").manual_seed(int(p.get("seed") or 0))}
        if isinstance(size, str) and "x" in size:
            kwargs["width"], kwargs["height"] = (int(v) for v in size.split("x"))
        elif size and size != "auto":
            kwargs["height"] = kwargs["width"] = int(size)
        if p.get("negative_prompt"):
            kwargs["negative_prompt"] = p["negative_prompt"]
        deadline = float(ctx.settings.deadline_s)
        stopped = {"at_step": None}

        def stop_at_deadline(pipeline, step, timestep, callback_kwargs):  # noqa: ARG001 - diffusers' signature
            if time.perf_counter() - t0 > deadline:
                stopped["at_step"] = step + 1
                pipeline._interrupt = True  # diffusers skips the remaining steps
            return callback_kwargs

        if "callback_on_step_end" in inspect.signature(pipe.__call__).parameters:
            kwargs["callback_on_step_end"] = stop_at_deadline
        with peak_memory(loaded.device) as mem:
            r.started_at = time.time()
            t0 = time.perf_counter()
            try:
                with torch.inference_mode():
                    r.image = pipe(item[1], **kwargs).images[0]
            except Exception as exc:
                r.error = error_info(exc)
            if stopped["at_step"] is not None:
                r.image = None  # half-denoised: not the image that was asked for
                r.error = error_info(DeadlineError(
                    f"stopped after {stopped['at_step']} of {kwargs['num_inference_steps']} steps: the "
                    f"{deadline:g} s deadline passed", "use fewer steps or a smaller size, or raise "
                    "oc.setup(deadline_s=...)"))
            r.latency_s = time.perf_counter() - t0
            r.ended_at = time.time()
        r.peak_memory_mb = mem["mb"]
        r.cost_usd, r.cost_basis = local_cost(r.latency_s, ctx.settings.local_usd_per_hour)
        if r.image is not None:
            r.output = f"{r.image.width}x{r.image.height} image"
            r.notes.append(f"{kwargs['num_inference_steps']} steps, seed {p.get('seed') or 0}, {loaded.dtype}")
        if spec.random_weights or loaded.random_weights:
            r.notes.append("random weights: the image is noise, it proves the plumbing")
        ctx.emit(r)
