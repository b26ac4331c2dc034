"""A hybrid cascade for sentiment: a cheap model answers first, and the inputs
it is unsure of (confidence below a threshold) go to a second, stronger and
dearer model. (Introduced in ``05_cost_privacy_transparency.ipynb``.)

    run = oc.compare("sentiment", ["minilm-lr", "gpt-6-luna"], texts)
    c = oc.cascade(run, labels, first="minilm-lr", fallback="gpt-6-luna")
    c.table            # one row per threshold on the test texts: share sent on, accuracy, $ per 1k
    c.choose()         # the threshold chosen on the validation texts, scored once on the test texts
    c.summary()        # that, as a sentence with 95% intervals

The threshold is a choice, so it is made on texts the cascade is not scored
on: by default half of the labelled texts (stratified by label, seeded) form
a validation part where the threshold is chosen, and the other half is the
test part on which accuracy and saving are reported, with 95% intervals
(``validation=`` can instead be a separate labelled run). Both models answer
every input, so every threshold is evaluated on the same answers the cascade
would get (the models are deterministic: temperature 0, no sampling). Costs
are the measured cost of each answer, or a price per request you give (e.g.
to price a stand-in as the closed model it stands in for, named with
``stands_in_for``; the table and the summary say so). The first model is
paid for on every input; the fallback only on the inputs sent on. A failed
first answer always goes on; a failed fallback answer counts as wrong, never dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import BadInputError, BadParameterError
from ..core.formatting import with_interval
from ..engine import stats
from .sentiment_eval import _gold, _prediction

if TYPE_CHECKING:
    import pandas as pd

    from ..engine.results import Comparison


@dataclass
class _Answers:
    """Both models' answers on some labelled texts, as the cascade needs them."""

    gold: list[str]
    conf: list[float]
    pred_first: list[str]
    pred_fallback: list[str]
    cost_first: list[float]
    cost_fallback: list[float]

    def take(self, idx: list[int]) -> _Answers:
        return _Answers(*([v[i] for i in idx] for v in (self.gold, self.conf, self.pred_first, self.pred_fallback,
                                                          self.cost_first, self.cost_fallback)))

    def at(self, t: float) -> tuple[list[bool], list[float]]:
        """(right or wrong per text, cost per text) at threshold ``t``."""
        on = [c < t for c in self.conf]
        right = [(pb if o else pa) == g for o, pa, pb, g in zip(on, self.pred_first, self.pred_fallback, self.gold)]
        cost = [ca + (cb if o else 0.0) for o, ca, cb in zip(on, self.cost_first, self.cost_fallback)]
        return right, cost

    def table(self, thresholds: list[float]):
        import pandas as pd

        n, rows = len(self.gold), []
        for t in thresholds:
            right, cost = self.at(t)
            rows.append({"threshold": t, "sent on": sum(c < t for c in self.conf) / n, "accuracy": sum(right) / n,
                         "total $": sum(cost), "$ per 1k": sum(cost) / n * 1000})
        return pd.DataFrame(rows)

    def alone(self, which: str) -> dict[str, float]:
        pred, cost = ((self.pred_first, self.cost_first) if which == "first"
                      else (self.pred_fallback, self.cost_fallback))
        n = len(self.gold)
        return {"accuracy": sum(p == g for p, g in zip(pred, self.gold)) / n, "total $": sum(cost),
                "$ per 1k": sum(cost) / n * 1000}


@dataclass
class Cascade:
    """Accuracy and cost of a two-model cascade across confidence thresholds.

    ``table``: on the test texts, one row per threshold: share of inputs
    sent on, accuracy, total $ and $ per 1,000 inputs;
    ``validation_table``: the same on the validation texts, where
    :meth:`choose` picks the threshold; ``open_only`` / ``closed_only``: the
    two models alone on the test texts; ``cost_basis``: where each model's cost
    came from; ``stands_in_for``: the model the fallback stands in for, if any;
    ``test_positions``: which of the run's inputs are the test texts.
    """

    first: str
    fallback: str
    table: pd.DataFrame
    first_only: dict[str, float]
    fallback_only: dict[str, float]
    cost_basis: dict[str, str]
    n: int
    notes: list[str] = field(default_factory=list)
    validation_table: pd.DataFrame | None = None
    validation_fallback_only: dict[str, float] = field(default_factory=dict)
    chosen_on: str = ""
    stands_in_for: str | None = None
    test_positions: list[int] = field(default_factory=list)
    _test: _Answers | None = None

    @property
    def open_only(self) -> dict[str, float]:
        return self.first_only

    @property
    def closed_only(self) -> dict[str, float]:
        return self.fallback_only

    @property
    def fallback_name(self) -> str:
        """The fallback as it should be named: ``minilm-lr (a stand-in for gpt-6-luna)`` for a stand-in."""
        return self.fallback + (f" (a stand-in for {self.stands_in_for})" if self.stands_in_for else "")

    def choose(self, min_accuracy: float | None = None, below_fallback: float | None = None) -> dict[str, Any]:
        """The threshold to use, chosen on the validation texts: the cheapest
        one whose validation accuracy reaches ``min_accuracy``, or the
        fallback alone's validation accuracy minus ``below_fallback`` (default:
        the best validation accuracy any threshold reaches). Returned with what
        it does on the test texts, each with its 95% interval: ``accuracy``
        (Wilson), the accuracy differences against each model alone (paired
        bootstrap, with McNemar's exact p) and the saving against the
        fallback alone (bootstrap over the test texts)."""
        val = self.validation_table
        if min_accuracy is not None and below_fallback is not None:
            raise BadParameterError("give min_accuracy or below_fallback, not both",
                                    "e.g. choose(below_fallback=0.02): at most 2 points below the fallback alone")
        target = (float(val["accuracy"].max()) if min_accuracy is None and below_fallback is None
                  else float(min_accuracy) if min_accuracy is not None
                  else self.validation_fallback_only["accuracy"] - float(below_fallback))
        ok = val[val["accuracy"] >= target - 1e-12]
        if ok.empty:
            raise BadParameterError(f"no threshold reaches accuracy {target:.3f} on the validation texts "
                                    f"(best: {val['accuracy'].max():.3f})",
                                    "lower min_accuracy, or use a stronger fallback model")
        chosen = ok.sort_values(["total $", "threshold"]).iloc[0]
        t = float(chosen["threshold"])
        row = self.table.set_index("threshold").loc[t]
        test = self._test
        right, cost = test.at(t)
        idx = stats.resamples(len(right))
        n = len(right)
        low, high = stats.wilson(sum(right), n)
        vs = {}
        for which, pred in (("fallback", test.pred_fallback), ("first", test.pred_first)):
            pair = stats.paired([p == g for p, g in zip(pred, test.gold)], right, idx)
            vs[which] = pair
        import numpy as np

        c, fb = np.asarray(cost), np.asarray(test.cost_fallback)
        fb_total = fb[idx].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            saving = np.where(fb_total > 0, 100 * (1 - c[idx].sum(axis=1) / fb_total), np.nan)
        s_low, s_high = stats.percentile_interval(saving)
        fbo = self.fallback_only
        return {
            "threshold": t, "chosen on": self.chosen_on, "validation accuracy": float(chosen["accuracy"]),
            "test texts": n, "sent on": float(row["sent on"]),
            "accuracy": float(row["accuracy"]), "accuracy_low": low, "accuracy_high": high,
            "$ per 1k": float(row["$ per 1k"]),
            "saving vs fallback only ($ per 1k)": fbo["$ per 1k"] - float(row["$ per 1k"]),
            "saving vs fallback only (%)": (100 * (1 - row["total $"] / fbo["total $"]) if fbo["total $"] > 0
                                            else math.nan),
            "saving vs fallback only (%)_low": s_low, "saving vs fallback only (%)_high": s_high,
            "accuracy vs fallback only": vs["fallback"].difference,
            "accuracy vs fallback only_low": vs["fallback"].low, "accuracy vs fallback only_high": vs["fallback"].high,
            "McNemar p vs fallback only": vs["fallback"].p,
            "accuracy vs first only": vs["first"].difference,
            "accuracy vs first only_low": vs["first"].low, "accuracy vs first only_high": vs["first"].high,
            "McNemar p vs first only": vs["first"].p,
        }

    def summary(self, min_accuracy: float | None = None, below_fallback: float | None = None) -> str:
        """:meth:`choose` as one sentence, with its intervals and where the threshold was chosen."""
        b = self.choose(min_accuracy, below_fallback)

        def diff(key: str, other: str) -> str:
            pair = stats.Paired(b["test texts"], math.nan, math.nan, b[key], b[f"{key}_low"], b[f"{key}_high"],
                                b[f"McNemar p vs {key.split(' vs ')[1]}"], 0, 0)
            verdict = "detectably different" if pair.detectable else "no detectable difference"
            return (f"{with_interval(b[key], b[f'{key}_low'], b[f'{key}_high'], signed=True)} vs {other} alone "
                    f"({verdict}, McNemar {stats.p_text(pair.p)})")

        saving, lo, hi = (b[k] for k in ("saving vs fallback only (%)", "saving vs fallback only (%)_low",
                                         "saving vs fallback only (%)_high"))
        cost = ("" if math.isnan(saving) else
                f"; it costs about as much as {self.fallback_name} alone" if abs(saving) < 0.5 else
                f"; it costs {saving:.0f}% [{lo:.0f}%, {hi:.0f}%] less than {self.fallback_name} alone" if saving > 0
                else f"; it costs {-saving:.0f}% [{-hi:.0f}%, {-lo:.0f}%] more than {self.fallback_name} alone")
        sent = ("sends every test text on (the cascade is the fallback alone)" if b["sent on"] == 1 else
                "sends no test text on (the cascade is the first model alone)" if b["sent on"] == 0 else
                f"sends {b['sent on']:.0%} of the {b['test texts']} test texts on")
        stand_in = (f" {self.fallback} stands in for {self.stands_in_for} (priced as it); no {self.stands_in_for} "
                    "answer is in these numbers." if self.stands_in_for else "")
        return (f"Cascade {self.first} → {self.fallback_name}: threshold {b['threshold']:.2f}, chosen on "
                f"{self.chosen_on}, {sent}; test accuracy "
                f"{with_interval(b['accuracy'], b['accuracy_low'], b['accuracy_high'])}, "
                f"{diff('accuracy vs fallback only', self.fallback)}, {diff('accuracy vs first only', self.first)}"
                f"{cost}.{stand_in}")

    def _repr_html_(self) -> str:
        import html

        return (f"<div><b>Cascade: {html.escape(self.first)} first, below the threshold "
                f"{html.escape(self.fallback_name)}</b><br>{html.escape(self.summary())}<br>"
                + "<br>".join(f"cost of {html.escape(k)}: {html.escape(v)}" for k, v in self.cost_basis.items())
                + "".join(f"<br><i>{html.escape(n)}</i>" for n in self.notes)
                + "<br>On the test texts, every threshold:"
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


def _answers(run: Comparison, labels: Any, first: str, fallback: str, first_usd: float | None,
             fallback_usd: float | None, what: str) -> tuple[_Answers, dict[str, str], list]:
    from ..engine.results import Comparison

    if not isinstance(run, Comparison) or run.task != "sentiment":
        raise BadInputError(f"cascade() needs {what} as a sentiment Comparison from oc.compare",
                            'run = oc.compare("sentiment", [first, fallback], texts)')
    for name in (first, fallback):
        if name not in run.models:
            raise BadInputError(f"{name!r} is not in {what} (models: {', '.join(run.models)})",
                                "run both models on the same texts: oc.compare('sentiment', [first, fallback], texts)")
    gold = _gold(labels, len(run.inputs))
    a = sorted((r for r in run.results if r.model == first), key=lambda r: r.input_index)
    b = sorted((r for r in run.results if r.model == fallback), key=lambda r: r.input_index)
    ca, basis_a = _costs(a, first_usd, first, "first")
    cb, basis_b = _costs(b, fallback_usd, fallback, "fallback")
    conf = [(r.confidence if r.ok and r.confidence is not None else -math.inf) for r in a]
    answers = _Answers(gold, conf, [_prediction(r) for r in a], [_prediction(r) for r in b], ca, cb)
    return answers, {first: basis_a, fallback: basis_b}, a + b


def _halves(gold: list[str], share: float, seed: int) -> tuple[list[int], list[int]]:
    """(validation, test) positions: ``share`` of the texts for validation, stratified by label, seeded."""
    from sklearn.model_selection import train_test_split

    if not 0 < share < 1:
        raise BadParameterError(f"validation={share!r} must be a share in (0, 1) or a labelled run",
                                "e.g. validation=0.5: the threshold is chosen on half the texts, scored on the other")
    counts = {g: gold.count(g) for g in set(gold)}
    strata = gold if min(counts.values()) >= 2 else None
    val, test = train_test_split(list(range(len(gold))), train_size=share, random_state=seed, stratify=strata)
    return sorted(val), sorted(test)


def cascade(run: Comparison, labels: Any, *, first: str, fallback: str, thresholds: Any = None,
            first_usd_per_request: float | None = None, fallback_usd_per_request: float | None = None,
            validation: float | tuple[Comparison, Any] = 0.5, seed: int = 0,
            stands_in_for: str | None = None) -> Cascade:
    """Evaluate the cascade ``first`` -> ``fallback`` on a sentiment ``run``
    in which both models answered every input, against gold ``labels``.

    ``thresholds``: the confidences to try (default 0, 0.05, ..., 1 and one
    above 1, which sends everything on). An input goes on when the first
    model's confidence is below the threshold (or it failed).
    ``validation``: where the threshold is chosen: a share of ``run``'s texts
    (default 0.5, stratified by label with ``seed``; the rest is the test
    part), or ``(validation_run, validation_labels)``, a run of both models on
    other labelled texts (then all of ``run`` is the test part; texts found
    in both are refused). ``*_usd_per_request``: a price per request instead
    of the measured cost. ``stands_in_for``: the closed model the fallback
    stands in for (e.g. ``"gpt-6-luna"`` when there is no key), named so in
    the summary and the notes.
    """
    if first == fallback:
        raise BadInputError("first and fallback are the same model", "pass two different models")
    answers, basis, results = _answers(run, labels, first, fallback, first_usd_per_request,
                                       fallback_usd_per_request, "this run")
    if isinstance(validation, tuple):
        if len(validation) != 2:
            raise BadParameterError("validation must be a share or a (run, labels) pair",
                                    "e.g. validation=(val_run, val['label'])")
        val, _, val_results = _answers(validation[0], validation[1], first, fallback, first_usd_per_request,
                                       fallback_usd_per_request, "the validation run")
        shared = set(validation[0].inputs) & set(run.inputs)
        if shared:
            raise BadInputError(f"{len(shared)} texts are in both the validation run and the run scored "
                                f"(e.g. {next(iter(shared))[:60]!r}): the threshold would be chosen on test texts",
                                "choose on other labelled texts, or leave validation out to split run in two")
        test, chosen_on, t_idx = answers, f"{len(val.gold)} separate validation texts", list(range(len(answers.gold)))
        results = results + val_results
    else:
        v_idx, t_idx = _halves(answers.gold, float(validation), seed)
        val, test = answers.take(v_idx), answers.take(t_idx)
        chosen_on = f"{len(v_idx)} validation texts (the other {len(t_idx)} are the test texts)"
    if thresholds is None:
        thresholds = [round(i * 0.05, 2) for i in range(21)] + [1.01]
    ts = sorted({float(t) for t in thresholds})
    if not ts:
        raise BadParameterError("thresholds is empty", "pass confidences between 0 and 1, or leave it out")

    notes = []
    a = [r for r in results if r.model == first]
    b = [r for r in results if r.model == fallback]
    if any(not r.ok for r in a):
        notes.append(f"{sum(not r.ok for r in a)} failed answers of {first} always go on to {fallback}")
    if any(not r.ok for r in b):
        notes.append(f"{sum(not r.ok for r in b)} failed answers of {fallback} count as wrong")
    if any(r.random_weights or r.stand_in for r in a + b):
        notes.append("random weights in this run: the accuracies measure the plumbing, not the models")
    if stands_in_for:
        notes.append(f"{fallback} stands in for {stands_in_for}: its answers are {fallback}'s, "
                     f"its price is {basis[fallback]}")
        basis[fallback] += f" (as a stand-in for {stands_in_for})"
    return Cascade(first, fallback, test.table(ts), test.alone("first"), test.alone("fallback"), basis,
                   len(test.gold), notes, validation_table=val.table(ts), validation_fallback_only=val.alone("fallback"),
                   chosen_on=chosen_on, stands_in_for=stands_in_for, test_positions=t_idx, _test=test)


__all__ = ["Cascade", "cascade"]
