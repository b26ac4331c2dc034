"""Prices (genai-prices table, overrides, local compute) and the export formats."""

from __future__ import annotations

import pandas as pd
import pytest

import openclosed as oc
from openclosed.engine import pricing


def test_api_cost_comes_from_the_dated_price_table():
    # gpt-6-luna: $0.10 / $0.50 per million input / output tokens (below its long-prompt tier)
    cost, basis = pricing.api_cost("gpt-6-luna", "openai", 100_000, 100_000)
    assert cost == pytest.approx(0.010 + 0.050)
    assert "genai-prices" in basis and pricing.price_table_date() in basis
    # the date is read from the price data (newest dated price change), not the install date of the file
    import datetime as dt
    import re

    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", pricing.price_table_date())
    assert dt.date.fromisoformat(pricing.price_table_date()) <= dt.date.today()


def test_price_override_wins_and_is_recorded(monkeypatch):
    monkeypatch.setattr(pricing, "_overrides", {})
    oc.set_price("gpt-6-luna", 1.0, 2.0)
    cost, basis = pricing.api_cost("gpt-6-luna", "openai", 1_000_000, 500_000)
    assert cost == pytest.approx(2.0) and basis == "your price override"
    with pytest.raises(oc.OpenClosedError, match="negative"):
        oc.set_price("x", -1, 0)


def test_unknown_model_has_no_price_and_says_how_to_set_one():
    cost, basis = pricing.api_cost("no-such-model-xyz", "openai", 10, 10)
    assert cost is None and "oc.set_price" in basis


def test_local_cost_is_seconds_times_rate():
    cost, basis = pricing.local_cost(36.0, usd_per_hour=1.0)
    assert cost == pytest.approx(0.01) and "$1/h" in basis


def test_estimate_before_a_run():
    est = oc.estimate("sentiment", ["vader", "gpt-6-luna"], ["good " * 40] * 10)
    closed = est.set_index("model").loc["gpt-6-luna"]
    assert 0 < closed["estimated $"] < 0.01
    assert pd.isna(est.set_index("model").loc["vader", "estimated $"])


def test_comparison_exports_csv_html_and_reloads(tmp_path):
    run = oc.compare("sentiment", ["vader"], ["great stuff", "awful stuff"])
    csv = pd.read_csv(run.to_csv(tmp_path / "r.csv"))
    assert list(csv["output"]) == ["positive", "negative"]
    html = run.to_html(tmp_path / "r.html").read_text()
    assert "vader" in html and "great stuff" in html
    back = oc.load(run.save(tmp_path / "saved"))
    assert [r.output for r in back.results] == ["positive", "negative"]
    assert back.manifest["prices"]["source"].startswith("genai-prices")
    assert back.manifest["versions"]["transformers"]
