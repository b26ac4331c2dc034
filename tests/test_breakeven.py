"""Break-even arithmetic, checked against sums done by hand."""

from __future__ import annotations

import math

import pytest

import openclosed as oc
from openclosed.core.errors import BadParameterError
from openclosed.engine.breakeven import (INSTANCES, break_even, closed_usd_per_request, seconds_per_request,
                                         throughput)


def test_closed_price_per_request_by_hand():
    # gpt-6-luna in the bundled table: $0.10 per million input tokens, $0.50 per million output tokens
    usd, basis = closed_usd_per_request("gpt-6-luna", 1000, 500)
    assert usd == pytest.approx(1000 * 0.10 / 1e6 + 500 * 0.50 / 1e6)
    assert "genai-prices" in basis
    oc.set_price("my-closed", 2.0, 8.0)
    usd, basis = closed_usd_per_request("my-closed", 100, 10)
    assert usd == pytest.approx((100 * 2 + 10 * 8) / 1e6) and basis == "your price override"
    with pytest.raises(BadParameterError, match="set_price"):
        closed_usd_per_request("no-such-model-anywhere", 10, 10)


def test_seconds_per_request():
    assert seconds_per_request(items_per_s=50) == pytest.approx(0.02)
    assert seconds_per_request(tokens_per_s=20, output_tokens=200) == pytest.approx(10.0)
    with pytest.raises(BadParameterError, match="output_tokens"):
        seconds_per_request(tokens_per_s=20)
    with pytest.raises(BadParameterError, match="items_per_s"):
        seconds_per_request(items_per_s=0)


def test_break_even_point_and_staircase_by_hand():
    # instance $0.10/h for 730 h = $73/month; 0.5 s/request -> 3600*730/0.5 = 5,256,000 requests per instance
    be = break_even(closed_usd_per_request=0.00002, instance_usd_per_hour=0.10, seconds_per_request=0.5)
    assert be.instance_usd_per_month == pytest.approx(73.0)
    assert be.requests_per_instance == pytest.approx(5_256_000)
    assert be.break_even_requests == pytest.approx(73.0 / 0.00002)  # 3,650,000 requests
    at_1m = be.at(1_000_000)
    assert at_1m["closed $/month"] == pytest.approx(20.0) and at_1m["self-hosted $/month"] == pytest.approx(73.0)
    assert at_1m["cheaper"] == "closed" and at_1m["saving $/month"] == pytest.approx(53.0)
    at_5m = be.at(5_000_000)
    assert at_5m["cheaper"] == "self-hosted" and at_5m["closed $/month"] == pytest.approx(100.0)
    # past one instance's capacity a second instance is needed: $146
    assert be.instances(5_256_001) == 2 and be.self_hosted_usd(6_000_000) == pytest.approx(146.0)
    assert be.instances(0) == 1  # an always-on instance costs its month even when idle
    curve = be.curve(12_000_000)
    assert curve["self-hosted $/month"].is_monotonic_increasing
    assert set(curve["self-hosted $/month"].round(6)) == {73.0, 146.0, 219.0}
    assert curve["closed $/month"].iloc[-1] == pytest.approx(240.0)


def test_break_even_never_when_a_full_instance_costs_more_than_its_requests_through_the_api():
    # a slow chat model: 10 s/request -> 262,800 requests a month per instance; at $0.0001 each that is
    # $26.28 of API spend, less than the $73 instance: self-hosting never wins
    be = break_even(0.0001, 0.10, 10.0)
    assert be.requests_per_instance == pytest.approx(262_800)
    assert be.break_even_requests is None
    assert be.at(1_000_000)["instances"] == 4 and be.at(1_000_000)["self-hosted $/month"] == pytest.approx(292.0)
    assert be.at(1_000_000)["cheaper"] == "closed"


def test_utilisation_shrinks_capacity_and_bad_values_are_refused():
    be = break_even(0.00002, 0.10, 0.5, utilisation=0.5)
    assert be.requests_per_instance == pytest.approx(2_628_000)
    with pytest.raises(BadParameterError, match="utilisation"):
        break_even(0.00002, 0.10, 0.5, utilisation=1.5)
    with pytest.raises(BadParameterError, match="instance_usd_per_hour"):
        break_even(0.00002, -1, 0.5)
    with pytest.raises(BadParameterError, match="not a number"):
        break_even("cheap", 0.1, 0.5)


def test_default_instances_are_dated_and_sourced():
    assert {i.kind for i in INSTANCES.values()} == {"cpu", "gpu"}
    for inst in INSTANCES.values():
        assert inst.usd_per_hour > 0 and inst.as_of[:4].isdigit() and "aws" in inst.source.lower()
        assert inst.as_of in inst.label() and inst.source in inst.label()


def test_throughput_is_measured_from_a_real_run():
    run = oc.compare("sentiment", ["vader"], ["I loved it", "Awful.", "Fine I guess"], progress=False)
    t = throughput(run).set_index("model")
    assert t.loc["vader", "measured inputs"] == 3 and t.loc["vader", "items/s"] > 0
    r0 = run.results
    span = max(r.ended_at for r in r0) - min(r.started_at for r in r0)
    assert math.isclose(t.loc["vader", "items/s"], 3 / span)
    again = oc.compare("sentiment", ["vader"], ["I loved it", "Awful.", "Fine I guess"], progress=False)
    assert [r.cache for r in again.results] == ["hit"] * 3
    t2 = throughput(again).set_index("model")  # cached answers measure nothing here
    assert t2.loc["vader", "measured inputs"] == 0 and t2.loc["vader", "items/s"] is None


def test_chart_marks_the_break_even_point_and_the_panel_recomputes():
    be = break_even(0.00002, 0.10, 0.5)
    fig = oc.cost_plots.breakeven(be, volume=1_000_000)
    marker = [t for t in fig.data if t.name == "break-even"]
    assert marker and marker[0].x[0] == pytest.approx(3_650_000) and marker[0].y[0] == pytest.approx(73.0)
    never = oc.cost_plots.breakeven(break_even(0.0001, 0.10, 10.0))
    assert not [t for t in never.data if t.name == "break-even"]
    assert any("no break-even" in a.text for a in never.layout.annotations)

    panel = oc.BreakEvenPanel("gpt-6-luna", tokens_per_s=20.0, input_tokens=60, output_tokens=150)
    by_hand = (60 * 0.10 + 150 * 0.50) / 1e6
    assert panel.current().closed_usd_per_request == pytest.approx(by_hand)
    assert panel.current().seconds_per_request == pytest.approx(150 / 20.0)
    panel.usd_per_hour.value = 0.5
    assert panel.current().instance_usd_per_hour == 0.5
    panel.instance.value = "gpu"
    assert panel.current().instance_usd_per_hour == pytest.approx(INSTANCES["gpu"].usd_per_hour)
    assert "break-even" in panel.note.value and "Left out" in panel.note.value
    (shown,) = panel.figure.outputs  # the chart is inside the panel, not an empty entry
    assert "application/vnd.plotly.v1+json" in shown["data"]


def test_choosing_another_instance_does_not_keep_the_cpus_throughput():
    panel = oc.BreakEvenPanel("gpt-6-luna", tokens_per_s=20.0, input_tokens=60, output_tokens=150)
    assert panel.speed.value == 20.0 and "measured" in panel.speed_note.value and "⚠" not in panel.speed_note.value
    panel.instance.value = "gpu"
    assert not panel.speed_is_measured_here
    assert "⚠" in panel.speed_note.value and "measured on" in panel.speed_note.value and "GPU" in panel.speed_note.value
    assert "another machine's tokens/s" in panel.note.value
    panel.speed.value = 400.0  # the GPU's own measurement, typed in
    assert panel.current().seconds_per_request == pytest.approx(150 / 400.0)
    assert panel.speed_is_measured_here and "⚠" not in panel.speed_note.value
    panel.instance.value = "cpu"
    assert panel.speed.value == 20.0 and panel.current().seconds_per_request == pytest.approx(150 / 20.0)
    panel.instance.value = "gpu"
    assert panel.speed.value == 400.0  # what was typed for the GPU is remembered

    given = oc.BreakEvenPanel("gpt-6-luna", tokens_per_s=20.0, output_tokens=150, throughputs={"gpu": 500.0})
    given.instance.value = "gpu"
    assert given.current().seconds_per_request == pytest.approx(150 / 500.0) and "⚠" not in given.speed_note.value
    on_gpu = oc.BreakEvenPanel("gpt-6-luna", tokens_per_s=300.0, output_tokens=150, instance="gpu")
    assert on_gpu.speed_is_measured_here and on_gpu.speed.value == 300.0  # measured on the instance it starts with


def test_a_typed_volume_is_kept_exactly_and_read_like_a_person_would():
    panel = oc.BreakEvenPanel("gpt-6-luna", tokens_per_s=20.0, volume=1_000_000)
    assert panel.volume_label.value.startswith("1M") and not panel.volume_slider.readout
    panel.volume.value = 30_000_000
    assert panel.volume.value == 30_000_000 and panel.volume_label.value.startswith("30M")
    assert "At 30M requests/month" in panel.note.value
    assert panel.volume_slider.value == pytest.approx(30_000_000, rel=0.03)  # the slider follows, roughly
    panel.volume_slider.value = 10**5
    assert panel.volume.value == 100_000 and "At 100k requests/month" in panel.note.value
    assert "instance" in panel.note.value and "instance(s)" not in panel.note.value


def test_instance_names_are_shown_whole():
    panel = oc.BreakEvenPanel("gpt-6-luna", tokens_per_s=20.0)
    assert [label for label, _ in panel.instance.options] == [i.label() for i in INSTANCES.values()]
    assert any(len(i.label()) > 90 for i in INSTANCES.values())
    assert panel.instance.tooltip == INSTANCES["cpu"].label()
    panel.instance.value = "gpu"
    assert panel.instance.tooltip == INSTANCES["gpu"].label()


def test_money_reads_in_whole_dollars_from_a_hundred():
    from openclosed.views.cost import _money

    assert _money(66828.58) == "$66,829" and _money(12.345) == "$12.35" and _money(0.01234) == "$0.0123"


def test_the_volume_label_is_part_of_every_redrawn_chart():
    """The volume's label is the chart title's second line (a layout annotation was drawn at 0x0 in the browser
    after a redraw; the title is drawn every time) and names its dotted line, with the numbers, after every change."""
    panel = oc.BreakEvenPanel("gpt-6-luna", tokens_per_s=20.0, input_tokens=60, output_tokens=150, volume=1_000_000)
    for volume in (1_000_000, 30_000_000, 2_500):
        panel.volume.value = volume
        (shown,) = panel.figure.outputs
        data = shown["data"]["application/vnd.plotly.v1+json"]["data"]
        (line,) = [t for t in data if t.get("meta") == "volume"]
        at = panel.current().at(volume)
        assert line["x"] == [volume, volume]
        label = line["name"]
        title = shown["data"]["application/vnd.plotly.v1+json"]["layout"]["title"]["text"]
        assert f"<sup>{label}</sup>" in title
        # two "$" in one plotly label are read as LaTeX and, with MathJax loaded in JupyterLab, not drawn at all
        assert title.count("$") < 2 and label.count("$") < 2 and "&#36;" in label
        label = label.replace("&#36;", "$")
        assert label.startswith(oc.cost_plots._volume(volume)) and oc.cost_plots._money(at["closed $/month"]) in label
        assert oc.cost_plots._money(at["self-hosted $/month"]) in label


def test_the_sliders_echo_does_not_move_a_typed_volume():
    """In the browser, setting the box moves the log slider, which snaps to its step and sends its value back:
    that echo must not replace the typed volume; a real move of the slider does."""
    import math

    panel = oc.BreakEvenPanel("gpt-6-luna", tokens_per_s=7.965662604250273, volume=1_000_000)
    assert panel.speed.value == 7.97  # three significant figures, not a measurement's noise
    panel.volume.value = 30_000_000
    snapped = 10 ** (round(math.log10(30_000_000) / 0.01) * 0.01)  # what the browser's slider sends back
    panel.volume_slider.value = snapped
    assert panel.volume.value == 30_000_000 and "30M" in panel.note.value
    panel.volume_slider.value = 10 ** (math.log10(snapped) + 0.01)  # one step: the user moved it
    assert panel.volume.value == round(10 ** (math.log10(snapped) + 0.01))
