"""Sentiment through oc.compare with the real offline models (VADER, MiniLM +
logistic regression, SmolLM2-135M zero-shot) on a few bundled test texts, the
classifier path on a tiny random classifier registered by folder, batching,
label mapping and edge cases."""

from __future__ import annotations

import random

import pytest

import openclosed as oc
from openclosed.backends.transformers import _batches, _shared_prefix
from openclosed.core.labels import LABELS

OFFLINE = ["vader", "minilm-lr", "smollm2-135m"]


@pytest.fixture(scope="module")
def sample() -> list[str]:
    """Two bundled test texts per label, short and long mixed."""
    test = oc.sentiment_data("test")
    rows = []
    for lab in LABELS:
        part = test[test["label"] == lab]
        rows += [part.loc[part["text"].str.len().idxmin(), "text"], part.loc[part["text"].str.len().idxmax(), "text"]]
    return rows


@pytest.fixture
def tiny_clf(tiny_classifier_dir):
    spec = oc.register("tiny-clf", task="sentiment", path=tiny_classifier_dir, random_weights=True,
                       replace_existing=True)
    yield spec
    oc.unregister("tiny-clf")


def _check_valid(run, texts):
    for m in run.models:
        for i, text in enumerate(texts):
            r = run.result(m, i)
            assert r.ok, (m, r.error)
            assert r.input == text and r.input_index == i  # results in input order
            assert r.output in LABELS and set(r.scores) <= set(LABELS)
            assert sum(r.scores.values()) == pytest.approx(1.0, abs=0.01)
            assert r.confidence == pytest.approx(max(r.scores.values()), abs=1e-6) or m == "vader"


def test_offline_models_give_valid_labels_in_input_order(sample):
    run = oc.compare("sentiment", OFFLINE, sample, cache="off")
    _check_valid(run, sample)
    assert [r.model for r in run.results] == [m for m in OFFLINE for _ in sample]
    maps = run.manifest["label_maps"]  # every model says how its outputs became negative/neutral/positive
    assert set(maps) == set(OFFLINE)
    for m in OFFLINE:
        assert sorted(set(maps[m].values())) == list(LABELS)
    assert any("next token" in k for k in maps["smollm2-135m"])
    assert any("shared prompt prefix" in n for n in run.result("smollm2-135m", 0).notes)


def test_plainly_worded_texts_get_the_obvious_label():
    texts = ["I absolutely love it, wonderful and perfect!", "Awful. It broke on day one and I want a refund."]
    run = oc.compare("sentiment", ["vader", "minilm-lr"], texts)
    for m in run.models:
        assert [run.result(m, i).output for i in range(2)] == ["positive", "negative"], m


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_batching_does_not_change_outputs(sample, tiny_clf, dtype, oc_settings):
    """Sorted by length, shuffled, or one at a time: the same label and scores per text, in both dtypes
    (bfloat16 is what a CPU with native bf16 picks; it runs, slower, on any CPU)."""
    oc.setup("offline", dtype=dtype, cache_dir=oc_settings.cache_dir, responses_path=oc_settings.responses_dir, verbose=False)
    models = ["minilm-lr", "smollm2-135m", "tiny-clf"]
    shuffled = sample[:]
    random.Random(1).shuffle(shuffled)
    by_len = sorted(sample, key=len)
    runs = [oc.compare("sentiment", models, order, cache="off") for order in (sample, shuffled, by_len)]
    one = {t: oc.compare("sentiment", ["smollm2-135m", "tiny-clf"], [t], cache="off") for t in sample[:2]}
    for m in models:
        ref = {r.input: r for r in runs[0].results if r.model == m}
        for other in runs[1:]:
            for r in (x for x in other.results if x.model == m):
                assert r.output == ref[r.input].output, (m, r.input)
                # the same up to the last rounded digit (bfloat16 padding used to move them by 0.01-0.03)
                assert r.scores == pytest.approx(ref[r.input].scores, abs=1.01e-4), (m, dtype, r.input)
        for t, single in one.items():
            if m in single.models:
                assert single.result(m, 0).scores == pytest.approx(ref[t].scores, abs=1.01e-4), (m, dtype, t)


def test_classifier_registered_by_folder(tiny_clf):
    texts = ["good product", "bad service", "it arrived"]
    run = oc.compare("sentiment", ["tiny-clf"], texts)
    _check_valid(run, texts)
    r = run.result("tiny-clf", 0)
    assert r.random_weights and r.family == "open" and r.input_tokens > 0
    assert run.manifest["label_maps"]["tiny-clf"] == {"negative": "negative", "positive": "positive"}
    assert any(n.startswith("labels: negative->negative") for n in r.notes)
    assert any("batched: 3 inputs" in n for n in r.notes)
    # the mapping survives the response cache (it is stored with each answer)
    again = oc.compare("sentiment", ["tiny-clf"], texts)
    assert all(x.cache == "hit" for x in again.results)
    assert again.manifest["label_maps"] == run.manifest["label_maps"]


def test_batches_are_sorted_complete_and_within_budget():
    rng = random.Random(0)
    lengths = [rng.randint(1, 300) for _ in range(500)]
    batches = _batches(lengths, budget=1024, max_batch=16)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(500))
    assert [lengths[i] for i in flat] == sorted(lengths)
    for b in batches:
        assert len(b) <= 16 and (len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 1024)
        assert len({lengths[i] for i in b}) == 1  # no padding: one length per batch
    assert _shared_prefix([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert _shared_prefix([[1, 2, 3], [1, 2, 3]]) == 2  # every row keeps at least one token


# ----------------------------------------------------------------- edge cases
def test_empty_and_whitespace_inputs_are_per_input_errors(tiny_clf):
    run = oc.compare("sentiment", ["vader", "tiny-clf"], ["fine", "", "   \n\t"])
    for m in run.models:
        assert run.result(m, 0).ok
        for i in (1, 2):
            err = run.result(m, i).error
            assert err is not None and err.type == "EmptyInput" and f"input {i} is empty" in err.message
            assert err.hint


def test_emoji_only_and_non_english_texts_get_labels(tiny_clf):
    texts = ["😍😍😍", "👎", "Das Essen war ausgezeichnet, ich komme wieder.", "Producto horrible, no funciona."]
    run = oc.compare("sentiment", OFFLINE + ["tiny-clf"], texts)
    _check_valid(run, texts)


def test_a_20000_character_text_states_its_truncation_per_model(tiny_clf):
    long = ("The delivery was quick and the build quality is decent, though the manual is confusing. " * 250)[:20_000]
    run = oc.compare("sentiment", OFFLINE + ["tiny-clf"], [long, "short and sweet"])
    _check_valid(run, [long, "short and sweet"])
    notes = {m: " ".join(run.result(m, 0).notes) for m in run.models}
    assert "no truncation: VADER reads all 20000 characters" in notes["vader"]
    assert "truncated to the first 256 tokens" in notes["minilm-lr"]
    assert "to the first 512 tokens before prompting" in notes["smollm2-135m"]
    assert "to the first 128 tokens" in notes["tiny-clf"]
    for m in run.models:  # the short text says nothing about truncation
        assert "truncat" not in " ".join(run.result(m, 1).notes) and "cut" not in " ".join(run.result(m, 1).notes)


def test_none_in_the_list_names_the_index():
    with pytest.raises(oc.OpenClosedError, match=r"input 2 is NoneType") as info:
        oc.compare("sentiment", ["vader"], ["good", "bad", None, "ok"])
    assert "inputs[2]" in info.value.hint
