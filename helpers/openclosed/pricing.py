"""What a call costs: API prices from the ``genai-prices`` table (shipped
offline, dated) or your own override, and local compute as measured seconds
times a $/hour rate. (Used in ``05_cost_privacy_transparency.ipynb``.)"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import OpenClosedError, SpendingCapError

# $ per million tokens, set by the user: {"model id": (input, output)}
_overrides: dict[str, tuple[float, float]] = {}
_spend_lock = threading.Lock()


def set_price(model: str, input_per_mtok: float, output_per_mtok: float) -> None:
    """Override the price of an API model ($ per million input / output tokens)."""
    if input_per_mtok < 0 or output_per_mtok < 0:
        raise OpenClosedError("prices cannot be negative", "pass $ per million tokens, e.g. set_price('m', 0.15, 0.6)")
    _overrides[model] = (float(input_per_mtok), float(output_per_mtok))


def price_table_date() -> str:
    """The date of the bundled genai-prices table (its data file's date)."""
    try:
        import genai_prices.data as data

        ts = Path(data.__file__).stat().st_mtime
        return datetime.fromtimestamp(ts, timezone.utc).date().isoformat()
    except (ImportError, OSError):
        return "unknown"


def price_source() -> str:
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')} table dated {price_table_date()}"


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


def local_cost(seconds: float, usd_per_hour: float | None = None) -> tuple[float, str]:
    """Compute cost of ``seconds`` of local work at ``usd_per_hour``."""
    from .settings import get_settings

    rate = get_settings().local_usd_per_hour if usd_per_hour is None else usd_per_hour
    return seconds * rate / 3600, f"local: {seconds:.3g} s x ${rate:g}/h (oc.setup(local_usd_per_hour=...))"


def estimate_tokens(text: str) -> int:
    """A rough token count (~4 characters per token) for estimates and caps."""
    return max(1, len(text) // 4)


def reserve(amount_usd: float, what: str) -> None:
    """Count ``amount_usd`` against the spending cap, or refuse the call."""
    from .settings import get_settings

    s = get_settings()
    with _spend_lock:
        if s.max_spend_usd is not None and s.spent_usd + amount_usd > s.max_spend_usd:
            raise SpendingCapError(
                f"{what} would cost about ${amount_usd:.4f}; ${s.spent_usd:.4f} of the ${s.max_spend_usd:g} cap is spent",
                "raise the cap with oc.setup(max_spend_usd=...), or use fewer inputs / a cheaper model",
            )
        s.spent_usd += amount_usd


def settle(reserved_usd: float, actual_usd: float | None) -> None:
    """Replace a reservation by the real cost once the call has returned."""
    from .settings import get_settings

    s = get_settings()
    with _spend_lock:
        s.spent_usd += (actual_usd if actual_usd is not None else reserved_usd) - reserved_usd


def estimate(task: str, models: list[str] | str, inputs: list[str] | str, **params: Any):
    """Estimated $ cost of a comparison before running it: a DataFrame with one
    row per model (API models from prices, local models: not estimated)."""
    import pandas as pd

    from .catalog import get_model

    models = [models] if isinstance(models, str) else list(models)
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    rows = []
    for name in models:
        spec = get_model(name, task)
        if spec.backend != "openai":
            rows.append({"model": name, "family": spec.family, "estimated $": None,
                         "basis": "local: cost is measured time x $/hour after the run"})
            continue
        out_tokens = int(params.get("max_tokens", 256 if task == "text-generation" else 40))
        in_tokens = sum(estimate_tokens(t) + 20 for t in inputs)
        if task == "image-generation":
            out_tokens = 1056  # output tokens of one 1024x1024 medium-quality image
        total, basis = api_cost(spec.ref, spec.provider, in_tokens, out_tokens * len(inputs))
        rows.append({"model": name, "family": spec.family, "estimated $": total,
                     "basis": f"~{in_tokens} input + up to {out_tokens}/input output tokens; {basis}"})
    return pd.DataFrame(rows)
