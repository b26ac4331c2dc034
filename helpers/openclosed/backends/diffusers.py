"""Open image models in this kernel with diffusers. A seed means the same
image on every device (the generator lives on the CPU)."""

from __future__ import annotations

import inspect
import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..core.errors import CancelledError, DeadlineError
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
        pipe = diffusers.AutoPipelineForText2Image.from_pretrained(files.where, dtype=torch_dtype(settings.dtype),
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


PRESET = {"steps": 20, "guidance_scale": 7.5, "scheduler": "default", "batch_size": 1}
"""Settings for a model whose catalog entry has no ``extra["preset"]`` (classic Stable Diffusion values)."""

SCHEDULERS = {
    "default": None,  # the one saved with the model
    "dpm++": "DPMSolverMultistepScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler-a": "EulerAncestralDiscreteScheduler",
    "ddim": "DDIMScheduler",
    "pndm": "PNDMScheduler",
    "lms": "LMSDiscreteScheduler",
}
"""Schedulers a run may pick (``scheduler=``): short name -> diffusers class."""

_cancel = threading.Event()


def request_cancel() -> None:
    """Stop the image being drawn after its current step (the panel's Cancel button); later images are skipped."""
    _cancel.set()


def generation(spec, params: dict[str, Any]) -> dict[str, Any]:
    """The settings that make an image: the run's parameters, the model's preset where a parameter is not given."""
    preset = {**PRESET, **spec.extra.get("preset", {})}
    g = {k: params.get(k) if params.get(k) is not None else preset.get(k)
         for k in ("steps", "guidance_scale", "scheduler", "batch_size", "size")}
    g["seed"] = int(params.get("seed") or 0)
    g["negative_prompt"] = params.get("negative_prompt") or ""
    size = g["size"]
    if isinstance(size, str) and "x" in size:
        g["width"], g["height"] = (int(v) for v in size.split("x"))
    elif size and size != "auto":
        g["width"] = g["height"] = int(size)
    return g


@contextmanager
def scheduler(pipe, name: str | None):
    """Swap the pipeline's scheduler for ``name`` (from the saved one's configuration) for one run."""
    if not name or SCHEDULERS.get(name) is None:
        yield pipe.scheduler
        return
    import diffusers

    saved = pipe.scheduler
    pipe.scheduler = getattr(diffusers, SCHEDULERS[name]).from_config(saved.config)
    try:
        yield pipe.scheduler
    finally:
        pipe.scheduler = saved


def pipe_kwargs(g: dict[str, Any], n: int) -> dict[str, Any]:
    """Keyword arguments of ``pipe(prompts, **kwargs)`` for ``n`` prompts: one CPU generator per image, so an
    image is the same whether drawn alone or in a batch, on any device."""
    import torch

    kwargs = {"num_inference_steps": int(g["steps"]), "guidance_scale": float(g["guidance_scale"]),
              "generator": [torch.Generator("cpu").manual_seed(g["seed"]) for _ in range(n)]}
    if "width" in g:
        kwargs["width"], kwargs["height"] = g["width"], g["height"]
    if g["negative_prompt"]:
        kwargs["negative_prompt"] = [g["negative_prompt"]] * n
    return kwargs


def run(loaded: Loaded, items: list[Item], ctx: RunContext) -> None:
    """Draw one image per prompt; prompts go through the pipeline ``batch_size`` at a time (one call per batch)."""
    import torch
    from tqdm.auto import tqdm

    pipe, spec = loaded.model, ctx.spec
    g = generation(spec, ctx.params)
    steps, batch = int(g["steps"]), max(1, int(g["batch_size"] or 1))
    deadline = float(ctx.settings.deadline_s)
    record = {k: g[k] for k in ("steps", "guidance_scale", "seed", "negative_prompt")}
    _cancel.clear()
    bar = tqdm(total=len(items) * steps, desc=f"{spec.name}: denoising steps", leave=False, mininterval=0.5,
               disable=len(items) * steps < 8)
    try:
        with scheduler(pipe, g["scheduler"]) as sched:
            record["scheduler"] = type(sched).__name__
            for at in range(0, len(items), batch):
                chunk = items[at:at + batch]
                _draw(pipe, loaded, chunk, g, ctx, record, deadline, bar)
    finally:
        bar.close()


def _draw(pipe, loaded: Loaded, chunk: list[Item], g, ctx: RunContext, record, deadline: float, bar) -> None:
    import torch

    kwargs = pipe_kwargs(g, len(chunk))
    steps = kwargs["num_inference_steps"]
    stopped: dict[str, Any] = {"at_step": None, "why": None}
    results = [ctx.result(item) for item in chunk]
    if _cancel.is_set():
        stopped["why"] = "cancel"
    else:
        def on_step(pipeline, step, timestep, callback_kwargs):  # noqa: ARG001 - diffusers' signature
            bar.update(len(chunk))
            why = "cancel" if _cancel.is_set() else "deadline" if time.perf_counter() - t0 > deadline else None
            if why:
                stopped["at_step"], stopped["why"] = step + 1, why
                pipeline._interrupt = True  # diffusers skips the remaining steps
            return callback_kwargs

        if "callback_on_step_end" in inspect.signature(pipe.__call__).parameters:
            kwargs["callback_on_step_end"] = on_step
        images, error = None, None
        with peak_memory(loaded.device) as mem:
            started = time.time()
            t0 = time.perf_counter()
            try:
                with torch.inference_mode():
                    images = pipe([t for _, t in chunk], **kwargs).images
            except Exception as exc:
                error = error_info(exc)
            elapsed = time.perf_counter() - t0
            ended = time.time()
    for k, r in enumerate(results):
        if stopped["why"] == "cancel":
            r.error = error_info(CancelledError(
                "cancelled" + (f" after {stopped['at_step']} of {steps} steps" if stopped["at_step"] else
                               " before it started"), "run it again when you want this image"))
        elif stopped["why"] == "deadline":
            r.error = error_info(DeadlineError(
                f"stopped after {stopped['at_step']} of {steps} steps: the {deadline:g} s deadline passed",
                "use fewer steps or a smaller size, or raise oc.setup(deadline_s=...)"))
        elif error is not None:
            r.error = error
        else:
            r.image = images[k]
        if stopped["why"] != "cancel" or stopped["at_step"]:
            r.started_at, r.ended_at = started, ended
            r.latency_s = elapsed / len(chunk)
            r.peak_memory_mb = mem["mb"]
            r.cost_usd, r.cost_basis = local_cost(r.latency_s, ctx.settings.local_usd_per_hour)
        if r.image is not None:  # a half-denoised picture is not the image that was asked for: never kept
            r.output = f"{r.image.width}x{r.image.height} image"
            r.notes.append(f"{steps} steps, guidance {g['guidance_scale']:g}, seed {g['seed']}, {record['scheduler']}, "
                           f"{loaded.dtype}")
            if ctx.params.get("quality"):
                r.notes.append("quality= is a closed API's setting: not used here (steps and size are)")
            if len(chunk) > 1:
                r.notes.append(f"drawn in one pipeline call with {len(chunk)} prompts (time shared equally)")
            r.generation = json.dumps({**record, "width": r.image.width, "height": r.image.height,
                                       "dtype": loaded.dtype, "device": loaded.device})
        if ctx.spec.random_weights or loaded.random_weights:
            r.notes.append("random weights: the image is noise, it proves the plumbing")
        ctx.emit(r)


def denoising_steps(loaded: Loaded, prompt: str, params: dict[str, Any], every: int = 1) -> list[tuple[int, Any]]:
    """[(step, picture)]: the latents decoded by the autoencoder after every ``every`` steps, then the final image
    (what "diffusion" looks like from the inside; notebook 03)."""
    import torch

    pipe = loaded.model
    g = generation(loaded.spec, params)
    kwargs = pipe_kwargs(g, 1)
    frames: list[tuple[int, Any]] = []

    def keep(pipeline, step, timestep, callback_kwargs):  # noqa: ARG001 - diffusers' signature
        if (step + 1) % every == 0:
            lat = callback_kwargs["latents"] / pipeline.vae.config.scaling_factor
            img = pipeline.vae.decode(lat.to(pipeline.vae.dtype)).sample
            frames.append((step + 1, pipeline.image_processor.postprocess(img, output_type="pil")[0]))
        return callback_kwargs

    with scheduler(pipe, g["scheduler"]), torch.inference_mode():
        pipe(prompt, callback_on_step_end=keep, callback_on_step_end_tensor_inputs=["latents"], **kwargs)
    return frames


def encode_decode(loaded: Loaded, picture: Any) -> tuple[Any, Any]:
    """(latent, decoded picture): ``picture`` (a PIL image) through the pipeline's own image processor, in the
    pipeline's device and dtype, into the autoencoder's latent space and back (notebook 03). The latent comes
    back as a float32 CPU tensor of shape (1, channels, h, w), whatever the dtype it was computed in."""
    import torch

    pipe = loaded.model
    x = pipe.image_processor.preprocess(picture).to(device=pipe.vae.device, dtype=pipe.vae.dtype)
    with torch.inference_mode():
        latent = pipe.vae.encode(x).latent_dist.mean
        decoded = pipe.vae.decode(latent).sample
    return latent.float().cpu(), pipe.image_processor.postprocess(decoded, output_type="pil")[0]


def draw_one(loaded: Loaded, prompt: str, params: dict[str, Any]) -> Any:
    """One picture of ``prompt`` with the settings a run of ``params`` would use, outside any run (no cache, no
    timing): for comparing the same recipe across two loads of a model, e.g. in two dtypes."""
    import torch

    g = generation(loaded.spec, params)
    with scheduler(loaded.model, g["scheduler"]), torch.inference_mode():
        return loaded.model(prompt, **pipe_kwargs(g, 1)).images[0]
