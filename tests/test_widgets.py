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


def test_default_models_come_from_the_profile():
    panel = ComparePanel()
    assert list(panel.models_select.value) == oc.catalog.default_models("sentiment", "offline")


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
