"""Image generation: one image per prompt, with the seed, steps and size that
make it again. Sizes are checked against what this machine can draw before
any model runs."""

from __future__ import annotations

from typing import Any

from ..backends.diffusers import SCHEDULERS
from ..core.errors import BadParameterError
from ..core.settings import Settings
from ..engine.pricing import image_output_tokens
from .base import SEED, Task, int_between, number_between, text

# Measured on 2 CPU cores, float32: a 512x512 Stable Diffusion 1.x UNet step (860M parameters) takes ~3-6 s; the
# estimate below scales that with parameters and pixels (attention grows with the square of the latent positions).
MAX_SIZE = {"cuda": 2048, "mps": 1024, "cpu": 1024}
"""Largest side drawn here whatever the estimate says (beyond it the estimate itself is guesswork)."""
SD_STEP_S_2CPU = 4.5
SD_PARAMS_M = 860
GPU_SPEEDUP = 40


def sides(size: int | str | None) -> tuple[int, int] | None:
    """(width, height) of a checked size, or None for the model's default ("auto" or None)."""
    if size is None or size == "auto":
        return None
    if isinstance(size, str):
        w, h = size.split("x")
        return int(w), int(h)
    return size, size


def check_size(name: str, value: Any, _settings: Settings) -> int | str:
    """A square size in pixels (a multiple of 8, at least 32), "WxH", or "auto"."""
    if isinstance(value, str):
        parts = value.lower().split("x")
        if value == "auto":
            return value
        if not (len(parts) == 2 and all(p.isdigit() for p in parts)):
            raise BadParameterError(f"{name}={value!r} is not a size", f"pass {name}=512 (pixels) or {name}='1024x1024'")
        value = value.lower()
    elif isinstance(value, bool) or not isinstance(value, int):
        raise BadParameterError(f"{name}={value!r} is not a size in pixels", f"pass a whole number such as {name}=512")
    for side in sides(value):
        if side < 32 or side % 8:
            raise BadParameterError(f"{name}={value!r} cannot be drawn: each side must be a multiple of 8, at least 32",
                                    f"use e.g. {name}={max(32, side - side % 8)}")
    return value


def estimate_local(spec, width: int, height: int, steps: int, guidance_scale: float,
                   settings: Settings) -> tuple[float, float]:
    """(seconds, GB) one image of ``width`` x ``height`` would take here with ``spec``: a rough estimate from the
    model's measured seconds per step at its native size (catalog preset ``step_s_2cpu``; else Stable Diffusion
    1.x's, scaled by parameters), grown with the pixels to the power 1.3 (convolutions grow with them, attention
    faster), classifier-free guidance (two UNet passes when guidance > 1), threads and device. Memory: the weights
    plus one attention map at the UNet's first level."""
    preset = spec.extra.get("preset", {})
    if preset.get("step_s_2cpu"):
        native, step_s = preset.get("size") or 512, preset["step_s_2cpu"]
    else:
        native, step_s = 512, SD_STEP_S_2CPU * max(spec.params_m or SD_PARAMS_M, 1) / SD_PARAMS_M
    factor = preset.get("latent_factor", 8)
    ratio = width * height / native**2
    passes = 2 if guidance_scale > 1 else 1
    native_passes = 2 if preset.get("guidance_scale", 7.5) > 1 else 1
    seconds = step_s * (ratio**1.3 if ratio > 1 else ratio) * steps * passes / native_passes * 2 / max(settings.threads, 1)
    if settings.device != "cpu":
        seconds /= GPU_SPEEDUP
    positions = (width / factor) * (height / factor)
    weights_gb = (spec.params_m or SD_PARAMS_M) * 1e6 * (2 if settings.dtype != "float32" else 4) / 1e9
    attention_gb = positions**2 * 8 * 4 * passes / 1e9  # 8 heads, float32 scores
    return seconds, weights_gb + attention_gb


def check_local_size(params: dict[str, Any], settings: Settings, specs=()) -> None:
    """Refuse, before anything runs, an image this machine cannot draw within the deadline and its memory (local
    models only: APIs have their own limits); the message gives the estimate."""
    import psutil

    wh = sides(params.get("size"))
    if not wh:
        return
    limit = MAX_SIZE.get(settings.device, 1024)
    if max(wh) > limit:
        megapixels = wh[0] * wh[1] / 1e6
        raise BadParameterError(
            f"size={params['size']!r} is too large for this {settings.device.upper()}: {megapixels:.1f} megapixels per "
            f"image, {wh[0] * wh[1] / 512**2:.0f}x the pixels of 512x512 (and attention grows faster than that); "
            + "; ".join(f"{spec.name}: about {_duration(sec)} and {gb:,.1f} GB per image" for spec in specs
                        for sec, gb in [estimate_local(spec, wh[0], wh[1], _steps(spec, params),
                                                       _guidance(spec, params), settings)]),
            f"use sizes of at most {limit} (e.g. size={limit}) on {settings.device} for models that run here; draw "
            "small, then upscale")
    free_gb = psutil.virtual_memory().available / 1e9
    for spec in specs:
        steps, guidance = _steps(spec, params), _guidance(spec, params)
        seconds, gb = estimate_local(spec, wh[0], wh[1], steps, guidance, settings)
        if seconds > settings.deadline_s or gb > free_gb or max(wh) > MAX_SIZE.get(settings.device, 1024):
            raise BadParameterError(
                f"size={params['size']!r} is too large for {spec.name} on this {settings.device.upper()}: about "
                f"{_duration(seconds)} and {gb:,.1f} GB per image at {steps} steps (this machine has {free_gb:.1f} GB "
                f"free; the deadline is {settings.deadline_s:g} s; the largest side drawn on {settings.device} is "
                f"{MAX_SIZE.get(settings.device, 1024)})",
                f"draw smaller (e.g. size={_fitting(spec, steps, guidance, settings, free_gb)}) and upscale, use "
                "fewer steps, or run it on a GPU")


def _steps(spec, params: dict[str, Any]) -> int:
    return params.get("steps") or spec.extra.get("preset", {}).get("steps", 20)


def _guidance(spec, params: dict[str, Any]) -> float:
    g = params.get("guidance_scale")
    return spec.extra.get("preset", {}).get("guidance_scale", 7.5) if g is None else g


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:,.0f} h"


def _fitting(spec, steps: int, guidance: float, settings: Settings, free_gb: float) -> int:
    side = 32
    while side * 2 <= MAX_SIZE.get(settings.device, 1024):
        seconds, gb = estimate_local(spec, side * 2, side * 2, steps, guidance, settings)
        if seconds > settings.deadline_s or gb > free_gb:
            break
        side *= 2
    return side


def check_scheduler(name: str, value: Any, _settings: Settings) -> str:
    """One of the schedulers the diffusers backend knows (``default``: the one saved with the model)."""
    if value not in SCHEDULER_NAMES:
        raise BadParameterError(f"{name}={value!r} is not a scheduler here", f"use one of {', '.join(SCHEDULER_NAMES)}")
    return value


SCHEDULER_NAMES = tuple(SCHEDULERS)
QUALITIES = ("low", "medium", "high", "auto", "standard", "hd")


def check_quality(name: str, value: Any, _settings: Settings) -> str:
    """Closed APIs' quality: gpt-image-2 low / medium / high / auto; dall-e-3 standard / hd."""
    if value not in QUALITIES:
        raise BadParameterError(f"{name}={value!r} is not an image quality",
                                "gpt-image-2 takes low, medium, high or auto; dall-e-3 takes standard or hd")
    return value


TASK = Task(
    name="image-generation",
    defaults={"steps": None, "size": None, "guidance_scale": None, "seed": 0, "scheduler": None, "batch_size": None},
    checks={
        "steps": int_between(1, 150, "1-4 for turbo models, 20-50 for classic Stable Diffusion"),
        "scheduler": check_scheduler,
        "batch_size": int_between(1, 64, "prompts drawn in one pipeline call"),
        "size": check_size,
        "guidance_scale": number_between(0.0, 30.0, "0 for turbo models, about 7.5 for classic Stable Diffusion"),
        "seed": SEED,
        "negative_prompt": text,
        "quality": check_quality,
    },
    input_help="one prompt",
    example="a watercolor painting of a lighthouse at dawn",
    billed_output_tokens=lambda params: image_output_tokens(
        params.get("size") if isinstance(params.get("size"), str) else None, params.get("quality")),
    check_local=check_local_size,
)
