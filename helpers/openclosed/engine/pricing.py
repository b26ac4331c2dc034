"""What a call costs: API prices from the ``genai-prices`` table (shipped
offline, dated) or your own override, and local compute as measured seconds
times a $/hour rate. (Introduced in ``00_start_here.ipynb``.)"""

from __future__ import annotations

import functools
import threading
from typing import Any

from ..core.errors import OpenClosedError, SpendingCapError
from ..core.settings import Settings

IMAGE_OUTPUT_TOKENS = 1056  # output tokens of one 1024x1024 medium-quality image (estimates, spending cap)

# Output tokens per image by quality and size, as OpenAI's image generation guide ("Cost and latency") published them
# for gpt-image-1 (retired 2026-10-23); used as the estimate for gpt-image-2, whose bill counts the tokens its
# response reports. The price per token comes from genai-prices, like any other token.
GPT_IMAGE_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}

# genai-prices has no DALL-E entries: dall-e-3 is billed per image. $ per image by quality and size, from OpenAI's
# pricing page (https://platform.openai.com/docs/pricing, "Image generation"), unchanged since the model's launch
# (2023-11-06); set at that date, not re-checked since. Override with oc.set_image_price().
DALL_E_3_PRICES = {
    "standard": {"1024x1024": 0.040, "1024x1792": 0.080, "1792x1024": 0.080},
    "hd": {"1024x1024": 0.080, "1024x1792": 0.120, "1792x1024": 0.120},
}
DALL_E_3_PRICE_SOURCE = "OpenAI pricing page (platform.openai.com/docs/pricing), dall-e-3 per image, as published 2023-11-06"
_image_overrides: dict[tuple[str, str, str], float] = {}


def image_output_tokens(size: str | None, quality: str | None) -> int:
    """Estimated output tokens of one image of ``size`` and ``quality`` (``auto`` counts as medium 1024x1024)."""
    table = GPT_IMAGE_TOKENS.get(quality or "medium", GPT_IMAGE_TOKENS["medium"])
    return table.get(size or "1024x1024", max(table.values()) if size not in (None, "auto") else table["1024x1024"])


def set_image_price(model: str, usd_per_image: float, size: str = "1024x1024", quality: str = "standard") -> None:
    """Set the price of one image of a per-image model (e.g. dall-e-3) for ``size`` and ``quality``."""
    if usd_per_image < 0:
        raise OpenClosedError("prices cannot be negative", "pass $ per image, e.g. set_image_price('dall-e-3', 0.04)")
    _image_overrides[(model, size, quality)] = float(usd_per_image)


def per_image_cost(model_id: str, size: str | None, quality: str | None) -> tuple[float | None, str]:
    """($ per image or None, where the price came from) for models billed per image (dall-e-3)."""
    size, quality = size or "1024x1024", quality or "standard"
    if (model_id, size, quality) in _image_overrides:
        return _image_overrides[(model_id, size, quality)], "your price override (oc.set_image_price)"
    if model_id.startswith("dall-e-3"):
        price = DALL_E_3_PRICES.get(quality, {}).get(size)
        if price is not None:
            return price, f"{DALL_E_3_PRICE_SOURCE}: {quality} {size}"
        return None, f"no dall-e-3 price for {quality} {size}; set one with oc.set_image_price()"
    return None, f"no per-image price for {model_id!r}; set one with oc.set_image_price()"

# $ per million tokens, set by the user: {"model id": (input, output)}
_overrides: dict[str, tuple[float, float]] = {}
_spend_lock = threading.Lock()


def set_price(model: str, input_per_mtok: float, output_per_mtok: float) -> None:
    """Override the price of an API model ($ per million input / output tokens)."""
    if input_per_mtok < 0 or output_per_mtok < 0:
        raise OpenClosedError("prices cannot be negative", "pass $ per million tokens, e.g. set_price('m', 0.15, 0.6)")
    _overrides[model] = (float(input_per_mtok), float(output_per_mtok))


def price_table_date() -> str:
    """How recent the bundled genai-prices table is, read from the price data
    itself: the newest dated price change it holds (scheduled future changes
    left out), as YYYY-MM-DD."""
    return _price_table_date()


@functools.lru_cache(maxsize=1)
def _price_table_date() -> str:
    import datetime as dt

    try:
        from genai_prices import data
    except ImportError:
        return "unknown"
    today = dt.date.today()
    newest: dt.date | None = None

    def walk(obj: Any, depth: int = 0) -> None:
        nonlocal newest
        if depth > 12:
            return
        if isinstance(obj, dt.datetime):
            obj = obj.date()
        if isinstance(obj, dt.date):
            if obj <= today and (newest is None or obj > newest):
                newest = obj
            return
        if isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v, depth + 1)
        elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("genai_prices"):
            for v in vars(obj).values():
                walk(v, depth + 1)

    walk(data.providers)
    return newest.isoformat() if newest else "undated"


def price_source() -> str:
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')} table (newest price change in it: {price_table_date()})"


def api_cost(model_id: str, provider: str | None, input_tokens: int, output_tokens: int) -> tuple[float | None, str]:
    """($ cost or None, where the price came from) for one API call."""
    if model_id in _overrides:
        pin, pout = _overrides[model_id]
        return (input_tokens * pin + output_tokens * pout) / 1e6, "your price override"
    if not provider:
        return None, "no price (self-hosted server: see local cost)"
    try:
        from genai_prices import Usage, calc_price

        calc = calc_price(Usage(input_tokens=input_tokens, output_tokens=output_tokens), model_ref=model_id,
                          provider_id=provider)
        return float(calc.total_price), price_source()
    except (LookupError, ValueError) as exc:
        return None, f"no price for {model_id!r} in genai-prices ({type(exc).__name__}); set one with oc.set_price()"


def local_cost(seconds: float, usd_per_hour: float) -> tuple[float, str]:
    """Compute cost of ``seconds`` of local work at ``usd_per_hour``."""
    rate = usd_per_hour
    return seconds * rate / 3600, f"local: {seconds:.3g} s x ${rate:g}/h (oc.setup(local_usd_per_hour=...))"


def estimate_tokens(text: str) -> int:
    """A rough token count (~4 characters per token) for estimates and caps."""
    return max(1, len(text) // 4)


def reserve(s: Settings, amount_usd: float, what: str) -> None:
    """Count ``amount_usd`` against the spending cap of ``s``, or refuse the call."""
    with _spend_lock:
        if s.max_spend_usd is not None and s.spent_usd + amount_usd > s.max_spend_usd:
            raise SpendingCapError(
                f"{what} would cost about ${amount_usd:.4f}; ${s.spent_usd:.4f} of the ${s.max_spend_usd:g} cap is spent",
                "raise the cap with oc.setup(max_spend_usd=...), or use fewer inputs / a cheaper model",
            )
        s.spent_usd += amount_usd


def settle(s: Settings, reserved_usd: float, actual_usd: float | None) -> None:
    """Replace a reservation by the real cost once the call has returned."""
    with _spend_lock:
        s.spent_usd += (actual_usd if actual_usd is not None else reserved_usd) - reserved_usd


def overrides() -> dict[str, tuple[float, float]]:
    """A copy of the prices set with :func:`set_price` (for manifests)."""
    return dict(_overrides)


def image_prices(model: str = "gpt-image-2") -> Any:
    """A DataFrame: the estimated $ per image of a closed image model priced per token, for each quality and size,
    with where the price is from (the tokens are an estimate; a real call is priced from the tokens it reports)."""
    import pandas as pd

    rows = []
    for quality, sizes in GPT_IMAGE_TOKENS.items():
        for size, tokens in sizes.items():
            cost, source = api_cost(model, "openai", 0, tokens)
            rows.append({"model": model, "quality": quality, "size": size, "output tokens (estimate)": tokens,
                         "$ per image": cost, "source": source})
    return pd.DataFrame(rows)
