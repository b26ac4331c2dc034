"""``oc.estimate``: what a comparison would cost before running it."""

from __future__ import annotations

from typing import Any

from ..catalog.registry import get_model
from ..engine.pricing import api_cost, estimate_tokens
from ..tasks import get_task
from .setup import get_settings


def estimate(task: str, models: list[str] | str, inputs: list[str] | str, **params: Any):
    """Estimated $ cost of a comparison before running it: a DataFrame with one
    row per model (API models from prices, local models: not estimated)."""
    import pandas as pd

    params = get_task(task).validate(params, get_settings())
    models = [models] if isinstance(models, str) else list(models)
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    out_tokens = get_task(task).billed_output_tokens(params)
    rows = []
    for name in models:
        spec = get_model(name, task)
        if spec.backend != "openai":
            rows.append({"model": name, "family": spec.family, "estimated $": None,
                         "basis": "local: cost is measured time x $/hour after the run"})
            continue
        in_tokens = sum(estimate_tokens(t) + 20 for t in inputs)
        total, basis = api_cost(spec.ref, spec.provider, in_tokens, out_tokens * len(inputs))
        rows.append({"model": name, "family": spec.family, "estimated $": total,
                     "basis": f"~{in_tokens} input + up to {out_tokens}/input output tokens; {basis}"})
    return pd.DataFrame(rows)
