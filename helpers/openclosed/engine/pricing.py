"""What a call costs: API prices from the ``genai-prices`` table (shipped
offline, dated) or your own override, and local compute as measured seconds
times a $/hour rate. (Introduced in ``00_start_here.ipynb``.)"""

from __future__ import annotations

import functools
import threading
from typing import Any

from ..core.errors import OpenClosedError, SpendingCapError
from ..core.settings import Settings

IMAGE_OUTPUT_TOKENS = 1056  # output tokens of one 1024x1024 medium-quality gpt-image-1 image (estimates, spending cap)

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
