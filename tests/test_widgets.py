"""ComparePanel used from code: set the text, run, read what it shows."""

from __future__ import annotations

import pytest

import openclosed as oc
from openclosed.views.widgets import ComparePanel


def _shown(panel: ComparePanel) -> str:
    """The HTML inside the panel's Output widget."""
    return "".join(o.get("data", {}).get("text/html", "") for o in panel.output.outputs)


def test_sentiment_panel_shows_every_model_side_by_side():
    panel = ComparePanel("sentiment", ["vader", "minilm-lr"])
    assert list(panel.models_select.value) == ["vader", "minilm-lr"]
    assert "smollm2-135m" in panel.models_select.options  # every sentiment model can be ticked
    panel.text.value = "I loved it\nIt broke after a day."
    run = panel.run()
    assert run is panel.last and run.inputs == ["I loved it", "It broke after a day."]
    html = _shown(panel)
    assert html == panel.html
    for name in ("vader", "minilm-lr"):
        assert name in html
    assert "positive" in html and "negative" in html
    assert "Done in" in panel.status.value and "failed" not in panel.status.value


def test_default_models_come_from_the_profile_and_can_run(monkeypatch):
    from openai_fakes import use_key

    profile = oc.catalog.default_models("sentiment", "offline")
    assert "gpt-6-luna" in profile
    panel = ComparePanel()  # no key in the tests: the closed model is offered but not ticked
    assert list(panel.models_select.value) == [m for m in profile if m != "gpt-6-luna"]
    assert "gpt-6-luna" in panel.models_select.options
    use_key(monkeypatch)
    assert list(ComparePanel().models_select.value) == profile


def test_sentiment_scores_say_what_they_are():
    panel = ComparePanel("sentiment", ["vader", "minilm-lr"])
    panel.text.value = "I love this, it is wonderful!\nThis is terrible and I hate it."
    run = panel.run()
    shown = _shown(panel)
    pos, neg = run.result("vader", 0), run.result("vader", 1)
    assert pos.output == "positive" and f"(compound +{pos.confidence:.2f})" in shown
    assert neg.output == "negative" and f"(compound -{neg.confidence:.2f})" in shown
    assert "not a probability" in shown  # the tooltip says what the number is
    clf = run.result("minilm-lr", 0)
    assert f"(p {clf.confidence:.2f})" in shown
    assert f"</b> ({pos.confidence:.2f})" not in shown  # no bare number that reads like "% sure"


def test_a_failing_model_shows_its_error_in_its_own_cell():
    panel = ComparePanel("sentiment", ["vader", "gpt-6-luna"])  # no key in the tests
    panel.text.value = "What a lovely day."
    panel.button.click()  # the same as pressing Run
    html = _shown(panel)
    assert "MissingKeyError" in html and "oc.ask_for_key()" in html
    assert "<b>positive</b>" in html  # vader still answered
    assert "1 failed (gpt-6-luna: MissingKeyError)" in panel.status.value


def test_nothing_to_run_is_said_in_the_status_line():
    panel = ComparePanel("sentiment", [])
    assert panel.run() is None and "Tick at least one model" in panel.status.value
    panel = ComparePanel("sentiment", ["vader"])
    panel.text.value = "   "
    run = panel.run()  # whitespace reaches the engine, which answers per model
    assert run.result("vader", 0).error.type == "EmptyInput" and "EmptyInput" in _shown(panel)
    with pytest.raises(oc.OpenClosedError, match="unknown task"):
        ComparePanel("translation")


def test_text_generation_streams_into_one_box_per_model(tiny_lm_dir):
    oc.register("tiny-lm-w", task="text-generation", path=tiny_lm_dir, random_weights=True, replace_existing=True)
    try:
        panel = ComparePanel("text-generation", ["tiny-lm-w", "gpt-6-luna"], max_tokens=6)
        panel.text.value = "Say hello"
        seen = []
        original = panel._on_partial
        panel._on_partial = lambda m, i, t: (seen.append((m, t)), original(m, i, t))
        run = panel.run()
        assert seen and all(m == "tiny-lm-w" for m, _ in seen)
        assert set(panel.streams) == {"tiny-lm-w", "gpt-6-luna"}
        assert run.result("tiny-lm-w", 0).output.strip()[:5] in panel.streams["tiny-lm-w"].value
        assert "MissingKeyError" in panel.streams["gpt-6-luna"].value
        assert "random weights" in _shown(panel)
    finally:
        oc.unregister("tiny-lm-w")


def test_image_generation_panel_shows_the_image():
    panel = ComparePanel("image-generation", ["tiny-sd-random"], steps=1)
    run = panel.run()
    assert run.result("tiny-sd-random", 0).image is not None
    assert "data:image/png;base64," in _shown(panel) and "random weights" in _shown(panel)


def test_streaming_redraws_are_throttled_per_column_and_reset_per_run(monkeypatch):
    from openclosed.views import throttle

    clock = [100.0]
    monkeypatch.setattr(throttle.time, "perf_counter", lambda: clock[0])
    redraw = throttle.Throttle(0.25)
    assert redraw.ready("a") and not redraw.ready("a") and redraw.ready("b")  # one per column
    clock[0] += 0.2
    assert not redraw.ready("a")
    clock[0] += 0.06
    assert redraw.ready("a") and redraw.ready("b")
    assert not redraw.ready("a")
    redraw.reset()
    assert redraw.ready("a") and redraw.ready("b")  # a new run shows its first text at once


# ------------------------------------------------------------------ chat panel: honest status
@pytest.fixture
def tiny_chat(tiny_lm_dir, monkeypatch):
    from openclosed.backends import transformers_chat
    from openclosed.views import chat_panel

    monkeypatch.setattr(transformers_chat, "PUSH_EVERY_S", 0.0)
    monkeypatch.setattr(chat_panel, "UPDATE_EVERY_S", 0.0)
    oc.register("tiny-chat", task="text-generation", path=tiny_lm_dir, random_weights=True, replace_existing=True)
    yield "tiny-chat"
    oc.unregister("tiny-chat")


def test_chat_panel_shows_a_closed_models_missing_key_while_the_local_model_still_runs(tiny_chat):
    import time

    panel = oc.ChatPanel([tiny_chat, "gpt-6-luna"], prompt="hello", max_tokens=6)  # no key in the tests
    seen_while_streaming = []
    original = panel._on_partial

    def look(model, index, text):
        original(model, index, text)
        if not seen_while_streaming:  # the closed column, read while the local model is generating
            deadline = time.perf_counter() + 10
            while "MissingKeyError" not in panel.texts["gpt-6-luna"].value and time.perf_counter() < deadline:
                time.sleep(0.01)
            seen_while_streaming.append(panel.texts["gpt-6-luna"].value)

    panel._on_partial = look
    panel.run_button.click()
    panel.thread.join(timeout=120)
    assert seen_while_streaming and "MissingKeyError" in seen_while_streaming[0]
    assert "waiting" not in seen_while_streaming[0]
    assert "MissingKeyError" in panel.texts["gpt-6-luna"].value and "Done in" in panel.status.value


def test_chat_panel_shows_loading_apart_from_time_to_first_token(tiny_chat, monkeypatch):
    import time

    from openclosed.session import compare as compare_module

    real_load = compare_module.load_model

    def slow_load(spec):
        time.sleep(0.6)  # a model that has to be read from disk first
        return real_load(spec)

    monkeypatch.setattr(compare_module, "load_model", slow_load)
    panel = oc.ChatPanel([tiny_chat], prompt="hello", max_tokens=4)
    run = panel.run()
    r = run.result(tiny_chat, 0)
    assert r.ok and r.ttft_s < 0.6  # TTFT counts from generation, not from Run
    stats = panel.stats[tiny_chat].value
    assert "loaded in 0.6" in stats or "loaded in 0.7" in stats
    assert stats.index("loaded in") < stats.index("TTFT")
    assert panel.load_s[tiny_chat] >= 0.6

    monkeypatch.setattr(compare_module, "load_model", real_load)
    panel.run()  # already loaded: nothing to say about loading
    assert "loaded in" not in panel.stats[tiny_chat].value


def test_token_counts_are_pluralised():
    from openclosed.core.formatting import plural
    from openclosed.views.chat_panel import stats_line

    assert "· 1 token ·" in stats_line(0.1, 5.0, 1, 0.0) and "1 tokens" not in stats_line(0.1, 5.0, 1, 0.0)
    assert "· 2 tokens ·" in stats_line(0.1, 5.0, 2, 0.0) and "· – tokens ·" in stats_line(None, None, None, None)
    assert plural(1, "query", "queries") == "1 query" and plural(1200, "vote") == "1,200 votes"
    assert "loaded in 4.50 s · TTFT 0.30 s" in stats_line(0.3, 5.0, 3, None, 4.5)


def test_chat_panel_readouts_have_room_for_their_values():
    panel = oc.ChatPanel([], max_tokens=200)
    for slider in (panel.temperature, panel.top_p, panel.max_tokens):
        assert slider.style.description_width == "initial"
        assert slider.layout.min_width and slider.layout.width == slider.layout.min_width  # never squeezed
    assert panel.children[0].layout.flex_flow == "row wrap"  # the controls wrap below on a narrow screen
    assert panel.max_tokens.value == 200 and panel.max_tokens.readout


def test_closed_models_without_a_key_are_not_ticked_at_first():
    from openclosed.session.availability import default_ticked, missing_key

    assert missing_key("gpt-6-luna") and not missing_key("vader")
    panel = oc.ChatPanel()
    assert "gpt-6-luna" not in panel.models_select.value
    assert all(not missing_key(m) for m in panel.models_select.value)
    assert default_ticked("sentiment", ["vader", "gpt-6-luna"]) == [
        m for m in oc.catalog.default_models("sentiment", "offline") if m == "vader"]
