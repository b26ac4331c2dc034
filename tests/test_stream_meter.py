"""One meter for every stream (engine/stream.py): the same conformance checks
run over every streaming backend - transformers (a tiny random-weight LM),
an OpenAI-compatible stream (an in-process fake endpoint) and llama.cpp (the
shipped GGUF) - so time to first token, tokens/s, the live counters and Stop
mean the same thing in every column."""

from __future__ import annotations

import importlib.util
import threading
import time

import pytest
from openai_fakes import FakeAPI, register_fake, smart

import openclosed as oc
from openclosed.engine.context import RunContext
from openclosed.engine.results import Result
from openclosed.engine.stream import StreamMeter


@pytest.fixture(params=["transformers", "openai", "llamacpp"])
def streaming_model(request, tiny_lm_dir, monkeypatch):
    """A model name per streaming backend."""
    if request.param == "transformers":
        from openclosed.backends import transformers_chat

        monkeypatch.setattr(transformers_chat, "PUSH_EVERY_S", 0.0)  # the tiny model is done within one interval
        oc.register("tiny-lm", task="text-generation", path=tiny_lm_dir, random_weights=True, replace_existing=True)
        return "tiny-lm"
    if request.param == "openai":
        fake = FakeAPI(smart(text=["Paris", " is", " the", " capital", "."]))
        register_fake("fake-served", fake, task="text-generation", family="served", model="served-model")
        return "fake-served"
    if importlib.util.find_spec("llama_cpp") is None:
        from conftest import require_or_skip

        require_or_skip("OPENCLOSED_REQUIRE_LLAMACPP", "llama-cpp-python is not installed")
    return "smollm2-135m-q4_1"


def test_every_stream_keeps_the_same_books(streaming_model):
    seen = []
    r = oc.compare("text-generation", [streaming_model], ["Where is Paris?"], max_tokens=8, cache="off",
                   on_partial=lambda m, i, text: seen.append(text)).results[0]
    assert r.ok, r.error
    assert r.output_tokens and r.ttft_s is not None and 0 <= r.ttft_s <= r.latency_s
    assert r.ended_at == pytest.approx(r.started_at + r.latency_s)
    if r.output_tokens > 1:  # tokens/s: from the first token to the last
        assert r.tokens_per_s == pytest.approx((r.output_tokens - 1) / (r.latency_s - r.ttft_s), rel=1e-6)
    assert seen, "no partial text reached the display"
    counts = [p.tokens for p in seen]
    assert counts == sorted(counts) and counts[-1] <= r.output_tokens
    assert all(r.output.startswith(p) and p.ttft_s == pytest.approx(r.ttft_s) for p in seen)


def test_every_stream_stops_with_its_partial_text(streaming_model):
    cancel = threading.Event()
    r = oc.compare("text-generation", [streaming_model], ["Tell me a long story."], max_tokens=64, cache="off",
                   cancel=cancel, on_partial=lambda m, i, text: cancel.set()).results[0]
    assert r.finish_reason == "stopped" and r.error.type == "Stopped"
    assert r.output and r.output_tokens >= 1 and "partial text is kept" in r.error.message


def _ctx(deadline_s: float = 60.0, on_partial=None, cancel=None) -> RunContext:
    s = oc.get_settings()
    s = type(s)(**{**s.__dict__, "deadline_s": deadline_s})
    return RunContext(oc.catalog.registry.get_model("smollm2-135m"), "text-generation", {}, s, emit=lambda r: None,
                      on_partial=on_partial, cancel=cancel)


def test_meter_pushes_at_most_every_interval_and_reads_the_deadline():
    pushed = []
    meter = StreamMeter(_ctx(deadline_s=0.05, on_partial=lambda m, i, t: pushed.append(t)), (0, "x"),
                        push_every_s=10.0)
    for n in range(1, 6):
        meter.update("a" * n, n)
    assert len(pushed) == 1 and pushed[0] == "a"  # the first update goes out, then the interval holds the rest
    assert meter.halt() is None
    time.sleep(0.06)
    assert meter.halt() == "deadline"
    r = meter.finish(Result("smollm2-135m", "text-generation", 0, "x"))
    assert r.output == "aaaaa" and r.output_tokens == 5 and r.finish_reason == "deadline"
    assert r.error.type == "DeadlineError" and r.error.retryable and "deadline_s" in r.error.hint
