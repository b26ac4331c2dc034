"""The comparison engine with an API model: the response cache (hits make no
request; recorded answers replay without a key), the spending cap, manifests
that reload and rerun, bounded concurrency, and failures that stay in their
own column. Requests are counted at the fake transport (openai_fakes.py)."""

from __future__ import annotations

import gzip
import json
import threading
import time

import pytest
from openai_fakes import FakeAPI, error_response, register_fake, sentiment_response, smart, use_key

import openclosed as oc
from openclosed.core.errors import BadInputError

TEXTS = ["I loved every minute of it.", "Terrible service, never again.", "It was a film.", "Pretty good!"]


@pytest.fixture
def key(monkeypatch):
    return use_key(monkeypatch)


# ----------------------------------------------------------------- the cache
def test_cache_hit_makes_zero_requests(key):
    fake = FakeAPI()
    register_fake("fake-closed", fake, task="sentiment")
    first = oc.compare("sentiment", ["fake-closed", "vader"], TEXTS, progress=False)
    assert fake.count == len(TEXTS)
    assert {r.cache for r in first.results} == {"miss"}
    second = oc.compare("sentiment", ["fake-closed", "vader"], TEXTS, progress=False)
    assert fake.count == len(TEXTS)  # nothing reached the transport
    assert {r.cache for r in second.results} == {"hit"}
    assert all(r.cached_at for r in second.results)
    assert [r.output for r in second.results] == [r.output for r in first.results]
    assert second.result("fake-closed").answered_by == "gpt-6-luna-fake-snapshot"
    assert second.summary().set_index("model").loc["fake-closed", "cached"] == len(TEXTS)
    # a changed parameter is a different question: it is asked again
    oc.compare("sentiment", ["fake-closed"], TEXTS[:1], progress=False, seed=7)
    assert fake.count == len(TEXTS) + 1


def test_cache_off_and_failures_are_not_cached(key):
    fake = FakeAPI()
    register_fake("fake-closed", fake, task="sentiment")
    run = oc.compare("sentiment", ["fake-closed"], TEXTS[:2], progress=False, cache="off")
    assert {r.cache for r in run.results} == {"off"}
    oc.compare("sentiment", ["fake-closed"], TEXTS[:2], progress=False, cache="off")
    assert fake.count == 4
    bad = FakeAPI(lambda req: error_response(500, "x"))
    register_fake("fake-bad", bad, task="sentiment")
    oc.setup("offline", max_retries=0, cache_dir=key.cache_dir, responses_path=key.responses_dir, verbose=False)
    oc.compare("sentiment", ["fake-bad"], TEXTS[:1], progress=False)
    oc.compare("sentiment", ["fake-bad"], TEXTS[:1], progress=False)
    assert bad.count == 2  # an error is asked again next time, never replayed


def test_export_import_replays_without_a_key(monkeypatch, tmp_path, key):
    fake = FakeAPI()
    register_fake("fake-closed", fake, task="sentiment")
    recorded = oc.compare("sentiment", ["fake-closed", "vader"], TEXTS, progress=False)
    path = tmp_path / "class-answers.jsonl.gz"
    assert oc.export_cache(path) == len(TEXTS)  # closed answers only
    with gzip.open(path, "rt") as f:
        lines = [json.loads(x) for x in f][1:]
    dates = {line["entry"]["stored_at"] for line in lines}

    # a student: fresh responses folder, no key at all
    monkeypatch.delenv("OPENAI_API_KEY")
    s = oc.setup("offline", cache_dir=key.cache_dir, responses_path=tmp_path / "student-responses", verbose=False)
    assert s.key("OPENAI_API_KEY") is None
    student_fake = FakeAPI()
    register_fake("fake-closed", student_fake, task="sentiment")
    before = oc.compare("sentiment", ["fake-closed"], TEXTS[:1], progress=False)
    assert before.result("fake-closed").error.type == "MissingKeyError"
    assert oc.import_cache(path) == len(TEXTS)
    run = oc.compare("sentiment", ["fake-closed", "vader"], TEXTS, progress=False)
    assert student_fake.count == 0
    for i in range(len(TEXTS)):
        r = run.result("fake-closed", i)
        assert r.ok and r.cache == "replay" and r.cached_at in dates
        assert r.output == recorded.result("fake-closed", i).output
        assert run.result("vader", i).cache == "miss"  # open models still run here
    assert run.summary().set_index("model").loc["fake-closed", "cached"] == len(TEXTS)


# ----------------------------------------------------------- spending cap
def test_spending_cap_refuses_without_a_request(monkeypatch):
    use_key(monkeypatch, max_spend_usd=0.0)
    fake = FakeAPI()
    register_fake("fake-closed", fake, task="text-generation")
    run = oc.compare("text-generation", ["fake-closed"], TEXTS, progress=False)
    assert fake.count == 0
    for r in run.results:
        assert r.error.type == "SpendingCapError"
        assert "cap" in r.error.message and "max_spend_usd" in r.error.hint
    assert oc.get_settings().spent_usd == 0


def test_spend_is_settled_to_the_real_cost(monkeypatch):
    s = use_key(monkeypatch, max_spend_usd=1.0)
    fake = FakeAPI()
    register_fake("fake-closed", fake, task="sentiment")
    run = oc.compare("sentiment", ["fake-closed"], TEXTS, progress=False)
    assert all(r.ok for r in run.results)
    assert s.spent_usd == pytest.approx(sum(r.cost_usd for r in run.results))
    # a cap just under one more call's estimate stops the next call
    s.max_spend_usd = s.spent_usd + 1e-9
    fake2 = FakeAPI()
    register_fake("fake-closed", fake2, task="sentiment")
    r = oc.compare("sentiment", ["fake-closed"], ["a new text"], progress=False).result("fake-closed")
    assert r.error.type == "SpendingCapError" and fake2.count == 0


def test_served_models_are_not_capped(monkeypatch):
    use_key(monkeypatch, max_spend_usd=0.0)
    fake = FakeAPI()
    register_fake("fake-served", fake, task="sentiment", family="served", model="m")
    r = oc.compare("sentiment", ["fake-served"], TEXTS[:1], progress=False).result("fake-served")
    assert r.ok and r.cost_usd is None and "self-hosted" in r.cost_basis


# ------------------------------------------------------- manifest round trip
def test_manifest_round_trips_and_rerun_reproduces(key, tmp_path):
    fake = FakeAPI()
    register_fake("fake-closed", fake, task="text-generation")
    run = oc.compare("text-generation", ["fake-closed"], TEXTS[:2], progress=False, max_tokens=12, seed=5)
    folder = run.save(tmp_path / "runs" / "x")
    loaded = oc.load(folder)
    assert loaded.task == run.task and loaded.models == run.models and loaded.inputs == run.inputs
    assert loaded.manifest["params"] == {**run.manifest["params"]}
    assert loaded.manifest["params"]["max_tokens"] == 12 and loaded.manifest["seed"] == 5
    rec = loaded.manifest["model_specs"][0]
    assert rec["name"] == "fake-closed" and rec["family"] == "closed" and "extra" not in rec
    for a, b in zip(run.results, loaded.results, strict=True):
        assert (a.model, a.input_index, a.output, a.answered_by, a.output_tokens) == (
            b.model, b.input_index, b.output, b.answered_by, b.output_tokens)
    # rerun from the folder, asking the model again (cache off)
    oc.setup("offline", response_cache="off", cache_dir=key.cache_dir, responses_path=key.responses_dir, verbose=False)
    again = oc.rerun(folder)
    assert fake.count == 4
    assert again.manifest["params"] == run.manifest["params"]
    assert [r.output for r in again.results] == [r.output for r in run.results]
    assert json.loads((folder / "manifest.json").read_text())["models"] == ["fake-closed"]


# ------------------------------------------------------------- concurrency
def test_api_inputs_run_concurrently(key):
    state, handler = _peak_tracker(0.05, wait_for=2)
    fake = FakeAPI(handler)
    register_fake("fake-closed", fake, task="sentiment")
    run = oc.compare("sentiment", ["fake-closed", "vader"], [f"text number {i}" for i in range(16)],
                     progress=False, cache="off")
    assert all(r.ok for r in run.results)
    assert fake.count == 16
    assert state["peak"] >= 2, "API inputs did not overlap: the server never saw two requests at once"
    # the results' own [started_at, ended_at] intervals overlap too
    spans = sorted((r.started_at, r.ended_at) for r in run.results if r.model == "fake-closed")
    assert any(b_start < a_end for (_, a_end), (b_start, _) in zip(spans, spans[1:]))


def _peak_tracker(delay: float, wait_for: int = 0):
    """A handler that counts requests in flight (``state["peak"]``: the most at once).
    With ``wait_for``, each request waits (up to 10 s, once) until that many are in
    flight, so the peak reaches the limit whenever the client really sends them
    concurrently, however slow the machine."""
    state = {"now": 0, "peak": 0}
    lock = threading.Lock()
    full = threading.Event()
    inner = smart()

    def handler(request):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            if state["now"] >= wait_for:
                full.set()
        try:
            if not full.wait(10):
                full.set()  # give up waiting once: the peak assertion will say what happened
            time.sleep(delay)
            return inner(request)
        finally:
            with lock:
                state["now"] -= 1

    return state, handler


def test_concurrency_is_bounded_per_endpoint_across_models(monkeypatch):
    use_key(monkeypatch, api_concurrency=3)
    state, handler = _peak_tracker(0.05, wait_for=3)
    fake = FakeAPI(handler)
    url = "http://127.0.0.1:9/v1"  # never contacted: the fake transport answers
    register_fake("served-a", fake, task="sentiment", family="served", model="a", base_url=url)
    register_fake("served-b", fake, task="sentiment", family="served", model="b", base_url=url)
    run = oc.compare("sentiment", ["served-a", "served-b"], [f"t{i}" for i in range(12)], progress=False,
                     cache="off")
    assert all(r.ok for r in run.results) and fake.count == 24
    assert state["peak"] <= 3  # both models share the endpoint's 3 slots...
    assert state["peak"] == 3  # ...and use them (each request waited until 3 were in flight)


# ------------------------------------------------------------ failures stay put
def test_a_model_that_fails_as_a_whole_stays_in_its_column(key, tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    oc.register("broken-local", task="sentiment", path=broken, arch="classifier", replace_existing=True)
    fake = FakeAPI()
    register_fake("fake-closed", fake, task="sentiment")
    run = oc.compare("sentiment", ["broken-local", "vader", "fake-closed"], TEXTS, progress=False)
    assert len(run.results) == 3 * len(TEXTS)
    broken_rs = [r for r in run.results if r.model == "broken-local"]
    assert len(broken_rs) == len(TEXTS) and all(r.error is not None for r in broken_rs)
    for m in ("vader", "fake-closed"):
        assert all(r.ok for r in run.results if r.model == m)
    assert run.summary().set_index("model").loc["broken-local", "errors"] == len(TEXTS)


def test_empty_text_is_an_error_result_without_a_request(key):
    fake = FakeAPI()
    register_fake("fake-closed", fake, task="sentiment")
    run = oc.compare("sentiment", ["fake-closed", "vader"], ["fine", "   "], progress=False)
    assert fake.count == 1
    assert run.result("fake-closed", 1).error.type == "EmptyInput"
    assert run.result("fake-closed", 0).ok


@pytest.mark.parametrize("inputs, words", [
    ([None], ["input 0"]),
    (["fine", None, "also fine"], ["input 1", "inputs[1]"]),
    ([], ["empty"]),
    (None, ["string"]),
])
def test_bad_inputs_raise_before_any_request(key, inputs, words):
    fake = FakeAPI()
    register_fake("fake-closed", fake, task="sentiment")
    with pytest.raises(BadInputError) as info:
        oc.compare("sentiment", ["fake-closed", "vader"], inputs, progress=False)
    for w in words:
        assert w in str(info.value)
    assert fake.count == 0


def test_structured_answer_used_in_the_comparison_table(key):
    fake = FakeAPI(lambda req: sentiment_response("neutral", 0.55))
    register_fake("fake-closed", fake, task="sentiment")
    run = oc.compare("sentiment", ["fake-closed", "vader"], TEXTS[:2], progress=False)
    wide = run.outputs()
    assert list(wide.columns) == ["input", "fake-closed", "vader"]
    assert list(wide["fake-closed"]) == ["neutral", "neutral"]
