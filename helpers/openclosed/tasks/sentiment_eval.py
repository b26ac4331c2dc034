"""Score a sentiment :class:`~openclosed.engine.results.Comparison` against gold
labels: accuracy, macro-F1, a per-class report, confusion matrices, agreement
between models (Cohen's kappa), $ per 1,000 texts and texts/s, and the texts
the models disagree on. (Introduced in ``01_sentiment.ipynb``.)

    ev = oc.evaluate(run, labels)
    ev.metrics          # one row per model
    ev.confusion["vader"]
    oc.plots.tradeoff(ev)   # accuracy vs cost vs speed

A model's failed inputs are never dropped: they count as wrong, appear in the
``errors`` column and in the confusion matrix's ``error`` column, and are listed
in ``ev.errors``.
"""

from __future__ import annotations

import html
import math
import warnings
from typing import TYPE_CHECKING, Any

from ..core.errors import BadInputError, OpenClosedError
from ..core.labels import LABELS

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

    ``metrics``: one row per model (accuracy, macro-F1, errors, kappa against
    the gold labels, $ per 1,000 texts, texts/s, mean latency);
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
            rows.append({
                "model": m,
                "family": first.family if first else "",
                "random weights": bool(first and first.random_weights),
                "texts": n,
                "errors": errors,
                "accuracy": correct / n if n else math.nan,
                "macro-F1": float(f1_score(gold, pred, labels=list(LABELS), average="macro", zero_division=0)),
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

        keep = [i for i, g in enumerate(self.gold) if g != "neutral"]
        rows = []
        for m in self.run.models:
            by_index = {r.input_index: r for r in self.run.results if r.model == m}
            correct = from_scores = 0
            for i in keep:
                r = by_index.get(i)
                scores = (r.scores or {}) if r is not None and r.ok else {}
                if {"positive", "negative"} <= scores.keys():
                    choice = "positive" if scores["positive"] >= scores["negative"] else "negative"
                    from_scores += 1
                else:
                    choice = _prediction(r) if r is not None else ERROR
                correct += choice == self.gold[i]
            rows.append({"model": m, "random weights": any(r.random_weights for r in by_index.values()),
                         "texts": len(keep), "two-way accuracy": correct / len(keep) if keep else math.nan,
                         "chosen from scores": from_scores, "neutral texts left out": len(self.gold) - len(keep)})
        return pd.DataFrame(rows)

    def label_maps(self) -> dict[str, dict[str, str]]:
        """How each model's own labels were mapped onto negative/neutral/positive."""
        return dict(self.run.manifest.get("label_maps") or {})

    # ------------------------------------------------------------ display
    def __repr__(self) -> str:
        best = self.metrics.sort_values("accuracy", ascending=False).iloc[0] if len(self.metrics) else None
        top = f", best {best['model']} accuracy {best['accuracy']:.3f}" if best is not None else ""
        return f"<Evaluation: {len(self.metrics)} models x {len(self.gold)} texts{top}>"

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
                 "a failed input counts as wrong (see <code>errors</code>)",
                 html_table(readable(metrics, drop_empty=False))]
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
