"""Image generation: one image per prompt, with the seed, steps and size that
make it again. Sizes are checked against what this machine can draw before
any model runs."""

from __future__ import annotations

from typing import Any

from ..core.errors import BadParameterError
from ..core.settings import Settings
from .base import SEED, Task, int_between, number_between, text

IMAGE_OUTPUT_TOKENS = 1056  # output tokens of one 1024x1024 medium-quality gpt-image-1 image (for estimates)
MAX_SIZE = {"cuda": 2048, "mps": 1024, "cpu": 1024}
# Measured on 2 CPU cores, float32: a 512x512 Stable Diffusion 1.x UNet step takes ~3-6 s; time grows with pixels
# (and attention with their square): sizes past MAX_SIZE would take many minutes per image here.


def check_size(name: str, value: Any, settings: Settings) -> int | str:
    """A square size in pixels (multiple of 8, from 64 to the device's limit), or an API size string "WxH"."""
    if isinstance(value, str):
        parts = value.lower().split("x")
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            return value.lower()
        if value == "auto":
            return value
        raise BadParameterError(f"{name}={value!r} is not a size", f"pass {name}=512 (pixels) or {name}='1024x1024'")
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadParameterError(f"{name}={value!r} is not a size in pixels", f"pass a whole number such as {name}=512")
    limit = MAX_SIZE.get(settings.device, 1024)
    if value < 64 or value % 8:
        raise BadParameterError(f"{name}={value} cannot be drawn: Stable Diffusion needs a multiple of 8, at least 64",
                                f"use e.g. {name}={max(64, value - value % 8)}")
    if value > limit:
        megapixels = value * value / 1e6
        raise BadParameterError(
            f"{name}={value} is too large for this {settings.device.upper()}: {megapixels:.1f} megapixels per image, "
            f"{(value / 512) ** 2:.0f}x the pixels of 512x512 (and attention grows faster than that); on CPU it "
            "would take many minutes and gigabytes per image",
            f"use {name} of at most {limit} on {settings.device}; draw small, then upscale")
    return value


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
)
