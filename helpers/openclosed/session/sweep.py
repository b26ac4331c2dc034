"""Models x temperature x seed in one table: :func:`sweep`. (Introduced in
``02_text_generation.ipynb``.)

Every combination is one :func:`~openclosed.session.compare.compare` call,
so caching, validation, timing and pricing are the ones every run uses. For
open models the same seed and settings give the same text; closed models are
sent the seed and their ``system_fingerprint`` is kept (a changed fingerprint
means the provider changed something and the same seed may give other text).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.errors import BadParameterError
from ..tasks import get_task
from .compare import compare
from .setup import get_settings

COLUMNS = ["model", "temperature", "seed", "input_index", "input", "output", "output_tokens", "ttft_s",
           "tokens_per_s", "cost_usd", "finish_reason", "system_fingerprint", "family", "cache", "error"]


def _as_list(name: str, value: Any) -> list:
    values = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise BadParameterError(f"{name}={value!r} is not a number or a list of numbers",
                                f"pass e.g. {name}=[0, 1]")
    values = list(values)
    if not values:
        raise BadParameterError(f"{name} is an empty list", f"give at least one {name}")
    return values


def sweep(models: list[str] | str, prompts: list[str] | str, *, temperature: Any = (0.0, 0.7),
          seed: Any = (0, 1), progress: bool = True, **params: Any):
    """Run ``prompts`` through ``models`` for every ``temperature`` x ``seed``
    and return one pandas DataFrame (one row per model, temperature, seed and
    prompt; ``df.attrs["runs"]`` holds the Comparisons).

    Other keyword arguments (``max_tokens``, ``top_p``, ``system``, ``stop``,
    ``cache``...) go to every call. All parameters are checked before any
    model runs.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    temps, seeds = _as_list("temperature", temperature), _as_list("seed", seed)
    cache = params.pop("cache", None)
    combos = [(t, s) for t in temps for s in seeds]
    for t, s in combos:  # every combination is valid before the first one runs
        get_task("text-generation").validate({**params, "temperature": t, "seed": s}, get_settings())
    frames, runs = [], []
    for t, s in tqdm(combos, desc="sweep: temperature x seed", disable=not progress or len(combos) < 2, leave=False):
        run = compare("text-generation", models, prompts, cache=cache, progress=False, temperature=t, seed=s, **params)
        runs.append(run)
        df = run.table
        df.insert(1, "temperature", t)
        df.insert(2, "seed", s)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out = out[[c for c in COLUMNS if c in out.columns]]
    out.attrs["runs"] = runs
    return out


def same_text(table, by: tuple[str, ...] = ("model", "temperature", "input_index")):
    """For each model, temperature and prompt: how many different texts the seeds gave
    (1 = every seed gave the same text)."""
    return (table[table["error"].isna()].groupby(list(by))["output"].nunique().rename("different texts")
            .reset_index())


__all__ = ["same_text", "sweep"]
