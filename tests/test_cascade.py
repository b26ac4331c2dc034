"""The cascade's accuracy and cost, against a hand-made example; its threshold
is chosen on validation texts and scored once on the others."""

from __future__ import annotations

import pytest

import openclosed as oc
from openclosed.core.errors import BadInputError, BadParameterError
from openclosed.engine.results import Comparison, ErrorInfo, Result

GOLD = ["positive", "negative", "positive", "negative"]
TEXTS = ["a", "b", "c", "d"]


def _run(first_out, first_conf, fallback_out, fallback_cost=0.01, first_cost=0.001, fallback_error_at=None,
         texts=TEXTS):
    results = []
    for i, (o, c) in enumerate(zip(first_out, first_conf)):
        results.append(Result("small", "sentiment", i, texts[i], output=o, confidence=c, cost_usd=first_cost,
                              family="open"))
    for i, o in enumerate(fallback_out):
        r = Result("big", "sentiment", i, texts[i], output=o, confidence=1.0, cost_usd=fallback_cost, family="closed")
        if i == fallback_error_at:
            r.output, r.error = None, ErrorInfo("RateLimitError", "429")
        results.append(r)
    return Comparison("sentiment", ["small", "big"], list(texts), results, {})


# other labelled texts, where only input 1 is worth sending on: 0.5 is the cheapest best threshold there
VALIDATION = (_run(["positive", "positive", "positive", "negative"], [0.9, 0.4, 0.55, 0.95],
                   ["positive", "negative", "positive", "positive"], texts=["e", "f", "g", "h"]), GOLD)


def test_cascade_by_hand():
    # small: right on 0 and 3 (confident), wrong on 1 (0.4) and 2 (0.55); big: right on 0-2, wrong on 3
    run = _run(["positive", "positive", "negative", "negative"], [0.9, 0.4, 0.55, 0.95],
               ["positive", "negative", "positive", "positive"])
    c = oc.cascade(run, GOLD, first="small", fallback="big", thresholds=[0, 0.5, 0.6, 1.01], validation=VALIDATION)
    t = c.table.set_index("threshold")
    # threshold 0: nothing goes on -> small alone: 2/4, cost 4 x 0.001
    assert t.loc[0.0, "sent on"] == 0 and t.loc[0.0, "accuracy"] == 0.5 and t.loc[0.0, "total $"] == pytest.approx(0.004)
    # 0.5: input 1 goes on (big right) -> 3/4, cost 0.004 + 0.01
    assert t.loc[0.5, "sent on"] == 0.25 and t.loc[0.5, "accuracy"] == 0.75
    assert t.loc[0.5, "total $"] == pytest.approx(0.014) and t.loc[0.5, "$ per 1k"] == pytest.approx(3.5)
    # 0.6: inputs 1 and 2 go on -> 4/4, cost 0.004 + 0.02
    assert t.loc[0.6, "accuracy"] == 1.0 and t.loc[0.6, "total $"] == pytest.approx(0.024)
    # above 1: everything goes on -> big's answers (3/4), cost 0.004 + 0.04
    assert t.loc[1.01, "sent on"] == 1 and t.loc[1.01, "accuracy"] == 0.75 and t.loc[1.01, "total $"] == pytest.approx(0.044)
    assert c.open_only == {"accuracy": 0.5, "total $": pytest.approx(0.004), "$ per 1k": pytest.approx(1.0)}
    assert c.closed_only == {"accuracy": 0.75, "total $": pytest.approx(0.04), "$ per 1k": pytest.approx(10.0)}
    # on these test texts 0.6 would score 1.0, but the threshold is chosen on the validation texts: 0.5
    assert c.validation_table.set_index("threshold").loc[0.5, "accuracy"] == 1.0
    best = c.choose()
    assert best["threshold"] == 0.5 and best["validation accuracy"] == 1.0 and best["accuracy"] == 0.75
    assert best["chosen on"] == "4 separate validation texts" and best["test texts"] == 4
    assert best["accuracy_low"] < 0.75 < best["accuracy_high"]
    assert best["saving vs fallback only ($ per 1k)"] == pytest.approx(10.0 - 3.5)
    assert best["saving vs fallback only (%)"] == pytest.approx(65.0)
    assert best["saving vs fallback only (%)_low"] <= 65.0 <= best["saving vs fallback only (%)_high"]
    assert best["accuracy vs first only"] == pytest.approx(0.25)
    assert best["accuracy vs fallback only"] == pytest.approx(0.0)
    assert best["McNemar p vs fallback only"] == 1.0  # the cascade and big differ on input 3 and 2: one each
    # the cheapest threshold reaching an accuracy on the validation texts; at most 0.25 below big alone there
    assert c.choose(min_accuracy=0.75)["threshold"] == 0.0
    assert c.choose(below_fallback=0)["threshold"] == 0.0  # big alone: 0.75 on the validation texts
    with pytest.raises(BadParameterError, match="no threshold"):
        c.choose(min_accuracy=1.1)
    assert "threshold 0.50, chosen on 4 separate validation texts" in c._repr_html_()


def test_the_threshold_is_never_chosen_on_the_texts_it_reports():
    run = _run(["positive", "positive", "negative", "negative"], [0.9, 0.4, 0.55, 0.95],
               ["positive", "negative", "positive", "positive"])
    with pytest.raises(BadInputError, match="chosen on test texts"):
        oc.cascade(run, GOLD, first="small", fallback="big", validation=(run, GOLD))
    # by default half the texts choose, the other half report, stratified by label
    c = oc.cascade(run, GOLD, first="small", fallback="big")
    assert c.n == 2 and len(c.validation_table) == len(c.table)
    assert c.choose()["chosen on"] == "2 validation texts (the other 2 are the test texts)"


def test_a_stand_in_fallback_is_named_as_such():
    run = _run(["positive"] * 4, [0.9, 0.4, 0.55, 0.95], ["positive", "negative", "positive", "negative"],
               fallback_cost=None)
    c = oc.cascade(run, GOLD, first="small", fallback="big", fallback_usd_per_request=0.002,
                   stands_in_for="gpt-6-luna", validation=VALIDATION)
    text = c.summary()
    assert "Cascade small → big (a stand-in for gpt-6-luna)" in text
    assert "big stands in for gpt-6-luna (priced as it); no gpt-6-luna answer is in these numbers" in text
    assert "as a stand-in for gpt-6-luna" in c.cost_basis["big"]
    assert any("stands in for gpt-6-luna" in n for n in c.notes)
    plain = oc.cascade(run, GOLD, first="small", fallback="big", fallback_usd_per_request=0.002, validation=VALIDATION)
    assert "stand-in" not in plain.summary()


def test_failures_go_on_and_failed_fallback_answers_count_as_wrong():
    run = _run(["positive", "positive", "negative", "negative"], [0.9, 0.4, 0.55, 0.95],
               ["positive", "negative", "positive", "positive"], fallback_error_at=1)
    run.results[0].output, run.results[0].error = None, ErrorInfo("X", "boom")  # small fails on input 0
    c = oc.cascade(run, GOLD, first="small", fallback="big", thresholds=[0.5], validation=VALIDATION)
    row = c.table.iloc[0]
    assert row["sent on"] == 0.5  # input 0 (failed) and input 1 (0.4)
    assert row["accuracy"] == 0.5  # input 0 -> big right; input 1 -> big failed (wrong); 2 wrong; 3 right
    assert any("failed answers of small" in n for n in c.notes) and any("count as wrong" in n for n in c.notes)


def test_prices_given_instead_of_measured_and_bad_input():
    run = _run(["positive"] * 4, [0.9] * 4, ["positive"] * 4, fallback_cost=None)
    with pytest.raises(BadParameterError, match="fallback_usd_per_request"):
        oc.cascade(run, GOLD, first="small", fallback="big")
    c = oc.cascade(run, GOLD, first="small", fallback="big", fallback_usd_per_request=0.002, thresholds=[1.01],
                   validation=VALIDATION)
    assert c.table.iloc[0]["total $"] == pytest.approx(0.004 + 4 * 0.002)
    assert c.cost_basis["big"] == "$0.002 per request (given)"
    with pytest.raises(BadInputError, match="not in this run"):
        oc.cascade(run, GOLD, first="small", fallback="gpt-6-luna")
    with pytest.raises(BadInputError, match="one per input"):
        oc.cascade(run, GOLD[:3], first="small", fallback="big")


def test_cascade_on_a_real_run():
    data = oc.sentiment_data("test").head(24)
    run = oc.compare("sentiment", ["vader", "minilm-lr"], data["text"].tolist(), progress=False)
    c = oc.cascade(run, data["label"], first="vader", fallback="minilm-lr")
    assert c.n == 12  # half chooses the threshold, half reports
    best = c.choose()
    assert best["accuracy_low"] <= best["accuracy"] <= best["accuracy_high"]
    # the reported part is the test half: the same numbers as oc.evaluate on those texts
    part = data.iloc[c.test_positions]
    counts, halves = part["label"].value_counts(), data["label"].value_counts() / 2
    assert len(part) == 12 and all(abs(counts[k] - halves[k]) <= 0.5 for k in halves.index)  # stratified by label
    ev = oc.evaluate(oc.compare("sentiment", ["vader", "minilm-lr"], part["text"].tolist(), progress=False),
                     part["label"]).metrics.set_index("model")
    assert c.open_only["accuracy"] == pytest.approx(ev.loc["vader", "accuracy"])
    assert c.closed_only["accuracy"] == pytest.approx(ev.loc["minilm-lr", "accuracy"])
    assert c.table["sent on"].iloc[0] == 0 and c.table["sent on"].iloc[-1] == 1
    assert c.table["accuracy"].iloc[-1] == pytest.approx(c.closed_only["accuracy"])
