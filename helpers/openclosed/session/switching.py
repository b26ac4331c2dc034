"""Switching vendors: the same cells run with one model name changed, and
what differed in what actually happened. (Introduced in
``05_cost_privacy_transparency.ipynb``.)

    runs = [oc.compare("sentiment", [name], texts) for name in ("gpt-6-luna", served.name)]
    oc.differences(*runs)

Nothing here is a feature list written in advance: every row is read from
the results (errors, the notes a backend adds when it had to fall back,
whether token counts and a price came back, who answered).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from ..core.errors import BadInputError

if TYPE_CHECKING:
    from ..engine.results import Comparison


def _short(note: str) -> str:
    return note.split(";")[0][:140]


def differences(*runs: Comparison):
    """One row per (task, model) over ``runs``: how many inputs were answered,
    the errors, the fallbacks and notes the backend recorded, whether token
    counts, time to first token and a price came back, and who answered."""
    import pandas as pd

    from ..engine.results import Comparison

    if not runs or not all(isinstance(r, Comparison) for r in runs):
        raise BadInputError("differences() needs Comparisons returned by oc.compare",
                            "e.g. oc.differences(run_closed, run_served)")
    rows = []
    for run in runs:
        for m in run.models:
            rs = [r for r in run.results if r.model == m]
            ok = [r for r in rs if r.ok]
            errors = Counter(r.error.type for r in rs if r.error)
            notes = Counter(_short(n) for r in rs for n in r.notes if not n.startswith("batched:"))
            rows.append({
                "task": run.task, "model": m, "family": rs[0].family if rs else "",
                "answered": f"{len(ok)}/{len(rs)}",
                "errors": "; ".join(f"{k} x{v}" for k, v in errors.items()) or "-",
                "first error": next((f"{r.error.message[:160]}" for r in rs if r.error), "-"),
                "fallbacks and notes": "; ".join(f"{k} (x{v})" for k, v in notes.items()) or "-",
                "token counts": ("reported" if ok and all(r.input_tokens is not None for r in ok)
                                 else "partly" if any(r.input_tokens is not None or r.output_tokens is not None
                                                      for r in ok) else "none"),
                "time to first token": ("measured" if any(r.ttft_s is not None for r in ok) else
                                        "-" if run.task != "text-generation" else "not measured"),
                "price": next((r.cost_basis[:100] for r in rs if r.cost_basis), "-"),
                "answered by": ", ".join(sorted({r.answered_by for r in ok if r.answered_by})) or "-",
            })
    return pd.DataFrame(rows)


__all__ = ["differences"]
