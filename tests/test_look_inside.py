"""Looking inside chat models: the chat template as the exact text the model
reads, every generated token with the model's own probability and top
alternatives (checked against a plain forward pass, in float32 and
bfloat16), temperature and top-p on a real distribution (checked against
transformers' own warpers), and the closed side's logprobs through the API
(an in-process fake endpoint; no key, no packet beyond this process)."""

from __future__ import annotations

import json
import math

import httpx2
import pytest
import torch

import openclosed as oc
from openai_fakes import FAKE_KEY, FakeAPI, always, error_response, register_fake, use_key


@pytest.fixture
def tiny(tiny_lm_dir):
    oc.register("tiny-lm", task="text-generation", path=tiny_lm_dir)
    return "tiny-lm"


def test_the_chat_template_is_the_exact_text_and_its_tokens(tiny):
    loaded = oc.load_model(tiny)
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    t = oc.chat_template(tiny, "Hi there", system="Be brief.")
    assert t.text == loaded.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert t.messages == msgs
    assert t.token_ids == loaded.tokenizer(t.text, add_special_tokens=False)["input_ids"]
    assert "".join(t.tokens) == t.text  # the tokens, decoded one by one, are the whole text
    assert any(t.special) and all(
        sp == (i in loaded.tokenizer.all_special_ids or i in loaded.tokenizer.added_tokens_decoder)
        for i, sp in zip(t.token_ids, t.special, strict=True))
    html = t._repr_html_()
    assert "Be brief." in html and f"which is {len(t.token_ids)} tokens" in html


def test_the_real_chat_model_template_shows_its_role_markers():
    t = oc.chat_template("smollm2-135m", "Hi!")
    assert t.text.startswith("<|im_start|>") and t.text.endswith("<|im_start|>assistant\n")
    assert "<|im_start|>" in t.tokens and t.special[t.tokens.index("<|im_start|>")]


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-4), ("bfloat16", 3e-2)])
def test_token_probabilities_are_the_models_own(tiny, dtype, tol):
    oc.setup("offline", dtype=dtype, verbose=False)
    loaded = oc.load_model(tiny)
    inside = oc.look_inside(tiny, "Tell me about cats", max_tokens=6)
    trace = inside[tiny]
    assert trace.error is None and 1 <= len(trace.steps) <= 6
    tok, model = loaded.tokenizer, loaded.model
    enc = tok.apply_chat_template([{"role": "user", "content": "Tell me about cats"}], add_generation_prompt=True,
                                  return_dict=True, return_tensors="pt")
    ids = enc["input_ids"]
    suppressed = {tok.decode([i]) for i in (model.generation_config.suppress_tokens or [])}
    with torch.inference_mode():
        for step in trace.steps:
            probs = model(input_ids=ids).logits[0, -1].float().softmax(-1)
            assert step.prob == pytest.approx(float(probs[step.token_id]), abs=tol)
            # greedy: the chosen token is the most likely one the generation rules allow (this tiny model's
            # generation config suppresses some tokens; their raw probabilities are still shown)
            allowed = probs.clone()
            allowed[list(model.generation_config.suppress_tokens or [])] = 0
            assert step.token_id == int(allowed.argmax())
            assert step.prob >= max(p for t, p in step.top if t not in suppressed) - 1e-6
            assert len(step.top) == 5 and all(a[1] >= b[1] for a, b in zip(step.top, step.top[1:]))
            ids = torch.cat([ids, torch.tensor([[step.token_id]])], dim=-1)
    assert trace.table["probability"].between(0, 1).all()
    assert "random weights" in " ".join(trace.notes).lower() or loaded.random_weights is False


def test_sampling_with_a_seed_is_repeatable_and_said(tiny):
    one = oc.look_inside(tiny, "Tell me about cats", max_tokens=8, temperature=1.2, seed=4)[tiny]
    two = oc.look_inside(tiny, "Tell me about cats", max_tokens=8, temperature=1.2, seed=4)[tiny]
    assert [s.token_id for s in one.steps] == [s.token_id for s in two.steps]
    assert any("sampled at temperature 1.2" in n for n in one.notes)


def test_hover_titles_hold_the_alternatives(tiny):
    trace = oc.look_inside(tiny, "Hello", max_tokens=3)[tiny]
    html = trace._repr_html_()
    first = trace.steps[0]
    assert html.count("class='oc-tok'") >= len(trace.steps)
    assert "top alternatives" in html and f"p = {first.prob:.3f}" in html


def logprobs_handler(tokens=(("Red", -0.1), (",", -0.5), (" blue", -1.2)), model="gpt-6-luna-fake-snapshot"):
    def handler(request: httpx2.Request) -> httpx2.Response:
        content = [{"token": t, "logprob": lp, "bytes": list(t.encode()),
                    "top_logprobs": [{"token": t, "logprob": lp, "bytes": None},
                                     {"token": "Green", "logprob": lp - 1.0, "bytes": None}]} for t, lp in tokens]
        return httpx2.Response(200, json={
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(t for t, _ in tokens)},
                         "finish_reason": "length", "logprobs": {"content": content}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": len(tokens), "total_tokens": 12 + len(tokens)}})

    return handler


def test_closed_logprobs_side_by_side_with_the_open_model(tiny, monkeypatch):
    use_key(monkeypatch)
    fake = FakeAPI(logprobs_handler())
    register_fake("fake-closed", fake, task="text-generation")
    inside = oc.look_inside([tiny, "fake-closed"], "Name three colours.", max_tokens=3, seed=7, top=2)
    closed = inside["fake-closed"]
    assert closed.error is None and closed.answered_by == "gpt-6-luna-fake-snapshot"
    assert [s.text for s in closed.steps] == ["Red", ",", " blue"]
    assert closed.steps[0].prob == pytest.approx(math.exp(-0.1))
    assert closed.steps[2].top[1] == ("Green", pytest.approx(math.exp(-2.2)))
    assert any("fp_fake" in n for n in closed.notes)
    body = fake.bodies()[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 2 and body["seed"] == 7 and not body.get("stream")
    assert body["max_completion_tokens"] == 3 and body["messages"][-1]["content"] == "Name three colours."
    html = inside._repr_html_()
    assert html.index(tiny) < html.index("fake-closed")  # side by side, in the order asked
    assert FAKE_KEY not in html + repr(inside)
    s = inside.summary().set_index("model")
    assert s.loc["fake-closed", "tokens"] == 3 and s.loc[tiny, "error"] == ""


def test_closed_model_without_a_key_shows_the_missing_key_error_and_sends_nothing(tiny):
    inside = oc.look_inside([tiny, "gpt-6-luna"], "Hi", max_tokens=2)
    assert inside[tiny].error is None and inside[tiny].steps
    err = inside["gpt-6-luna"].error
    assert err.type == "MissingKeyError" and "oc.ask_for_key()" in err.hint
    assert "MissingKeyError" in inside._repr_html_() and "What to do" in inside._repr_html_()


def test_api_errors_are_shown_with_a_hint_and_never_the_key(monkeypatch):
    use_key(monkeypatch)
    fake = FakeAPI(always(error_response(401, f"Incorrect API key provided: {FAKE_KEY}", code="invalid_api_key")))
    register_fake("fake-closed", fake, task="text-generation")
    trace = oc.look_inside("fake-closed", "Hi", max_tokens=2)["fake-closed"]
    assert trace.error.type == "AuthenticationError" and "oc.ask_for_key()" in trace.error.hint
    assert FAKE_KEY not in trace._repr_html_() + str(trace.error)


def test_a_server_without_logprobs_says_so(monkeypatch):
    use_key(monkeypatch)

    def plain(request):
        return httpx2.Response(200, json={
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}]})

    register_fake("fake-served", FakeAPI(plain), task="text-generation", family="served")
    trace = oc.look_inside("fake-served", "Hi", max_tokens=2)["fake-served"]
    assert "returned no logprobs" in trace.error.message and trace.text == "Hi"


def test_temperature_and_top_p_match_transformers_own_warpers():
    from transformers import TemperatureLogitsWarper, TopPLogitsWarper

    dist = oc.next_token_distribution("smollm2-135m", "Tell me a joke about cats.", temperatures=(0.2, 1.0, 1.5),
                                      top_p=0.9, k=10)
    loaded = oc.load_model("smollm2-135m")
    tok = loaded.tokenizer
    enc = tok.apply_chat_template([{"role": "user", "content": "Tell me a joke about cats."}],
                                  add_generation_prompt=True, return_dict=True, return_tensors="pt")
    with torch.inference_mode():
        logits = loaded.model(**enc).logits[:, -1].float()
    for t in dist.temperatures:
        warped = TopPLogitsWarper(0.9)(enc["input_ids"], TemperatureLogitsWarper(t)(enc["input_ids"], logits.clone()))
        assert dist.kept[t] == int(torch.isfinite(warped).sum()), f"top-p at T={t}"
        probs = (logits[0] / t).softmax(-1)
        assert list(dist.table[f"p@T={t:g}"]) == pytest.approx([float(probs[i]) for i in dist.table["id"]], abs=1e-4)
    # colder is sharper: the top token gains, and top-p keeps fewer tokens
    assert dist.table["p@T=0.2"][0] > dist.table["p@T=1"][0] > dist.table["p@T=1.5"][0]
    assert dist.kept[0.2] <= dist.kept[1.0] <= dist.kept[1.5]
    fig = oc.sampling_plot(dist)
    assert len(fig.data) == 3
    greys = [sum(c == "#c9c9c9" for c in bar.marker.color) for bar in fig.data]
    assert greys == [max(0, 10 - dist.kept[t]) for t in dist.temperatures]


@pytest.mark.parametrize("call, match", [
    (lambda: oc.look_inside("smollm2-135m", "Hi", max_tokens=0), "max_tokens=0 is out of range"),
    (lambda: oc.look_inside("smollm2-135m", "", max_tokens=4), "not a non-empty text"),
    (lambda: oc.look_inside("smollm2-135m", "Hi", top=50), "top=50"),
    (lambda: oc.next_token_distribution("smollm2-135m", "Hi", temperatures=(0,)), "temperatures"),
    (lambda: oc.next_token_distribution("smollm2-135m", "Hi", top_p=1.5), "top_p=1.5"),
    (lambda: oc.chat_template("gpt-6-luna", "Hi"), "weights are not here"),
])
def test_bad_requests_are_refused_before_anything_runs(call, match):
    with pytest.raises(oc.OpenClosedError, match=match):
        call()


def test_an_unknown_model_is_refused_with_suggestions():
    with pytest.raises(oc.OpenClosedError, match="did you mean"):
        oc.look_inside(["smollm2-135n"], "Hi")


def test_token_probability_plot_names_models_without_probabilities(tiny):
    inside = oc.look_inside([tiny, "gpt-6-luna"], "Hi", max_tokens=3)
    fig = oc.token_probability_plot(inside)
    assert len(fig.data) == 1 and fig.data[0].name == tiny
    assert "gpt-6-luna" in fig.layout.title.text
    json.dumps(inside.summary().to_dict())  # plain data
