"""The llama.cpp backend: SmolLM2-135M as GGUF files (the shipped Q4_1 and the
F16 / Q8_0 / Q4_0 files written from its values) through oc.compare,
streaming, stop, seeds, token probabilities, zero-shot sentiment, the served
engine through the openai client, and a missing build giving a clear error
in its own column."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

import openclosed as oc
from openclosed.core.labels import LABELS

Q4 = "smollm2-135m-q4_1"
PROMPT = "What is the capital of France?"


@pytest.fixture(scope="module")
def llamacpp():
    """Skip (or fail, with OPENCLOSED_REQUIRE_LLAMACPP=1 as in CI) where llama-cpp-python is not installed."""
    if importlib.util.find_spec("llama_cpp") is None:
        from conftest import require_or_skip

        require_or_skip("OPENCLOSED_REQUIRE_LLAMACPP", "llama-cpp-python is not installed")
    import llama_cpp

    return llama_cpp


def _gguf(name: str):
    from openclosed.backends.llamacpp import gguf_path

    return gguf_path(oc.catalog.registry.get_model(name), oc.get_settings())


def test_generation_through_compare_streams_and_measures(llamacpp):
    seen = []
    run = oc.compare("text-generation", [Q4], [PROMPT, "Name three colours."], max_tokens=12, cache="off",
                     on_partial=lambda m, i, text: seen.append((m, i, text)))
    for r in run.results:
        assert r.ok, r.error
        assert r.backend == "llamacpp" and r.output and 0 < r.output_tokens <= 12
        assert r.ttft_s is not None and 0 < r.ttft_s <= r.latency_s
        assert r.tokens_per_s and r.tokens_per_s > 0
        assert r.input_tokens > 5 and r.peak_memory_mb > 0 and r.cost_usd is not None
        assert r.finish_reason in ("stop", "length")
        assert any("GGUF Q4_1" in n for n in r.notes)
    assert seen and {(m, i) for m, i, _ in seen} <= {(Q4, 0), (Q4, 1)}
    for m, i, text in seen:  # streamed text is always a prefix of the final answer, with live counters
        assert run.result(Q4, i).output.startswith(text)
        assert text.tokens and text.ttft_s is not None
    assert run.manifest["loaded"][Q4]["dtype"] == "Q4_1"


def test_greedy_answer_is_llama_cpp_own_answer(llamacpp):
    """The backend's own token loop gives what llama-cpp-python's create_chat_completion gives (greedy)."""
    r = oc.compare("text-generation", ["smollm2-135m-q8_0"], [PROMPT], max_tokens=16, cache="off").results[0]
    llm = llamacpp.Llama(str(_gguf("smollm2-135m-q8_0")), n_ctx=512, n_threads=1, verbose=False)
    try:
        direct = llm.create_chat_completion([{"role": "user", "content": PROMPT}], temperature=0.0, max_tokens=16,
                                            repeat_penalty=1.0)
    finally:
        llm.close()
    assert r.output == direct["choices"][0]["message"]["content"]
    assert r.output_tokens == direct["usage"]["completion_tokens"]
    assert r.input_tokens == direct["usage"]["prompt_tokens"]


def test_stop_strings_and_the_stop_button_keep_the_partial_text(llamacpp):
    r = oc.compare("text-generation", [Q4], ["Name three colours."], max_tokens=40, stop=[":"],
                   cache="off").results[0]
    assert r.ok and ":" not in r.output and r.finish_reason == "stop"
    import threading

    cancel = threading.Event()
    stopped = oc.compare("text-generation", [Q4], ["Write a long story about a cat."], max_tokens=200, cache="off",
                         cancel=cancel, on_partial=lambda m, i, text: text.tokens >= 3 and cancel.set()).results[0]
    assert stopped.finish_reason == "stopped" and stopped.error.type == "Stopped"
    assert stopped.output and 3 <= stopped.output_tokens < 200


def test_a_seed_repeats_a_sampled_answer(llamacpp):
    def sample(seed):
        return oc.compare("text-generation", [Q4], ["Tell me a story."], max_tokens=16, temperature=1.2, seed=seed,
                          cache="off").results[0].output

    a, b, c = sample(3), sample(3), sample(4)
    assert a == b
    assert a != c
    # whatever ran before (another system prompt, the zero-shot prompt, a fresh model), the same seed repeats
    oc.compare("text-generation", [Q4], ["Hi"], max_tokens=4, system="Answer in French.", cache="off")
    oc.compare("sentiment", [Q4], ["fine"], cache="off")
    assert sample(3) == a
    oc.release_models()
    assert sample(3) == a


def test_look_inside_gives_top5_token_probabilities(llamacpp):
    inside = oc.look_inside([Q4], "Name three colours.", max_tokens=6)
    trace = inside[Q4]
    assert trace.error is None and len(trace.steps) == 6
    for step in trace.steps:
        probs = [p for _, p in step.top]
        assert len(step.top) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
        assert step.prob == pytest.approx(probs[0])  # greedy: the chosen token is the most likely one
    assert "".join(s.text for s in trace.steps) == oc.compare(
        "text-generation", [Q4], ["Name three colours."], max_tokens=6, cache="off").results[0].output


def test_zero_shot_sentiment_scores_the_label_words(llamacpp):
    run = oc.compare("sentiment", ["smollm2-135m-q8_0"],
                     ["I absolutely love this, it is wonderful!", "This is terrible, I hate it."], cache="off")
    good, bad = run.results
    for r in (good, bad):
        assert r.ok and r.output in LABELS and sum(r.scores.values()) == pytest.approx(1, abs=1e-3)
    assert good.scores["positive"] > bad.scores["positive"] and bad.scores["negative"] > good.scores["negative"]
    assert any("next token" in k for k in run.manifest["label_maps"]["smollm2-135m-q8_0"])


def test_gguf_files_hold_the_same_weights_at_other_widths(llamacpp):
    from openclosed.catalog.gguf_requant import tensor_types, tensor_values
    from openclosed.session.loading import estimate_bytes

    q4, f16, q8 = _gguf(Q4), _gguf("smollm2-135m-f16"), _gguf("smollm2-135m-q8_0")
    assert tensor_types(f16) == {"F16": 211, "F32": 61} and tensor_types(q8) == {"Q8_0": 211, "F32": 61}
    name = "blk.0.ffn_down.weight"
    exact = tensor_values(q4, name)
    assert np.array_equal(tensor_values(f16, name), exact.astype(np.float16).astype(np.float32))
    assert 0 < np.abs(tensor_values(q8, name) - exact).max() < 0.02  # 8-bit rounding on top, small
    assert f16.stat().st_size > q8.stat().st_size > q4.stat().st_size
    spec = oc.catalog.registry.get_model(Q4)  # memory from the file, not 2 bytes per parameter
    assert estimate_bytes(spec, "bfloat16") < 135e6 * 2 * 0.8


def test_register_a_single_gguf_file(llamacpp, tmp_path):
    spec = oc.register("my-gguf", task="text-generation", path=_gguf(Q4))
    assert spec.backend == "llamacpp" and spec.source == "file" and spec.size_mb > 50
    r = oc.compare("text-generation", ["my-gguf"], ["Hi"], max_tokens=3, cache="off").results[0]
    assert r.ok and r.output
    other = tmp_path / "weights.bin"
    other.write_bytes(b"\0" * 16)
    with pytest.raises(oc.OpenClosedError, match="no backend runs on its own"):
        oc.register("bad", task="text-generation", path=other)


def test_a_missing_build_fails_in_its_own_column(monkeypatch, tmp_path):
    """No llama-cpp-python (simulated: its import fails): the GGUF model's column says so with the fix; the
    other model in the same run answers."""
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # `import llama_cpp` now raises ImportError
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real_find_spec(
        name, *a))
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    oc.register("unbuilt", tasks=("sentiment",), path=gguf)
    run = oc.compare("sentiment", ["unbuilt", "vader"], ["I love it"], cache="off")
    r = run.result("unbuilt")
    assert r.error.type == "ModelNotAvailableError"
    assert "llama.cpp is not installed here" in r.error.message
    assert "pip install llama-cpp-python" in r.error.hint and "GGML_NATIVE=OFF" in r.error.hint
    assert run.result("vader").ok
    from openclosed.session.availability import usable_models

    ok, why = usable_models("text-generation")  # the panels list it with the reason, and offer the rest
    assert why["smollm2-135m-q4_1"].startswith("llama.cpp is not installed here") and "smollm2-135m" in ok


@pytest.mark.server
def test_served_by_llama_cpp_answers_through_the_openai_client(llamacpp):
    with oc.serve(Q4, engine="llama.cpp", progress=False) as served:
        assert served.base_url.startswith("http://127.0.0.1:")
        spec = oc.catalog.registry.get_model(served.name)
        assert spec.family == "served" and spec.backend == "openai"
        run = oc.compare("text-generation", [served.name], [PROMPT], max_tokens=8, cache="off")
        r = run.results[0]
        assert r.ok, r.error
        assert r.output and r.ttft_s is not None and r.finish_reason in ("stop", "length")
        assert 0 < r.output_tokens <= 8 and any("counted as streamed chunks" in n for n in r.notes)
    with pytest.raises(oc.OpenClosedError, match="not a GGUF model"):
        oc.serve("smollm2-135m", engine="llama.cpp")


def test_quantization_table_measures_every_width_and_agreement(llamacpp):
    q = oc.quantization_table(["smollm2-135m-f16", "smollm2-135m-q4_1", "smollm2-135m"], PROMPTS_TWO, rounds=1,
                              max_tokens=6, batch_max_tokens=4, progress=False)
    names = [r["model"] for r in q.rows]
    assert names[:2] == ["smollm2-135m-f16", "smollm2-135m-q4_1"] and len(names) >= 3  # + transformers per dtype
    ref = q.row("smollm2-135m-f16")
    assert ref["same greedy answer"] == 1.0 and ref["top-1 agreement"] == 1.0  # itself
    q4 = q.row("smollm2-135m-q4_1")
    assert q4["file (MB)"] < ref["file (MB)"] / 2 and q4["tokens/s (1 prompt)"] > 0 and q4["load (s)"] > 0
    assert q4["answers compared"].endswith("of 2") and 0 <= q4["top-1 agreement"] <= 1
    assert q4["same greedy answer_low"] <= q4["same greedy answer"] <= q4["same greedy answer_high"]
    shown = q.table.readable()
    assert "same greedy answer as the reference" in shown.columns and "[" in shown.iloc[1][
        "same greedy answer as the reference"]
    assert q.answers_frame().shape == (2, len(names))
    assert "Fastest for one prompt" in q.findings() and q.fastest()["model"] in names
    with pytest.raises(oc.OpenClosedError, match="reference"):
        oc.quantization_table(["smollm2-135m-q4_1"], PROMPTS_TWO, rounds=1, progress=False)


PROMPTS_TWO = ["What is the capital of France?", "Name three colours."]


def test_licences_are_read_from_the_catalog():
    table = oc.licences()
    everyone = ", ".join(table["models"])
    for m in oc.catalog.registry.all_models():
        assert m.label in everyone
    apache = table[table["licence"] == "Apache-2.0"].iloc[0]
    assert "smollm2-135m-q4_1" in apache["models"] and apache["commercial use"] == "yes"
    assert table[table["licence"] == "Qwen Research"].iloc[0]["commercial use"].startswith("no")
    oc.register("mine", task="sentiment", model="org/x", revision="main", license="my own terms")
    assert "check the model card" in oc.licences().set_index("licence").loc["my own terms", "commercial use"]


def test_a_hub_gguf_is_pinned_and_says_how_to_get_it_offline():
    spec = oc.catalog.registry.get_model("smollm2-360m-q4_k_m")
    assert spec.backend == "llamacpp" and len(spec.revision) == 40 and len(spec.extra["sha256"]) == 64
    r = oc.compare("text-generation", ["smollm2-360m-q4_k_m"], ["Hi"], max_tokens=2, cache="off").results[0]
    assert r.error.type == "ModelNotAvailableError"  # the offline profile downloads nothing
    assert "huggingface-cli download bartowski/SmolLM2-360M-Instruct-GGUF" in r.error.hint
    assert spec.revision in r.error.hint
