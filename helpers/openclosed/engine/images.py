"""Images in text form (base64 PNG), for the response cache and HTML."""

from __future__ import annotations

import base64
import io
from typing import Any


def image_to_b64(img: Any) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def image_from_b64(data: str) -> Any:
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(data))) as im:
        return im.copy()


PNG_KEY = "openclosed"
"""PNG text chunk holding the JSON that makes the image again (model, prompt, seed, steps, ...)."""


def png_info(meta: dict[str, Any]) -> Any:
    """A ``PngInfo`` with ``meta`` as JSON under :data:`PNG_KEY`, plus a one-line ``parameters`` text for people."""
    import json

    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(PNG_KEY, json.dumps(meta, sort_keys=True, default=str))
    shown = ", ".join(f"{k}: {meta[k]}" for k in ("model", "seed", "steps", "guidance_scale", "scheduler", "width",
                                                  "height") if meta.get(k) not in (None, ""))
    info.add_text("parameters", f"{meta.get('prompt', '')}\n{shown}")
    return info


def save_png(img: Any, path: Any, meta: dict[str, Any]) -> Any:
    """Save ``img`` as a PNG at ``path`` with ``meta`` in its text metadata; returns the path."""
    img.save(path, format="PNG", pnginfo=png_info(meta))
    return path


def read_png_meta(path: Any) -> dict[str, Any]:
    """The generation parameters saved in a PNG by :func:`save_png` (``{}`` when it has none)."""
    import json

    from PIL import Image

    with Image.open(path) as im:
        text = getattr(im, "text", {}) or {}
    return json.loads(text[PNG_KEY]) if PNG_KEY in text else {}
