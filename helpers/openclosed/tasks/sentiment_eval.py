"""Score a sentiment :class:`~openclosed.engine.results.Comparison` against gold
labels: accuracy, macro-F1, a per-class report, confusion matrices, agreement
between models (Cohen's kappa), $ per 1,000 texts and texts/s, and the texts
the models disagree on. (Introduced in ``01_sentiment.ipynb``.)

    ev = oc.evaluate(run, labels)
    ev.metrics          # one row per model: accuracy, accuracy_low, accuracy_high, macro-F1, ...
    ev.table()          # the same for people: "0.71 [0.64, 0.77]"
    ev.paired()         # one row per pair of models: difference, its interval, McNemar p, a verdict
    ev.verdicts()       # those verdicts as sentences; ev.leader(): is one model ahead of all?
    ev.confusion["vader"]
    oc.plots.tradeoff(ev)   # accuracy vs cost vs speed, with intervals

Every score carries its 95% interval: Wilson for accuracy, a seeded bootstrap
over the texts for macro-F1. Two models scored on the same texts are compared
pairwise: the difference in accuracy with a paired-bootstrap interval, and
McNemar's exact test on the texts only one of them got right. A pair is called
a win only when both agree (p < 0.05 and the interval excludes 0); otherwise
the sentence says there is no detectable difference on these texts.
(:mod:`openclosed.engine.stats` has the maths.)

A model's failed inputs are never dropped: they count as wrong, appear in the
``errors`` column and in the confusion matrix's ``error`` column, and are listed
in ``ev.errors``. A model that answered no text at all (no key, not installed)
keeps its row with every input listed as an error, but is not scored: its
metrics are empty rather than a misleading 0.
"""

from __future__ import annotations

import html
import math
import warnings
from typing import TYPE_CHECKING, Any

from ..core.errors import BadInputError, OpenClosedError
from ..core.formatting import with_interval
from ..core.labels import LABELS
from ..engine import stats

if TYPE_CHECKING:
    import pandas as pd

    from ..engine.results import Comparison, Result

ERROR = "error"  # the predicted "label" of an input a model failed on (or answered outside the label set)


def _gold(labels: Any, n: int, what: str = "labels") -> list[str]:
    """Labels as a list of negative/neutral/positive (case and spaces forgiven)."""
    if labels is None or isinstance(labels, str) or not hasattr(labels, "__iter__"):
        raise BadInputError(f"{what} must be a list or a pandas Series of {'/'.join(LABELS)}, "
                            f"not {type(labels).__name__}",
                            'e.g. oc.evaluate(run, data["label"])')
    values = list(labels.tolist() if hasattr(labels, "tolist") else labels)
    if len(values) != n:
        raise BadInputError(f"{len(values)} {what} for {n} inputs: there must be one per input, in the same order",
                            "pass the label column of the same rows you ran, e.g. oc.evaluate(run, test['label'])")
    out, bad = [], {}
    for i, v in enumerate(values):
        key = v.strip().lower() if isinstance(v, str) else None
        if key not in LABELS:
            bad.setdefault(repr(v), i)
        out.append(key)
    if bad:
        shown = ", ".join(f"{v} (first at index {i})" for v, i in list(bad.items())[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise BadInputError(f"unknown {what}: {shown}{more}",
                            f"every label must be one of {', '.join(LABELS)}")
    return out


def _prediction(r: Result) -> str:
    return r.output if r.ok and r.output in LABELS else ERROR


def _codes(labels: list[str]):
    """Labels as integers 0..2 (LABELS order); anything else (a failure) as 3."""
    import numpy as np

    return np.array([LABELS.index(v) if v in LABELS else len(LABELS) for v in labels])


def _verdict(a: str, b: str, pair: stats.Paired, what: str = "accuracy") -> tuple[str, str | None]:
    """(the sentence, the winner or None) for ``pair`` (``b`` minus ``a``)."""
    p = stats.p_text(pair.p)
    if pair.detectable:
        win, lose, sign = (b, a, 1) if pair.difference > 0 else (a, b, -1)
        return (f"{win} beats {lose} by "
                f"{with_interval(sign * pair.difference, *sorted((sign * pair.low, sign * pair.high)))} in {what} "
                f"on {pair.n} texts (McNemar {p})", win)
    return (f"{a} vs {b}: no detectable difference in {what} on {pair.n} texts ({a} {pair.accuracy_a:.2f}, "
            f"{b} {pair.accuracy_b:.2f}; difference {with_interval(pair.difference, pair.low, pair.high, signed=True)}, "
            f"McNemar {p})", None)


def paired_table(right: dict[str, Any], what: str = "accuracy", idx=None):
    """One row per pair of models (in the order of ``right``: model -> array of
    right/wrong on the same texts): accuracies, the difference (``b`` minus
    ``a``) with its paired-bootstrap 95% interval, McNemar's exact p (and
    Holm's adjustment over all the pairs), and the verdict as a sentence."""
    import pandas as pd

    models = list(right)
    rows = []
    for i, a in enumerate(models):
        for b in models[i + 1:]:
            pair = stats.paired(right[a], right[b], idx)
            sentence, winner = _verdict(a, b, pair, what)
            rows.append({"a": a, "b": b, "texts": pair.n, f"a {what}": pair.accuracy_a, f"b {what}": pair.accuracy_b,
                         "difference": pair.difference, "difference_low": pair.low, "difference_high": pair.high,
                         "only a right": pair.only_a, "only b right": pair.only_b, "p": pair.p,
                         "winner": winner, "verdict": sentence})
    cols = ["a", "b", "texts", f"a {what}", f"b {what}", "difference", "difference_low", "difference_high",
            "only a right", "only b right", "p", "p (Holm)", "winner", "verdict"]
    df = pd.DataFrame(rows, columns=[c for c in cols if c != "p (Holm)"])
    df.insert(cols.index("p (Holm)"), "p (Holm)", stats.holm(df["p"].tolist()) if len(df) else [])
    return df


def leader(table, what: str = "accuracy") -> str:
    """One sentence on ``table`` (from :func:`paired_table`): the model that
    beats every other one, or why none can be called the most accurate."""
    if not len(table):
        return "Fewer than two models answered: nothing to compare."
    models = list(dict.fromkeys([*table["a"], *table["b"]]))
    wins = {m: 0 for m in models}
    for w in table["winner"].dropna():
        wins[w] += 1
    for m in models:
        if wins[m] == len(models) - 1:
            return f"{m} has the highest {what}: it beats each of the other {len(models) - 1} in a paired test."
    score = {**dict(zip(table["a"], table[f"a {what}"])), **dict(zip(table["b"], table[f"b {what}"]))}
    top = max(models, key=lambda m: score[m])
    ties = [m for m in models if m != top and not _beats(table, top, m)]
    return (f"No single model has the highest {what}: {top} scored highest ({score[top]:.2f}) but is not "
            f"detectably better than {', '.join(ties)} on these {int(table['texts'].iloc[0])} texts.")


def _beats(table, w: str, other: str) -> bool:
    row = table[((table["a"] == w) & (table["b"] == other)) | ((table["a"] == other) & (table["b"] == w))]
    return bool(len(row)) and row["winner"].iloc[0] == w


def _kappa(a: list[str], b: list[str]) -> float:
    from sklearn.metrics import cohen_kappa_score

    if len(a) < 2:
        return math.nan
    if len(set(a) | set(b)) == 1:  # both raters said the same single label throughout: perfect agreement
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = cohen_kappa_score(a, b, labels=list(LABELS))
    return float(k)


class Evaluation:
    """What :func:`evaluate` returns.

    ``metrics``: one row per model (accuracy and macro-F1, each with its 95%
    interval in ``accuracy_low`` / ``accuracy_high`` and ``macro-F1_low`` /
    ``macro-F1_high``, errors, kappa against the gold labels, $ per 1,000
    texts, texts/s, mean latency); :meth:`table` shows it for people;
    :meth:`paired` / :meth:`verdicts` compare every two models on the same texts;
    ``confusion``: model -> DataFrame (rows: gold label, columns: predicted;
    an ``error`` column when the model failed on some inputs);
    ``report``: model -> per-class precision/recall/F1/support;
    ``agreement``: Cohen's kappa between every pair of models (on the inputs
    both answered); ``disagreements``: the texts where the models' labels
    differ, with the gold label; ``errors``: every failed input;
    ``by_group``: accuracy per group when ``groups=`` was given.
    """

    def __init__(self, run: Comparison, gold: list[str], groups: list[str] | None = None) -> None:
        import pandas as pd
        from sklearn.metrics import classification_report, f1_score

        self.run = run
        self.gold = gold
        self.groups = groups
        self.labels = LABELS
        by_model: dict[str, list[Result]] = {m: sorted((r for r in run.results if r.model == m),
                                                       key=lambda r: r.input_index) for m in run.models}
        self.predictions = pd.DataFrame({m: [_prediction(r) for r in rs] for m, rs in by_model.items()})
        self._resamples = stats.resamples(len(gold))  # the same seeded resamples for every model and pair
        gold_codes = _codes(gold)
        rows, self.confusion, self.report = [], {}, {}
        for m, rs in by_model.items():
            pred = self.predictions[m].tolist()
            n = len(pred)
            errors = sum(p == ERROR for p in pred)
            correct = sum(p == g for p, g in zip(pred, gold, strict=True))
            answered = [(p, g) for p, g in zip(pred, gold, strict=True) if p != ERROR]
            cols = list(LABELS) + ([ERROR] if errors else [])
            cm = pd.crosstab(pd.Categorical(gold, categories=LABELS), pd.Categorical(pred, categories=cols),
                             dropna=False)
            cm.index.name, cm.columns.name = "gold", "predicted"
            self.confusion[m] = cm.reindex(index=list(LABELS), columns=cols, fill_value=0).astype(int)
            rep = classification_report(gold, pred, labels=list(LABELS), output_dict=True, zero_division=0)
            self.report[m] = pd.DataFrame({lab: rep[lab] for lab in LABELS}).T.rename_axis("label")
            first = rs[0] if rs else None
            scored = bool(answered)  # a model that answered no text (no key, not installed) is not scored as wrong
            acc_low, acc_high = stats.wilson(correct, n) if scored else (math.nan, math.nan)
            f1_low, f1_high = stats.percentile_interval(
                stats.macro_f1(_codes(pred), gold_codes, len(LABELS), self._resamples)) if scored else (math.nan,
                                                                                                      math.nan)
            rows.append({
                "model": m,
                "family": first.family if first else "",
                "random weights": bool(first and first.random_weights),
                "texts": n,
                "errors": errors,
                "accuracy": correct / n if scored else math.nan,
                "accuracy_low": acc_low, "accuracy_high": acc_high,
                "macro-F1": float(f1_score(gold, pred, labels=list(LABELS), average="macro", zero_division=0))
                if scored else math.nan,
                "macro-F1_low": f1_low, "macro-F1_high": f1_high,
                "accuracy (answered only)": (sum(p == g for p, g in answered) / len(answered)) if answered else math.nan,
                "kappa vs gold": _kappa([p for p, _ in answered], [g for _, g in answered]) if answered else math.nan,
                "$ per 1k texts": _per_1k(rs),
                "texts/s": _throughput(rs),
                "mean latency (s)": _mean([r.latency_s for r in rs if r.ok and r.latency_s is not None]),
                "answered by": ", ".join(sorted({r.answered_by for r in rs if r.ok and r.answered_by})) or "-",
            })
        self.metrics = pd.DataFrame(rows)
        self.agreement = self._agreement()
        self.disagreements = self._disagreements()
        self.errors = pd.DataFrame(
            [{"model": r.model, "input_index": r.input_index, "input": r.input, "gold": gold[r.input_index],
              "error": str(r.error) if r.error else f"answered {r.output!r}, not one of {', '.join(LABELS)}"}
             for rs in by_model.values() for r in rs if _prediction(r) == ERROR],
            columns=["model", "input_index", "input", "gold", "error"])
        self.by_group = self._by_group() if groups is not None else None

    # ------------------------------------------------------------ tables
    def _agreement(self) -> pd.DataFrame:
        import pandas as pd

        models = list(self.predictions.columns)
        k = pd.DataFrame(math.nan, index=models, columns=models, dtype=float)
        for a in models:
            for b in models:
                pairs = [(x, y) for x, y in zip(self.predictions[a], self.predictions[b], strict=True)
                         if x != ERROR and y != ERROR]
                k.loc[a, b] = _kappa([x for x, _ in pairs], [y for _, y in pairs])
        k.index.name, k.columns.name = "model", "model"
        return k

    def _disagreements(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        models = list(self.predictions.columns)
        for i, text in enumerate(self.run.inputs):
            preds = {m: self.predictions[m].iloc[i] for m in models}
            said = {p for p in preds.values() if p != ERROR}
            if len(said) > 1:
                rows.append({"input_index": i, "text": text, "gold": self.gold[i], **preds,
                             "correct": sum(p == self.gold[i] for p in preds.values())})
        return pd.DataFrame(rows, columns=["input_index", "text", "gold", *models, "correct"])

    def _by_group(self):
        import pandas as pd

        df = self.predictions.copy()
        df["gold"], df["group"] = self.gold, self.groups
        out = {m: df.groupby("group", sort=True).apply(lambda g, m=m: (g[m] == g["gold"]).mean(),
                                                        include_groups=False)
               for m in self.predictions.columns}
        table = pd.DataFrame(out)
        table.index.name = "group"
        return table

    def two_way(self) -> pd.DataFrame:
        """Accuracy when every model must choose between ``positive`` and
        ``negative``, as binary benchmarks (e.g. SST-2) are scored: the larger
        of its two scores where the model gives scores, else its label (an
        answer of ``neutral`` or a failure then counts as wrong). Scored on
        the texts whose gold label is positive or negative; how many neutral
        texts that leaves out is in the ``neutral texts left out`` column, and
        a stand-in model with random weights is marked in ``random weights``."""
        import pandas as pd

        keep, right, from_scores = self._two_way_right()
        rows = []
        for m in self.run.models:
            correct = int(sum(right[m]))
            scored = bool(keep) and (self.predictions[m] != ERROR).any()  # answered no text: not scored
            low, high = stats.wilson(correct, len(keep)) if scored else (math.nan, math.nan)
            rows.append({"model": m, "random weights": any(r.random_weights for r in self.run.results if r.model == m),
                         "texts": len(keep), "two-way accuracy": correct / len(keep) if scored else math.nan,
                         "two-way accuracy_low": low, "two-way accuracy_high": high,
                         "chosen from scores": from_scores[m], "neutral texts left out": len(self.gold) - len(keep)})
        return pd.DataFrame(rows)

    def _two_way_right(self) -> tuple[list[int], dict[str, list[bool]], dict[str, int]]:
        """(the non-neutral texts, model -> right/wrong on each of them when forced to choose, model -> how many
        choices came from scores)."""
        keep = [i for i, g in enumerate(self.gold) if g != "neutral"]
        right, from_scores = {}, {}
        for m in self.run.models:
            by_index = {r.input_index: r for r in self.run.results if r.model == m}
            right[m], from_scores[m] = [], 0
            for i in keep:
                r = by_index.get(i)
                scores = (r.scores or {}) if r is not None and r.ok else {}
                if {"positive", "negative"} <= scores.keys():
                    choice = "positive" if scores["positive"] >= scores["negative"] else "negative"
                    from_scores[m] += 1
                else:
                    choice = _prediction(r) if r is not None else ERROR
                right[m].append(choice == self.gold[i])
        return keep, right, from_scores

    def _right(self, two_way: bool) -> tuple[dict[str, list[bool]], Any]:
        """model -> right/wrong per text (three-way, or two-way on the non-neutral texts) for the models
        that answered at least one text, and the bootstrap resamples of those texts."""
        answered = [m for m in self.predictions.columns if (self.predictions[m] != ERROR).any()]
        if two_way:
            keep, right, _ = self._two_way_right()
            idx = self._resamples if len(keep) == len(self.gold) else stats.resamples(len(keep))
            return {m: right[m] for m in answered}, idx
        return {m: [p == g for p, g in zip(self.predictions[m], self.gold, strict=True)] for m in answered}, \
            self._resamples

    def paired(self, two_way: bool = False) -> pd.DataFrame:
        """Every two models compared on the same texts, one row per pair:
        ``a``, ``b``, their accuracies, ``difference`` (``b`` minus ``a``)
        with its paired-bootstrap 95% interval (``difference_low`` /
        ``difference_high``), how many texts only one of them got right,
        McNemar's exact ``p`` (and ``p (Holm)``, adjusted for reading all the
        pairs at once), the ``winner`` (or None) and the ``verdict`` as a
        sentence. ``two_way=True``: on the two-way accuracy of :meth:`two_way`.
        Models that answered no text at all are left out (they could only lose)."""
        right, idx = self._right(two_way)
        return paired_table(right, "two-way accuracy" if two_way else "accuracy", idx)

    def pair(self, a: str, b: str, two_way: bool = False) -> pd.Series:
        """The row of :meth:`paired` for models ``a`` and ``b`` (in either order): ``verdict``, ``winner``, …"""
        table = self.paired(two_way)
        row = table[((table["a"] == a) & (table["b"] == b)) | ((table["a"] == b) & (table["b"] == a))]
        if not len(row):
            raise BadInputError(f"no paired comparison of {a!r} and {b!r} here",
                                f"compare two of the models that answered: {', '.join(self.predictions.columns)}")
        return row.iloc[0]

    def verdicts(self, two_way: bool = False) -> list[str]:
        """The sentences of :meth:`paired`: "B beats A by 0.08 [0.02, 0.14] …"
        or "A vs B: no detectable difference …"."""
        return self.paired(two_way)["verdict"].tolist()

    def leader(self, two_way: bool = False) -> str:
        """One sentence: the model that beats every other one in a paired test,
        or which models the highest-scoring one cannot be told apart from."""
        return leader(self.paired(two_way), "two-way accuracy" if two_way else "accuracy")

    def table(self) -> pd.DataFrame:
        """``metrics`` for people, one row per model: each score with its 95% interval (``0.71 [0.64, 0.77]``)."""
        from ..core.formatting import readable

        cols = ["model", "texts", "errors", "accuracy", "accuracy_low", "accuracy_high", "macro-F1", "macro-F1_low",
                "macro-F1_high", "$ per 1k texts", "texts/s"]
        return readable(self.metrics[cols], drop_empty=False).set_index("model")

    def label_maps(self) -> dict[str, dict[str, str]]:
        """How each model's own labels were mapped onto negative/neutral/positive."""
        return dict(self.run.manifest.get("label_maps") or {})

    # ------------------------------------------------------------ display
    def __repr__(self) -> str:
        top = self.metrics.sort_values("accuracy", ascending=False).iloc[0] if len(self.metrics) else None
        shown = (f", highest accuracy {top['model']} "
                 f"{with_interval(top['accuracy'], top['accuracy_low'], top['accuracy_high'])}"
                 if top is not None else "")
        return f"<Evaluation: {len(self.metrics)} models x {len(self.gold)} texts{shown}>"

    def _repr_html_(self) -> str:
        from ..core.formatting import html_table, readable
        from ..engine.report import STYLE

        def table(df, index: bool = False, digits: int = 3) -> str:
            return df.to_html(index=index, na_rep="-", classes="oc-grid", float_format=lambda v: f"{v:.{digits}g}",
                              escape=True)

        metrics = self.metrics.drop(columns=["random weights"]).copy()
        metrics["model"] = [m + (" (random weights)" if rw else "")
                            for m, rw in zip(self.metrics["model"], self.metrics["random weights"], strict=True)]
        parts = [STYLE, "<div>",
                 f"<b>sentiment evaluation</b>: {len(self.metrics)} models × {len(self.gold)} texts; "
                 "a failed input counts as wrong (see <code>errors</code>); a model that answered none is not scored (-); "
                 "[brackets]: 95% interval",
                 html_table(readable(metrics, drop_empty=False))]
        pairs = self.paired()
        if len(pairs):
            items = "".join(f"<li>{html.escape(v)}</li>" for v in pairs["verdict"])
            parts.append("<p><b>Paired comparisons</b> (same texts; McNemar's exact test and a paired bootstrap "
                         f"of the difference)</p><ul>{items}</ul><p>{html.escape(leader(pairs))}</p>")
        errs = self.metrics[self.metrics["errors"] > 0]
        if len(errs):
            first = self.errors.groupby("model")["error"].first()
            items = "".join(f"<li><b>{html.escape(m)}</b>: {n} failed — {html.escape(first.get(m, ''))}</li>"
                            for m, n in zip(errs["model"], errs["errors"], strict=True))
            parts.append(f"<div class='oc-err'><ul>{items}</ul></div>")
        cms = "".join(f"<td><b>{html.escape(m)}</b>{table(cm, index=True)}</td>" for m, cm in self.confusion.items())
        parts.append(f"<p><b>Confusion matrices</b> (rows: gold, columns: predicted)</p><table><tr>{cms}</tr></table>")
        if len(self.agreement) > 1:
            parts.append("<p><b>Agreement between models</b> (Cohen's kappa on inputs both answered; "
                         "1 = always agree, 0 = no better than chance)</p>" + table(self.agreement, index=True))
        maps = self.label_maps()
        if maps:
            lines = "".join(f"<li><b>{html.escape(m)}</b>: "
                            + html.escape(", ".join(f"{k} → {v}" for k, v in mp.items())) + "</li>"
                            for m, mp in maps.items())
            parts.append(f"<p><b>Label mapping</b> (each model's labels onto negative/neutral/positive)</p><ul>{lines}</ul>")
        if self.by_group is not None:
            parts.append("<p><b>Accuracy by group</b></p>" + table(self.by_group, index=True))
        n_dis = len(self.disagreements)
        parts.append(f"<p><b>{n_dis} texts where the models disagree</b>"
                     + (" (first 10; all in <code>.disagreements</code>)" if n_dis > 10 else "") + "</p>")
        if n_dis:
            shown = self.disagreements.head(10).copy()
            shown["text"] = [t if len(t) <= 160 else t[:160] + "…" for t in shown["text"]]
            parts.append(table(shown))
        parts.append("</div>")
        return "".join(parts)


def _mean(vals: list[float]) -> float:
    return sum(vals) / len(vals) if vals else math.nan


def _per_1k(rs: list[Result]) -> float:
    costs = [r.cost_usd for r in rs if r.ok and r.cost_usd is not None]
    return sum(costs) / len(costs) * 1000 if costs else math.nan


def _throughput(rs: list[Result]) -> float:
    """Texts per second: answered inputs over the wall-clock span of this run's
    calls (batches and concurrent API calls counted once); for answers that
    all came from the response cache, over the latencies they were recorded with."""
    fresh = [r for r in rs if r.ok and r.cache in ("miss", "off") and r.started_at and r.ended_at]
    if fresh:
        span = max(r.ended_at for r in fresh) - min(r.started_at for r in fresh)
        if span > 0:
            return len(fresh) / span
    lat = [r.latency_s for r in rs if r.ok and r.latency_s]
    return len(lat) / sum(lat) if lat else math.nan


def evaluate(run: Comparison, labels: Any, *, groups: Any = None) -> Evaluation:
    """Score every model of a sentiment ``run`` against the gold ``labels``.

    ``labels``: a list or pandas Series with one of negative/neutral/positive
    per input, in the order of ``run.inputs``. ``groups`` (optional, same
    length): e.g. the domain of each text, for accuracy per group.
    """
    from ..engine.results import Comparison

    if not isinstance(run, Comparison):
        raise BadInputError(f"evaluate() needs the Comparison returned by oc.compare, not {type(run).__name__}",
                            'run = oc.compare("sentiment", models, texts); oc.evaluate(run, labels)')
    if run.task != "sentiment":
        raise OpenClosedError(f"evaluate() scores sentiment runs; this run is {run.task!r}",
                              "compare text generation or images by reading run.outputs()")
    gold = _gold(labels, len(run.inputs))
    group_list = None
    if groups is not None:
        if isinstance(groups, str) or not hasattr(groups, "__iter__"):
            raise BadInputError("groups must be a list or Series with one value per input", "e.g. groups=test['domain']")
        group_list = [str(g) for g in (groups.tolist() if hasattr(groups, "tolist") else groups)]
        if len(group_list) != len(gold):
            raise BadInputError(f"{len(group_list)} groups for {len(gold)} inputs", "pass one group per input")
    return Evaluation(run, gold, group_list)


__all__ = ["ERROR", "Evaluation", "evaluate"]
