"""Open models in this kernel, through oc.compare: generation (streamed),
images, and the model cache. Tiny random-weight checkpoints built at test
time prove the plumbing; SmolLM2 proves a real answer."""

from __future__ import annotations

import numpy as np
import pytest

import openclosed as oc


@pytest.fixture
def tiny_lm(tiny_lm_dir):
    spec = oc.register("tiny-lm", task="text-generation", path=tiny_lm_dir, random_weights=True, replace_existing=True)
    yield spec
    oc.unregister("tiny-lm")


@pytest.fixture
def tiny_sd():
    from openclosed import get_settings
    from openclosed.catalog.assets import tiny_sd_folder

    return tiny_sd_folder(get_settings().cache_dir)


def test_generation_streams_and_measures(tiny_lm):
    seen = []
    run = oc.compare("text-generation", ["tiny-lm"], ["hello there", "how are you"], max_tokens=8,
                     on_partial=lambda m, i, text: seen.append((m, i, text)))
    for r in run.results:
        assert r.ok, r.error
        assert r.output_tokens and 0 < r.output_tokens <= 8
        assert r.ttft_s is not None and r.ttft_s <= r.latency_s
        assert r.input_tokens > 0 and r.finish_reason in ("stop", "length")
        assert r.random_weights and "random weights" in run._repr_html_()
    assert {(m, i) for m, i, _ in seen} <= {("tiny-lm", 0), ("tiny-lm", 1)} and seen
    assert run.manifest["params"]["max_tokens"] == 8 and run.manifest["seed"] == 0


def test_generation_is_reproducible_with_a_seed(tiny_lm):
    a = oc.compare("text-generation", ["tiny-lm"], ["tell me"], max_tokens=8, temperature=1.0, seed=3, cache="off")
    b = oc.compare("text-generation", ["tiny-lm"], ["tell me"], max_tokens=8, temperature=1.0, seed=3, cache="off")
    assert a.results[0].output == b.results[0].output
    assert a.results[0].cache == "off"


def test_deadline_keeps_partial_text(tiny_lm):
    oc.setup("offline", deadline_s=0.0, verbose=False, cache_dir=oc.get_settings().cache_dir,
             responses_path=oc.get_settings().responses_dir)
    r = oc.compare("text-generation", ["tiny-lm"], ["go on"], max_tokens=64).results[0]
    assert r.error and r.error.type == "DeadlineError" and r.finish_reason == "deadline"
    assert "deadline_s" in r.error.hint


def test_rerun_comes_from_the_response_cache(tiny_lm):
    first = oc.compare("text-generation", ["tiny-lm"], ["cache me"], max_tokens=4)
    loads = oc.engine.modelcache.model_cache().loads
    again = oc.compare("text-generation", ["tiny-lm"], ["cache me"], max_tokens=4)
    assert again.results[0].cache == "hit" and again.results[0].output == first.results[0].output
    assert again.results[0].cached_at
    assert oc.engine.modelcache.model_cache().loads == loads
    changed = oc.compare("text-generation", ["tiny-lm"], ["cache me"], max_tokens=5)
    assert changed.results[0].cache == "miss"  # a parameter is part of the key


def test_image_generation_is_seeded_and_labelled(tiny_sd, tmp_path):
    run = oc.compare("image-generation", ["tiny-sd-random"], ["a red apple", "a blue car"], steps=2, cache="off")
    again = oc.compare("image-generation", ["tiny-sd-random"], ["a red apple"], steps=2, cache="off")
    a, b = run.results[0], again.results[0]
    assert a.ok and a.image is not None and a.random_weights
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert any("random weights" in n for n in a.notes)
    saved = run.save(tmp_path / "run")
    back = oc.load(saved)
    assert np.array_equal(np.asarray(back.results[0].image), np.asarray(a.image))
    assert back.results[1].input == "a blue car"


def test_load_model_second_call_is_from_memory(tiny_lm):
    first = oc.load_model("tiny-lm")
    second = oc.load_model("tiny-lm")
    assert first is second
    assert "RANDOM WEIGHTS" in repr(first) and first.dtype == oc.get_settings().dtype


def test_load_model_refuses_closed_models():
    with pytest.raises(oc.OpenClosedError, match="not on this machine"):
        oc.load_model("gpt-6-luna")


def test_smollm2_knows_the_capital_of_france(smollm2_dir):
    run = oc.compare("text-generation", ["smollm2-135m"], ["What is the capital of France?"], max_tokens=30)
    r = run.results[0]
    assert r.ok, r.error
    assert "Paris" in r.output
    assert r.tokens_per_s and r.tokens_per_s > 0  # measured (its value depends on the machine)
    assert r.answered_by.endswith("smollm2-135m-instruct") or "smollm2" in r.answered_by.lower()
