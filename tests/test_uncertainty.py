"""Intervals and paired tests: every score of oc.evaluate carries a 95%
interval, and two models on the same texts are compared pairwise (a paired
bootstrap of the difference, McNemar's exact test on the discordant texts).
Synthetic predictions with a known truth: a real difference is found, none
is invented, and the paired interval is tighter than the separate ones."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.metrics import f1_score

import openclosed as oc
from openclosed.core.labels import LABELS
from openclosed.engine import stats
from openclosed.engine.results import Comparison, Result


def _run(gold: list[str], preds: dict[str, list[str]]) -> Comparison:
    texts = [f"t{i}" for i in range(len(gold))]
    results = [Result(model=m, task="sentiment", input_index=i, input=texts[i], family="open", output=p,
                      scores={p: 1.0})
               for m, ps in preds.items() for i, p in enumerate(ps)]
    return Comparison("sentiment", list(preds), texts, results, {})


def _noisy(gold: list[str], accuracy: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [g if rng.random() < accuracy else rng.choice([x for x in LABELS if x != g]) for g in gold]


def _gold(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(LABELS) for _ in range(n)]


def test_intervals_contain_the_estimate_and_shrink_with_more_texts():
    widths = {}
    for n in (60, 240, 960):
        gold = _gold(n)
        ev = oc.evaluate(_run(gold, {"m": _noisy(gold, 0.7, seed=n)}), gold)
        row = ev.metrics.iloc[0]
        for metric in ("accuracy", "macro-F1"):
            assert row[f"{metric}_low"] < row[metric] < row[f"{metric}_high"]
        widths[n] = (row["accuracy_high"] - row["accuracy_low"], row["macro-F1_high"] - row["macro-F1_low"])
    for metric in (0, 1):
        assert widths[60][metric] > widths[240][metric] > widths[960][metric]
    # about 1/sqrt(n): four times the texts, half the width
    assert widths[240][0] / widths[960][0] == pytest.approx(2, rel=0.15)


def test_wilson_and_bootstrap_agree_with_the_libraries():
    from scipy.stats import binomtest

    ci = binomtest(120, 180).proportion_ci(method="wilson")
    assert stats.wilson(120, 180) == pytest.approx((ci.low, ci.high))
    assert stats.wilson(0, 10)[0] == 0 and stats.wilson(10, 10)[1] == pytest.approx(1)
    gold = _gold(200)
    pred = _noisy(gold, 0.6, seed=3)
    codes = lambda ls: [LABELS.index(v) for v in ls]  # noqa: E731
    assert stats.macro_f1(codes(pred), codes(gold), 3) == pytest.approx(
        f1_score(gold, pred, labels=list(LABELS), average="macro", zero_division=0))
    # the same seed, the same resamples: intervals reproduce exactly
    a, b = (oc.evaluate(_run(gold, {"m": pred}), gold).metrics for _ in range(2))
    assert a.loc[0, "macro-F1_low"] == b.loc[0, "macro-F1_low"]


def test_a_real_difference_is_detected_and_named():
    gold = _gold(300)
    weak = _noisy(gold, 0.55, seed=4)
    # strong: weak's answers, with half of weak's mistakes fixed
    strong = [g if (w != g and i % 2 == 0) else w for i, (g, w) in enumerate(zip(gold, weak, strict=True))]
    ev = oc.evaluate(_run(gold, {"weak": weak, "strong": strong}), gold)
    row = ev.paired().iloc[0]
    assert row["winner"] == "strong" and row["p"] < 0.001 and row["only a right"] == 0
    assert row["difference_low"] > 0 and row["difference"] == pytest.approx(
        np.mean(np.array(strong) == gold) - np.mean(np.array(weak) == gold))
    sentence = ev.verdicts()[0]
    assert sentence.startswith(f"strong beats weak by {row['difference']:.2f} [")
    assert "McNemar p<0.001" in sentence and "on 300 texts" in sentence
    assert ev.leader().startswith("strong has the highest accuracy")


def test_identical_or_equally_good_models_get_no_verdict():
    gold = _gold(180)
    a = _noisy(gold, 0.7, seed=5)
    ev = oc.evaluate(_run(gold, {"a": a, "copy": list(a), "other": _noisy(gold, 0.7, seed=6)}), gold)
    pairs = ev.paired().set_index(["a", "b"])
    same = pairs.loc[("a", "copy")]
    assert same["p"] == 1 and same["difference"] == 0 and same["difference_low"] == same["difference_high"] == 0
    assert same["winner"] is None
    acc = np.mean(np.array(a) == gold)
    assert ev.verdicts()[0] == (f"a vs copy: no detectable difference in accuracy on 180 texts (a {acc:.2f}, "
                                f"copy {acc:.2f}; difference +0.00 [+0.00, +0.00], McNemar p=1)")
    other = pairs.loc[("a", "other")]
    assert other["p"] > 0.05 and other["winner"] is None
    assert ev.leader().startswith("No single model has the highest accuracy")
    assert "best" not in " ".join(ev.verdicts()) + ev.leader()


def test_the_paired_interval_is_tighter_when_models_agree_on_most_texts():
    gold = _gold(180)
    a = _noisy(gold, 0.65, seed=7)
    b = list(a)
    wrong = [i for i, (p, g) in enumerate(zip(a, gold, strict=True)) if p != g]
    for i in wrong[:12]:  # b fixes 12 of a's mistakes and agrees with a everywhere else
        b[i] = gold[i]
    ev = oc.evaluate(_run(gold, {"a": a, "b": b}), gold)
    m = ev.metrics.set_index("model")
    row = ev.paired().iloc[0]
    separate = (m.loc["a", "accuracy_high"] - m.loc["a", "accuracy_low"],
                m.loc["b", "accuracy_high"] - m.loc["b", "accuracy_low"])
    assert row["difference_high"] - row["difference_low"] < 0.6 * min(separate)
    # the separate intervals overlap, yet the paired test tells them apart
    assert m.loc["b", "accuracy_low"] < m.loc["a", "accuracy_high"]
    assert row["winner"] == "b" and row["p"] < 0.001


def test_two_way_has_intervals_and_paired_verdicts():
    gold = ["positive", "negative"] * 60 + ["neutral"] * 20
    good = [g if g != "neutral" else "positive" for g in gold]
    bad = [("negative" if g == "positive" else "positive") if i % 3 == 0 else g
           for i, g in enumerate(gold)]
    ev = oc.evaluate(_run(gold, {"good": good, "bad": bad}), gold)
    two = ev.two_way().set_index("model")
    assert two.loc["good", "two-way accuracy"] == 1
    assert two.loc["bad", "two-way accuracy_low"] < two.loc["bad", "two-way accuracy"] < two.loc["bad", "two-way accuracy_high"]
    row = ev.paired(two_way=True).iloc[0]
    assert row["texts"] == 120 and row["winner"] == "good"
    assert "in two-way accuracy on 120 texts" in ev.verdicts(two_way=True)[0]
    shown = oc.readable(two.reset_index())
    assert shown["two-way accuracy"].iloc[0] == "1.00 [0.97, 1.00]"


def test_a_model_without_answers_is_left_out_of_the_pairs():
    gold = _gold(30)
    run = _run(gold, {"a": list(gold), "b": _noisy(gold, 0.5, seed=8)})
    for r in run.results:
        if r.model == "b":
            r.output = None
            r.error = __import__("openclosed.engine.results", fromlist=["ErrorInfo"]).ErrorInfo("AuthenticationError", "no key")
    ev = oc.evaluate(run, gold)
    assert ev.paired().empty and ev.leader().startswith("Fewer than two models")
    table = ev.table()
    assert table.loc["a", "accuracy"] == "1.00 [0.89, 1.00]"
