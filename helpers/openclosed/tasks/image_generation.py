"""Image generation: one image per prompt, with the seed, steps and size that
make it again. Sizes are checked against what this machine can draw before
any model runs."""

from __future__ import annotations

from typing import Any

from ..core.errors import BadParameterError
from ..core.settings import Settings
from ..engine.pricing import IMAGE_OUTPUT_TOKENS
from .base import SEED, Task, int_between, number_between, text

MAX_SIZE = {"cuda": 2048, "mps": 1024, "cpu": 1024}
# Measured on 2 CPU cores, float32: a 512x512 Stable Diffusion 1.x UNet step takes ~3-6 s; time grows with pixels
# (and attention with their square): sizes past MAX_SIZE would take many minutes per image here.


def sides(size: int | str | None) -> tuple[int, int] | None:
    """(width, height) of a checked size, or None for the model's default ("auto" or None)."""
    if size is None or size == "auto":
        return None
    if isinstance(size, str):
        w, h = size.split("x")
        return int(w), int(h)
    return size, size


def check_size(name: str, value: Any, _settings: Settings) -> int | str:
    """A square size in pixels (a multiple of 8, at least 64), "WxH", or "auto"."""
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
        if side < 64 or side % 8:
            raise BadParameterError(f"{name}={value!r} cannot be drawn: each side must be a multiple of 8, at least 64",
                                    f"use e.g. {name}={max(64, side - side % 8)}")
    return value


def check_local_size(params: dict[str, Any], settings: Settings) -> None:
    """Refuse sizes this machine cannot draw in reasonable time and memory (local models only: APIs have their own)."""
    wh = sides(params.get("size"))
    limit = MAX_SIZE.get(settings.device, 1024)
    if wh and max(wh) > limit:
        megapixels = wh[0] * wh[1] / 1e6
        raise BadParameterError(
            f"size={params['size']!r} is too large for this {settings.device.upper()}: {megapixels:.1f} megapixels per "
            f"image, {wh[0] * wh[1] / 512**2:.0f}x the pixels of 512x512 (and attention grows faster than that); "
            "it would take many minutes and gigabytes per image",
            f"use sizes of at most {limit} on {settings.device} for models that run here; draw small, then upscale")


TASK = Task(
    name="image-generation",
    defaults={"steps": 4, "size": None, "guidance_scale": 0.0, "seed": 0},
    checks={
        "steps": int_between(1, 150, "1-4 for turbo models, 20-50 for classic Stable Diffusion"),
        "size": check_size,
        "guidance_scale": number_between(0.0, 30.0, "0 for turbo models, about 7.5 for classic Stable Diffusion"),
        "seed": SEED,
        "negative_prompt": text,
    },
    input_help="one prompt",
    example="a watercolor painting of a lighthouse at dawn",
    billed_output_tokens=lambda params: IMAGE_OUTPUT_TOKENS,
    check_local=check_local_size,
)
