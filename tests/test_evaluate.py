"""oc.evaluate on a small hand-built Comparison: every number checked against
values worked out by hand, errors counted as wrong, bad labels refused."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import openclosed as oc
from openclosed.engine.results import Comparison, ErrorInfo, Result

TEXTS = ["t0", "t1", "t2", "t3", "t4", "t5"]
GOLD = ["negative", "negative", "neutral", "neutral", "positive", "positive"]
A = ["negative", "neutral", "neutral", "neutral", "positive", "negative"]  # 4/6 right
B = ["negative", "negative", None, "positive", "positive", "positive"]  # input 2 failed; 4/6 right


def _results(model: str, preds: list[str | None], family: str, batched: bool) -> list[Result]:
    out = []
    for i, (text, p) in enumerate(zip(TEXTS, preds, strict=True)):
        r = Result(model=model, task="sentiment", input_index=i, input=text, family=family, answered_by=model)
        if p is None:
            r.error = ErrorInfo("RateLimitError", "429 too many requests", "wait and retry")
        else:
            r.output, r.confidence, r.scores = p, 0.9, {p: 0.9}
            if batched:  # one batch of 6 in 3 s
                r.started_at, r.ended_at, r.latency_s, r.cost_usd = 100.0, 103.0, 0.5, 0.001
            else:  # one call a second, 0.5 s each
                r.started_at, r.ended_at, r.latency_s, r.cost_usd = 10.0 + i, 10.5 + i, 0.5, 0.002
        out.append(r)
    return out


@pytest.fixture
def run() -> Comparison:
    results = _results("a", A, "open", batched=True) + _results("b", B, "closed", batched=False)
    manifest = {"label_maps": {"a": {"POS": "positive", "NEG": "negative", "NEU": "neutral"}}}
    return Comparison("sentiment", ["a", "b"], TEXTS, results, manifest)


def test_accuracy_and_macro_f1_match_hand_computed_values(run):
    ev = oc.evaluate(run, GOLD)
    m = ev.metrics.set_index("model")
    assert m.loc["a", "accuracy"] == pytest.approx(4 / 6)
    assert m.loc["b", "accuracy"] == pytest.approx(4 / 6)  # the failed input counts as wrong
    # a: F1 negative 1/2, neutral 4/5, positive 2/3
    assert m.loc["a", "macro-F1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # b: F1 negative 1, neutral 0 (both missed, one by an error), positive 4/5
    assert m.loc["b", "macro-F1"] == pytest.approx((1 + 0 + 0.8) / 3)
    assert m.loc["b", "accuracy (answered only)"] == pytest.approx(4 / 5)
    assert m.loc["a", "errors"] == 0 and m.loc["b", "errors"] == 1 and m.loc["b", "texts"] == 6


def test_per_class_report(run):
    rep = oc.evaluate(run, GOLD).report["a"]
    assert list(rep.index) == ["negative", "neutral", "positive"]
    assert rep.loc["neutral", "precision"] == pytest.approx(2 / 3)
    assert rep.loc["neutral", "recall"] == pytest.approx(1.0)
    assert rep.loc["positive", "recall"] == pytest.approx(0.5)
    assert rep.loc["negative", "support"] == 2


def test_confusion_matrix_order_and_error_column(run):
    ev = oc.evaluate(run, GOLD)
    a, b = ev.confusion["a"], ev.confusion["b"]
    assert list(a.index) == ["negative", "neutral", "positive"] and list(a.columns) == ["negative", "neutral", "positive"]
    assert a.loc["negative", "neutral"] == 1 and a.loc["positive", "negative"] == 1 and a.values.sum() == 6
    assert list(b.columns) == ["negative", "neutral", "positive", "error"]
    assert b.loc["neutral", "error"] == 1 and b.loc["neutral", "positive"] == 1 and b.values.sum() == 6


def test_kappa_between_models_on_inputs_both_answered(run):
    ev = oc.evaluate(run, GOLD)
    # inputs 0,1,3,4,5: observed agreement 2/5; chance (2*2 + 2*0 + 1*3) / 25
    po, pe = 2 / 5, 7 / 25
    assert ev.agreement.loc["a", "b"] == pytest.approx((po - pe) / (1 - pe))
    assert ev.agreement.loc["b", "a"] == pytest.approx(ev.agreement.loc["a", "b"])
    assert ev.agreement.loc["a", "a"] == pytest.approx(1.0)


def test_cost_and_speed(run):
    m = oc.evaluate(run, GOLD).metrics.set_index("model")
    assert m.loc["a", "$ per 1k texts"] == pytest.approx(1.0)
    assert m.loc["b", "$ per 1k texts"] == pytest.approx(2.0)
    assert m.loc["a", "texts/s"] == pytest.approx(6 / 3)  # one batch: 6 texts in 3 s
    assert m.loc["b", "texts/s"] == pytest.approx(5 / 5.5)  # 5 answered between t=10 and t=15.5
    assert m.loc["a", "mean latency (s)"] == pytest.approx(0.5)


def test_disagreements_and_errors_are_listed(run):
    ev = oc.evaluate(run, GOLD)
    d = ev.disagreements
    assert d["input_index"].tolist() == [1, 3, 5]  # input 2: only one model answered, so no disagreement
    assert d.set_index("input_index").loc[3, "gold"] == "neutral"
    assert d.set_index("input_index").loc[3].to_dict() == {
        "text": "t3", "gold": "neutral", "a": "neutral", "b": "positive", "correct": 1}
    assert ev.errors[["model", "input_index", "gold"]].values.tolist() == [["b", 2, "neutral"]]
    assert "RateLimitError" in ev.errors["error"].iloc[0]


def test_rich_display_and_label_maps(run):
    ev = oc.evaluate(run, GOLD, groups=["x", "x", "x", "y", "y", "y"])
    page = ev._repr_html_()
    for needle in ("accuracy", "macro-F1", "Confusion", "kappa", "RateLimitError", "POS → positive", "t3"):
        assert needle in page
    assert ev.label_maps()["a"]["NEG"] == "negative"
    assert ev.by_group.loc["x", "a"] == pytest.approx(2 / 3) and ev.by_group.loc["y", "b"] == pytest.approx(2 / 3)
    # a and b are tied (4/6 each): the page names the pair's verdict, and nothing is called "best"
    assert "highest accuracy a 0.67 [0.30, 0.90]" in repr(ev) and "best" not in repr(ev)
    assert "Paired comparisons" in page and "a vs b: no detectable difference in accuracy on 6 texts" in page
    assert "0.67 [0.30, 0.90]" in page


def test_plots_are_built_from_the_evaluation(run):
    ev = oc.evaluate(run, GOLD)
    fig = oc.plots.tradeoff(ev)
    assert {t.name for t in fig.data} == {"open", "closed"}
    assert len(oc.plots.confusion(ev).data) == 2
    table = oc.plots.disagreements(ev)
    assert list(table.data[0].cells.values[0]) == [1, 3, 5]
    assert oc.plots.latency(run).data


def test_a_model_without_any_answer_is_named_not_hidden():
    results = _results("a", A, "open", batched=True) + _results("c", [None] * 6, "closed", batched=False)
    run = Comparison("sentiment", ["a", "c"], TEXTS, results, {})
    ev = oc.evaluate(run, GOLD)
    m = ev.metrics.set_index("model")
    # every input is an error, listed; but a model that never answered is not scored as 0% accurate
    assert m.loc["c", "errors"] == 6 and len(ev.errors.query("model == 'c'")) == 6
    assert all(math.isnan(m.loc["c", k]) for k in ("accuracy", "accuracy_low", "accuracy_high", "macro-F1",
                                                    "$ per 1k texts"))
    assert math.isnan(ev.two_way().set_index("model").loc["c", "two-way accuracy"])
    assert m.loc["a", "accuracy"] > 0   # the model that answered is scored as usual
    assert "c" not in set(ev.paired()[["a", "b"]].to_numpy().ravel())
    assert "not shown" in oc.plots.tradeoff(ev).layout.title.text and "c" in oc.plots.tradeoff(ev).layout.title.text
    assert len(ev.disagreements) == 0


def test_labels_can_be_a_series_and_case_is_forgiven(run):
    ev = oc.evaluate(run, pd.Series([g.upper() for g in GOLD], index=range(100, 106)))
    assert ev.metrics.set_index("model").loc["a", "accuracy"] == pytest.approx(4 / 6)


@pytest.mark.parametrize("labels, match", [
    (GOLD[:5], "5 labels for 6 inputs"),
    (GOLD + ["positive"], "7 labels for 6 inputs"),
    (["pos", "negative", "neutral", "neutral", "good", "positive"], r"unknown labels: 'pos' \(first at index 0\), 'good'"),
    ([None] + GOLD[1:], "unknown labels: None"),
    ("positive", "must be a list"),
])
def test_bad_labels_get_clear_errors(run, labels, match):
    with pytest.raises(oc.OpenClosedError, match=match):
        oc.evaluate(run, labels)


def test_only_sentiment_runs_are_evaluated():
    run = Comparison("text-generation", ["a"], ["hi"], [Result("a", "text-generation", 0, "hi", output="hello")], {})
    with pytest.raises(oc.OpenClosedError, match="scores sentiment runs"):
        oc.evaluate(run, ["positive"])
    with pytest.raises(oc.OpenClosedError, match="needs the Comparison"):
        oc.evaluate([1, 2], ["positive", "negative"])


def test_a_saved_and_reloaded_run_scores_the_same(run, tmp_path):
    back = oc.load(run.save(tmp_path / "run"))
    a, b = oc.evaluate(run, GOLD), oc.evaluate(back, GOLD)
    cols = ["model", "errors", "accuracy", "macro-F1", "$ per 1k texts", "texts/s"]
    pd.testing.assert_frame_equal(a.metrics[cols], b.metrics[cols])
    assert b.label_maps() == a.label_maps()


def test_two_way_accuracy_forces_a_choice_between_positive_and_negative():
    gold = ["negative", "negative", "neutral", "positive", "positive"]
    texts = [f"t{i}" for i in range(5)]
    scored = [{"negative": 0.2, "neutral": 0.7, "positive": 0.1},  # says neutral; forced: negative (right)
              {"negative": 0.3, "neutral": 0.2, "positive": 0.5},  # positive (wrong)
              {"negative": 0.1, "neutral": 0.8, "positive": 0.1},  # neutral gold: left out
              {"negative": 0.1, "neutral": 0.6, "positive": 0.3},  # forced: positive (right)
              None]  # failed: wrong
    labels_only = ["neutral", "negative", "neutral", "positive", "positive"]  # no scores: neutral counts as wrong
    results = []
    for i, (sc, lab) in enumerate(zip(scored, labels_only, strict=True)):
        s = Result(model="scored", task="sentiment", input_index=i, input=texts[i], family="open")
        if sc is None:
            s.error = ErrorInfo("RuntimeError", "boom", "retry")
        else:
            s.output, s.scores = max(sc, key=sc.get), sc
        t = Result(model="labels", task="sentiment", input_index=i, input=texts[i], family="open", output=lab,
                   random_weights=True)  # a stand-in: its row must say so
        results += [s, t]
    ev = oc.evaluate(Comparison("sentiment", ["scored", "labels"], texts, results, {}), gold)
    two = ev.two_way().set_index("model")
    assert two.loc["scored", "two-way accuracy"] == pytest.approx(2 / 4)
    assert two.loc["labels", "two-way accuracy"] == pytest.approx(3 / 4)
    assert two.loc["scored", "chosen from scores"] == 3 and two.loc["labels", "chosen from scores"] == 0
    assert (two["texts"] == 4).all() and (two["neutral texts left out"] == 1).all()
    assert two["random weights"].tolist() == [False, True]
    assert ev.metrics.set_index("model").loc["scored", "accuracy"] == pytest.approx(1 / 5)  # three-way: only the neutral text
