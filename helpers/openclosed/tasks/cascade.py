"""A hybrid cascade for sentiment: a cheap model answers first, and the inputs
it is unsure of (confidence below a threshold) go to a second, stronger and
dearer model. (Introduced in ``05_cost_privacy_transparency.ipynb``.)

    run = oc.compare("sentiment", ["minilm-lr", "gpt-6-luna"], texts)
    c = oc.cascade(run, labels, first="minilm-lr", fallback="gpt-6-luna")
    c.table            # one row per threshold: share sent on, accuracy, $ per 1k
    c.choose()         # the threshold to use, against open-only and closed-only

Both models answer every input in ``run``, so every threshold is evaluated
on the same answers the cascade would get (the models are deterministic:
temperature 0, no sampling). Costs are the measured cost of each answer, or
a price per request you give (e.g. to price a stand-in as the closed model it
stands in for; the table says which). The first model is paid for on every
input; the fallback only on the inputs sent on. A failed first answer always
goes on; a failed fallback answer counts as wrong, never dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import BadInputError, BadParameterError
from .sentiment_eval import _gold, _prediction

if TYPE_CHECKING:
    import pandas as pd

    from ..engine.results import Comparison


@dataclass
class Cascade:
    """Accuracy and cost of a two-model cascade across confidence thresholds.

    ``table``: threshold, share of inputs sent on, accuracy, total $ and $ per
    1,000 inputs; ``open_only`` / ``closed_only``: the two models alone;
    ``cost_basis``: where each model's cost came from.
    """

    first: str
    fallback: str
    table: pd.DataFrame
    first_only: dict[str, float]
    fallback_only: dict[str, float]
    cost_basis: dict[str, str]
    n: int
    notes: list[str] = field(default_factory=list)

    @property
    def open_only(self) -> dict[str, float]:
        return self.first_only

    @property
    def closed_only(self) -> dict[str, float]:
        return self.fallback_only

    def choose(self, min_accuracy: float | None = None) -> dict[str, Any]:
        """The threshold to use: the cheapest one reaching ``min_accuracy``
        (default: the best accuracy any threshold reaches), with its saving
        against the fallback alone and its accuracy gain over the first model alone."""
        df = self.table
        target = float(df["accuracy"].max()) if min_accuracy is None else float(min_accuracy)
        ok = df[df["accuracy"] >= target - 1e-12]
        if ok.empty:
            raise BadParameterError(f"no threshold reaches accuracy {target:.3f} (best: {df['accuracy'].max():.3f})",
                                    "lower min_accuracy, or use a stronger fallback model")
        row = ok.sort_values(["total $", "threshold"]).iloc[0]
        fb, fo = self.fallback_only, self.first_only
        return {
            "threshold": float(row["threshold"]), "sent on": float(row["sent on"]),
            "accuracy": float(row["accuracy"]), "$ per 1k": float(row["$ per 1k"]),
            "saving vs fallback only ($ per 1k)": fb["$ per 1k"] - float(row["$ per 1k"]),
            "saving vs fallback only (%)": (100 * (1 - row["total $"] / fb["total $"]) if fb["total $"] > 0
                                            else math.nan),
            "accuracy vs fallback only": float(row["accuracy"]) - fb["accuracy"],
            "accuracy vs first only": float(row["accuracy"]) - fo["accuracy"],
        }

    def _repr_html_(self) -> str:
        import html

        best = self.choose()
        return (f"<div><b>Cascade: {html.escape(self.first)} first, below the threshold "
                f"{html.escape(self.fallback)}</b> ({self.n} labelled inputs)<br>"
                f"chosen threshold {best['threshold']:.2f}: accuracy {best['accuracy']:.1%} "
                f"({best['accuracy vs first only']:+.1%} vs {html.escape(self.first)} alone, "
                f"{best['accuracy vs fallback only']:+.1%} vs {html.escape(self.fallback)} alone), "
                f"${best['$ per 1k']:.4f} per 1k inputs "
                f"({best['saving vs fallback only (%)']:.0f}% less than {html.escape(self.fallback)} alone)<br>"
                + "<br>".join(f"cost of {html.escape(k)}: {html.escape(v)}" for k, v in self.cost_basis.items())
                + "".join(f"<br><i>{html.escape(n)}</i>" for n in self.notes)
                + "</div>" + self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}"))


def _costs(rs, override: float | None, name: str, role: str) -> tuple[list[float], str]:
    if override is not None:
        if not isinstance(override, (int, float)) or override < 0 or math.isnan(override):
            raise BadParameterError(f"the price per request for {name!r} must be a number >= 0, not {override!r}",
                                    f"pass $ per request, e.g. {role}_usd_per_request=0.00002")
        return [float(override)] * len(rs), f"${override:g} per request (given)"
    missing = [r.input_index for r in rs if r.cost_usd is None]
    if missing:
        raise BadParameterError(
            f"{len(missing)} answers of {name!r} have no measured cost (e.g. input {missing[0]})",
            f"pass its price per request, e.g. {role}_usd_per_request=... "
            "(oc.closed_usd_per_request gives one from the price table)")
    basis = sorted({r.cost_basis.split(":")[0] for r in rs if r.cost_basis})
    return [float(r.cost_usd) for r in rs], "measured in this run" + (f" ({', '.join(basis)})" if basis else "")


def cascade(run: Comparison, labels: Any, *, first: str, fallback: str, thresholds: Any = None,
            first_usd_per_request: float | None = None, fallback_usd_per_request: float | None = None) -> Cascade:
    """Evaluate the cascade ``first`` -> ``fallback`` on a sentiment ``run``
    in which both models answered every input, against gold ``labels``.

    ``thresholds``: the confidences to try (default 0, 0.05, ..., 1 and one
    above 1, which sends everything on). An input goes on when the first
    model's confidence is below the threshold (or it failed).
    ``*_usd_per_request``: a price per request instead of the measured cost.
    """
    from ..engine.results import Comparison

    if not isinstance(run, Comparison) or run.task != "sentiment":
        raise BadInputError("cascade() needs a sentiment Comparison from oc.compare",
                            'run = oc.compare("sentiment", [first, fallback], texts)')
    for name in (first, fallback):
        if name not in run.models:
            raise BadInputError(f"{name!r} is not in this run (models: {', '.join(run.models)})",
                                "run both models on the same texts: oc.compare('sentiment', [first, fallback], texts)")
    if first == fallback:
        raise BadInputError("first and fallback are the same model", "pass two different models")
    gold = _gold(labels, len(run.inputs))
    a = sorted((r for r in run.results if r.model == first), key=lambda r: r.input_index)
    b = sorted((r for r in run.results if r.model == fallback), key=lambda r: r.input_index)
    ca, basis_a = _costs(a, first_usd_per_request, first, "first")
    cb, basis_b = _costs(b, fallback_usd_per_request, fallback, "fallback")
    conf = [(r.confidence if r.ok and r.confidence is not None else -math.inf) for r in a]
    pa, pb = [_prediction(r) for r in a], [_prediction(r) for r in b]
    if thresholds is None:
        thresholds = [round(i * 0.05, 2) for i in range(21)] + [1.01]
    ts = sorted({float(t) for t in thresholds})
    if not ts:
        raise BadParameterError("thresholds is empty", "pass confidences between 0 and 1, or leave it out")

    import pandas as pd

    n = len(gold)
    rows = []
    for t in ts:
        on = [c < t for c in conf]
        pred = [pb[i] if on[i] else pa[i] for i in range(n)]
        total = sum(ca) + sum(cb[i] for i in range(n) if on[i])
        rows.append({"threshold": t, "sent on": sum(on) / n,
                     "accuracy": sum(p == g for p, g in zip(pred, gold)) / n,
                     "total $": total, "$ per 1k": total / n * 1000})

    def alone(pred: list[str], cost: list[float]) -> dict[str, float]:
        return {"accuracy": sum(p == g for p, g in zip(pred, gold)) / n, "total $": sum(cost),
                "$ per 1k": sum(cost) / n * 1000}

    notes = []
    if any(not r.ok for r in a):
        notes.append(f"{sum(not r.ok for r in a)} failed answers of {first} always go on to {fallback}")
    if any(not r.ok for r in b):
        notes.append(f"{sum(not r.ok for r in b)} failed answers of {fallback} count as wrong")
    if any(r.random_weights or r.stand_in for r in a + b):
        notes.append("random weights in this run: the accuracies measure the plumbing, not the models")
    return Cascade(first, fallback, pd.DataFrame(rows), alone(pa, ca), alone(pb, cb),
                   {first: basis_a, fallback: basis_b}, n, notes)


__all__ = ["Cascade", "cascade"]
