"""Chat generation: greedy determinism, batched = one at a time, Stop (local
and API, no thread left running), stop strings, context limits, bad
parameters, the sweep, seeds and system fingerprints for API models, and the
chat panel. Tiny random-weight checkpoints prove the plumbing; API models are
in-process fakes (no packet leaves the machine)."""

from __future__ import annotations

import json
import threading
import time

import httpx2
import pytest
from openai_fakes import FakeAPI, register_fake, stream_response, use_key

import openclosed as oc
from openclosed.backends import transformers_chat
from openclosed.core.errors import BadParameterError, UnknownModelError

PROMPTS = ["hello there", "how are you today my friend", "tell me a story", "ok"]


@pytest.fixture
def tiny_lm(tiny_lm_dir):
    spec = oc.register("tiny-lm", task="text-generation", path=tiny_lm_dir, random_weights=True, replace_existing=True)
    yield spec
    oc.unregister("tiny-lm")


def _gen(prompts, **params):
    return oc.compare("text-generation", ["tiny-lm"], prompts, progress=False, cache="off", **params)


def _oc_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("oc-") and t.is_alive()]


# ------------------------------------------------------------------ local generation
def test_greedy_is_deterministic(tiny_lm):
    a, b = _gen(PROMPTS[:2], max_tokens=12), _gen(PROMPTS[:2], max_tokens=12)
    assert [r.output for r in a.results] == [r.output for r in b.results]
    assert all(r.output for r in a.results)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_batched_equals_one_at_a_time(tiny_lm, dtype):
    s = oc.get_settings()
    oc.setup("offline", dtype=dtype, verbose=False, cache_dir=s.cache_dir, responses_path=s.responses_dir)
    batched = _gen(PROMPTS, max_tokens=16)
    assert all("batched: 4 prompts in one generate" in " ".join(r.notes) for r in batched.results)
    singles = [_gen([p], max_tokens=16).results[0] for p in PROMPTS]
    assert all(not any("batched" in n for n in r.notes) for r in singles)
    same = [b.output == one.output for b, one in zip(batched.results, singles, strict=True)]
    tokens = [(b.output_tokens, one.output_tokens) for b, one in zip(batched.results, singles, strict=True)]
    if dtype == "float32":  # left padding with an attention mask: the same greedy answers
        assert all(same), list(zip([r.output for r in batched.results], [r.output for r in singles], strict=True))
        assert all(x == y for x, y in tokens)
    else:  # bfloat16: padding reorders sums; answers may drift, but every prompt gets a full answer
        assert all(b.ok and b.output_tokens for b in batched.results)
    for r, prompt in zip(batched.results, PROMPTS, strict=True):
        assert r.input == prompt and r.ttft_s is not None and r.ttft_s <= r.latency_s
        assert r.input_tokens == singles[PROMPTS.index(prompt)].input_tokens  # the row's own length, not padded


def test_sampling_runs_prompts_one_at_a_time_and_repeats_with_a_seed(tiny_lm):
    a = _gen(PROMPTS[:3], max_tokens=10, temperature=1.0, top_p=0.9, seed=7)
    b = _gen(PROMPTS[:3], max_tokens=10, temperature=1.0, top_p=0.9, seed=7)
    alone = _gen([PROMPTS[1]], max_tokens=10, temperature=1.0, top_p=0.9, seed=7)
    assert [r.output for r in a.results] == [r.output for r in b.results]
    assert a.results[1].output == alone.results[0].output  # a sampled answer does not depend on its neighbours
    assert not any("batched" in " ".join(r.notes) for r in a.results)


def test_partials_carry_live_counters(tiny_lm, monkeypatch):
    monkeypatch.setattr(transformers_chat, "PUSH_EVERY_S", 0.0)
    seen = []
    run = oc.compare("text-generation", ["tiny-lm"], PROMPTS[:2], max_tokens=12, progress=False, cache="off",
                     on_partial=lambda m, i, t: seen.append((i, str(t), t.tokens, t.ttft_s, t.tokens_per_s)))
    for i in range(2):
        mine = [s for s in seen if s[0] == i]
        assert len(mine) >= 3
        assert [s[2] for s in mine] == sorted(s[2] for s in mine)  # token counts only grow
        assert mine[-1][1] == run.result("tiny-lm", i).output and mine[-1][2] == run.result("tiny-lm", i).output_tokens
        assert all(s[3] is not None and s[3] >= 0 for s in mine)


def test_stop_ends_generation_keeps_partial_text_and_leaves_no_thread(tiny_lm, monkeypatch):
    monkeypatch.setattr(transformers_chat, "PUSH_EVERY_S", 0.0)
    cancel = threading.Event()
    counts = []

    def on_partial(_m, _i, text):
        counts.append(text.tokens)
        if text.tokens >= 5:
            cancel.set()

    before = set(_oc_threads())
    run = oc.compare("text-generation", ["tiny-lm"], ["go on and on"], max_tokens=200, progress=False, cache="off",
                     on_partial=on_partial, cancel=cancel)
    r = run.results[0]
    assert r.finish_reason == "stopped" and r.error.type == "Stopped" and "partial text is kept" in r.error.message
    assert 5 <= r.output_tokens <= 7 and r.output  # ended within a token or two, not at max_tokens
    assert set(_oc_threads()) <= before


def test_stop_before_start_runs_nothing(tiny_lm):
    cancel = threading.Event()
    cancel.set()
    r = oc.compare("text-generation", ["tiny-lm"], ["hi"], progress=False, cache="off", cancel=cancel).results[0]
    assert r.finish_reason == "stopped" and r.output_tokens is None and not r.output


def test_stop_strings_end_the_answer_before_them(tiny_lm):
    params = {"max_tokens": 24, "temperature": 1.0, "seed": 3}
    full = _gen(["say something"], **params).results[0].output
    assert len(full) >= 10, full
    stop = full[6:9]
    cut = _gen(["say something"], stop=[stop], **params).results[0]
    assert cut.output == full[:full.find(stop)] and cut.finish_reason == "stop"
    assert cut.output_tokens < 24


def test_prompt_longer_than_the_context_is_refused_and_long_answers_are_cut(tiny_lm):
    run = _gen(["word " * 400, "short"], max_tokens=300)
    long, short = run.results
    assert long.error.type == "BadInputError" and "reads at most 256" in long.error.message
    assert "shorten the prompt" in long.error.hint and long.output_tokens is None
    assert short.ok and any("max_tokens cut from 300" in n for n in short.notes)
    assert short.input_tokens + short.output_tokens <= 256


@pytest.mark.parametrize("params, word", [
    ({"max_tokens": 0}, "max_tokens"), ({"max_tokens": -5}, "max_tokens"), ({"stop": ""}, "empty"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "at most 4"), ({"top_p": 1.5}, "top_p"), ({"temprature": 1}, "temperature"),
])
def test_bad_parameters_are_refused_before_any_model_runs(tiny_lm, params, word):
    loads = oc.engine.modelcache.model_cache().loads
    with pytest.raises(BadParameterError) as err:
        _gen(["hi"], **params)
    assert word in str(err.value)
    assert oc.engine.modelcache.model_cache().loads == loads


def test_unknown_model_is_refused_with_a_hint():
    with pytest.raises(UnknownModelError) as err:
        oc.compare("text-generation", ["no-such-model"], ["hi"])
    assert "oc.models" in str(err.value) or "register" in str(err.value)


# ------------------------------------------------------------------ sweep
def test_sweep_is_one_table_and_seeds_repeat_for_open_models(tiny_lm):
    table = oc.sweep(["tiny-lm"], ["tell me"], temperature=[0.0, 1.0], seed=[0, 1, 0], max_tokens=8, cache="off",
                     progress=False)
    assert len(table) == 6 and {"model", "temperature", "seed", "output", "tokens_per_s"} <= set(table.columns)
    greedy = table[table.temperature == 0.0]["output"]
    assert greedy.nunique() == 1  # greedy ignores the seed
    sampled = table[table.temperature == 1.0].reset_index(drop=True)
    assert sampled.loc[0, "output"] == sampled.loc[2, "output"]  # same seed, same text
    counts = oc.session.sweep.same_text(table)
    assert set(counts.columns) >= {"model", "temperature", "different texts"}
    with pytest.raises(BadParameterError):
        oc.sweep(["tiny-lm"], ["x"], temperature=[0.0, 9.0], progress=False)


# ------------------------------------------------------------------ API streams
def _fingerprint_stream(request: httpx2.Request) -> httpx2.Response:
    def events():
        for i, piece in enumerate(["Hi", " there", "."]):
            body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-6-luna-fake-snapshot",
                    "system_fingerprint": "fp_test123", "choices": [{"index": 0, "delta": {"content": piece},
                                                                   "finish_reason": "stop" if i == 2 else None}]}
            yield f"data: {json.dumps(body)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=events())


def test_closed_model_gets_the_seed_and_stop_and_its_fingerprint_is_recorded(monkeypatch):
    use_key(monkeypatch)
    fake = FakeAPI(_fingerprint_stream)
    register_fake("fake-closed", fake, task="text-generation")
    table = oc.sweep(["fake-closed"], ["hi"], temperature=[0.7], seed=[11], stop=["END"], progress=False, cache="off")
    body = fake.bodies()[0]
    assert body["seed"] == 11 and body["stop"] == ["END"] and body["temperature"] == 0.7
    assert table.loc[0, "system_fingerprint"] == "fp_test123" and table.loc[0, "output"] == "Hi there."


def test_stop_ends_an_api_stream_with_its_partial_text(monkeypatch):
    use_key(monkeypatch)
    trickle = threading.Event()
    fake = FakeAPI(lambda req: stream_response([f" w{i}" for i in range(100)], delay=0.05, stop=trickle))
    register_fake("fake-closed", fake, task="text-generation")
    cancel = threading.Event()

    def on_partial(_m, _i, text):
        if text.tokens >= 3:
            cancel.set()

    t0 = time.perf_counter()
    try:
        r = oc.compare("text-generation", ["fake-closed"], ["go"], progress=False, cache="off",
                       on_partial=on_partial, cancel=cancel).results[0]
    finally:
        trickle.set()
    assert time.perf_counter() - t0 < 4.0  # the whole stream would take 5 s (generous bound, not a speed test)
    assert r.finish_reason == "stopped" and r.output.startswith(" w0 w1 w2") and len(r.output.split()) < 100
    assert r.ttft_s is not None


# ------------------------------------------------------------------ panel
def test_chat_panel_streams_stops_and_keeps_history(tiny_lm, monkeypatch):
    monkeypatch.setattr(transformers_chat, "PUSH_EVERY_S", 0.0)
    from openclosed.views import chat_panel

    monkeypatch.setattr(chat_panel, "UPDATE_EVERY_S", 0.0)
    panel = oc.ChatPanel(["tiny-lm"], prompt="hello", max_tokens=8)
    run = panel.run()
    assert run.results[0].ok and panel.texts["tiny-lm"].value.count(run.results[0].output[:5]) >= 1
    assert "tok/s" in panel.stats["tiny-lm"].value and "random weights" in panel.stats["tiny-lm"].value

    stopped = threading.Event()
    original = panel._on_partial

    def stop_after_some(model, index, text):
        original(model, index, text)
        if text.tokens >= 4 and not stopped.is_set():
            stopped.set()
            panel.stop_button.click()

    panel._on_partial = stop_after_some
    panel.max_tokens.value = 200
    thread = panel.start()
    thread.join(timeout=120)
    assert not thread.is_alive() and not _oc_threads()
    r = panel.last.results[0]
    assert r.finish_reason == "stopped" and r.output and "stopped" in panel.texts["tiny-lm"].value
    hist = panel.history
    assert list(hist["run"]) == [1, 2] and list(hist["stop_pressed"]) == [False, True]
    assert list(hist["max_tokens"]) == [8, 200]

    panel.max_tokens.value = 1
    panel.models_select.value = ()
    assert panel.run() is None and "Tick at least one" in panel.status.value
