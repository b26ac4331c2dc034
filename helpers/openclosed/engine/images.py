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
