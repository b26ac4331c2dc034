"""Image generation through ``images.generate``, decoded to a PIL image."""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any

from ...core.errors import SpendingCapError
from ...engine.context import Item, RunContext, error_info
from ...engine.pricing import image_output_tokens, per_image_cost, reserve
from ...engine.results import Result
from .accounting import call_failed, done, malformed, price, read_usage, reserve_estimate, settle_cost
from .client import run_with_deadline


def image(spec, client, item: Item, ctx: RunContext) -> Result:
    p = ctx.params
    r = ctx.result(item)
    size = p.get("size")
    if isinstance(size, (list, tuple)):
        size = f"{size[0]}x{size[1]}"
    if isinstance(size, int):
        size = f"{size}x{size}"
    per_image = spec.ref.startswith("dall-e")
    try:
        if per_image:
            reserved = per_image_cost(spec.ref, size, p.get("quality"))[0] or 0.0
            reserve(ctx.settings, reserved, f"{spec.name} on one image")
        else:
            reserved = reserve_estimate(ctx, item[1], image_output_tokens(size, p.get("quality")))
    except SpendingCapError as exc:
        r.error = error_info(exc)
        return r
    kwargs: dict[str, Any] = dict(model=spec.ref, prompt=item[1], n=1)
    if size:
        kwargs["size"] = size
    if p.get("quality"):
        kwargs["quality"] = p["quality"]
    if not spec.ref.startswith("gpt-image"):  # gpt-image-* always answer in base64 and refuse the parameter
        kwargs["response_format"] = "b64_json"
    ignored = [k for k in ("steps", "guidance_scale", "seed", "scheduler", "negative_prompt", "batch_size")
               if p.get(k) not in (None, 0, 0.0, "")]
    if ignored:
        r.notes.append(f"not sent (the images API has no such parameter): {', '.join(ignored)}")
    r.started_at = time.time()
    t0 = time.perf_counter()
    try:
        resp = run_with_deadline(lambda: client.images.generate(**kwargs), float(ctx.settings.deadline_s))
    except Exception as exc:
        return call_failed(r, t0, ctx, client, reserved, exc, "image", float(ctx.settings.deadline_s),
                            "raise oc.setup(deadline_s=...), or use a smaller size")
    done(r, t0)
    try:
        data = resp.data[0]
        raw = base64.b64decode(data.b64_json) if data.b64_json else _fetch(spec, data.url)
        from PIL import Image

        with Image.open(io.BytesIO(raw)) as im:
            r.image = im.copy()
        if getattr(data, "revised_prompt", None):
            r.notes.append(f"the API rewrote the prompt: {data.revised_prompt}")
        r.answered_by = getattr(resp, "model", None) or spec.ref
        r.output_tokens = None
        read_usage(r, getattr(resp, "usage", None))
        r.output = f"{r.image.width}x{r.image.height} image"
    except Exception as exc:  # noqa: BLE001 - not an image
        return malformed(r, ctx, reserved, f"the response holds no readable image ({type(exc).__name__}: {exc})")
    if per_image:
        r.cost_usd, r.cost_basis = per_image_cost(spec.ref, size, p.get("quality"))
    else:
        price(spec, r)
    r.generation = json.dumps({k: v for k, v in (("size", size), ("quality", p.get("quality"))) if v})
    settle_cost(ctx, reserved, r.cost_usd)
    return r


def _fetch(spec, url: str | None) -> bytes:
    if not url:
        raise ValueError("neither b64_json nor url in the response")
    import httpx2

    http = spec.extra.get("http_client")
    if http is not None:
        return http.get(url).raise_for_status().content
    with httpx2.Client(timeout=60) as c:
        return c.get(url).raise_for_status().content


