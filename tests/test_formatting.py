"""Numbers are shown for people: dollars without exponents, ms / s, MB / GB,
"—" where nothing applies, only the columns that mean something, errors in full;
the summary keeps its raw numbers for analysis."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from openclosed.core.formatting import NA, duration, html_table, memory_mb, missing, money, rate, readable



@pytest.mark.parametrize("value, shown", [
    (6.384320e-09, "< $0.000001"), (0, "$0"), (1e-6, "$0.0000010"), (6.4e-06, "$0.0000064"),
    (0.000123456, "$0.00012"), (0.0123, "$0.012"), (0.05, "$0.05"), (0.25, "$0.25"), (3.14159, "$3.14"),
    (1234.5, "$1,234"), (None, NA), (math.nan, NA), (pd.NA, NA),
])
def test_money_has_sensible_precision_and_no_scientific_notation(value, shown):
    assert money(value) == shown
    assert "e-" not in money(value) and "e+" not in money(value)


@pytest.mark.parametrize("value, shown", [
    (0.000135, "135 µs"), (0.0042, "4.2 ms"), (0.483, "483 ms"), (1.234, "1.23 s"), (42.1, "42.1 s"),
    (125, "2 min 05 s"), (0, "0 ms"), (None, NA), (math.nan, NA),
])
def test_durations_in_ms_or_s(value, shown):
    assert duration(value) == shown


@pytest.mark.parametrize("value, shown", [
    (807.015625, "807 MB"), (1802, "1.76 GB"), (0.5, "512 KB"), (None, NA), (math.nan, NA),
])
def test_memory_in_mb_or_gb(value, shown):
    assert memory_mb(value) == shown


def test_rates_and_missing_values():
    assert rate(24.71, "tok/s") == "24.7 tok/s" and rate(1234.5) == "1,234" and rate(None) == NA
    assert "e" not in rate(0.00001234)
    assert all(missing(v) for v in (None, math.nan, pd.NA, "", "-", NA))
    assert not any(missing(v) for v in (0, 0.0, "x", False))


def test_readable_drops_empty_and_named_columns_and_renames():
    df = pd.DataFrame({"model": ["a", "b"], "mean TTFT (s)": [None, None], "cost ($)": [6.4e-9, None],
                       "peak memory (MB)": [807.015625, 1802.0], "tokens/s": [12.0, 3.0]})
    out = readable(df, drop=("tokens/s",))
    assert list(out.columns) == ["model", "cost", "peak memory"]
    assert out["cost"].tolist() == ["< $0.000001", NA]
    assert out["peak memory"].tolist() == ["807 MB", "1.76 GB"]


def test_html_table_keeps_long_texts_whole_in_details_and_on_hover():
    long_error = "MissingKeyError: " + "x" * 300 + " — add a key"
    df = pd.DataFrame({"model": ["a"], "note": ["y" * 120]})
    out = html_table(df, details={0: long_error})
    assert long_error.replace("'", "&#x27;") in out  # the whole error, in its own row
    assert f"title='{'y' * 120}'" in out  # a long cell shows its start and keeps the whole text on hover


def _sentiment_run():
    import openclosed as oc

    return oc.compare("sentiment", ["vader", "gpt-6-luna"], ["I loved it", "Terrible service."], progress=False)


def test_summary_stays_numeric_and_displays_readably():
    run = _sentiment_run()
    s = run.summary()
    assert isinstance(s, pd.DataFrame)
    row = s.set_index("model").loc["vader"]
    assert isinstance(row["mean latency (s)"], float) and row["cost ($)"] >= 0  # raw numbers for analysis
    assert type(s.sort_values("model")) is pd.DataFrame  # derived tables are plain
    shown = s._repr_html_()
    # sentiment has no time to first token / tokens per second: those columns are not shown at all
    assert "TTFT" not in shown and "tokens/s" not in shown and "time to first token" not in shown
    assert not re.search(r"\d\.\d+e-\d\d", shown) and "NaN" not in shown and "None" not in shown
    assert "MissingKeyError" in shown and "oc.ask_for_key()" in shown  # the closed model's error, in full
    assert ">—<" in shown  # not applicable, said so
    table = run.summary_table()
    assert "mean latency" in table.columns and table.set_index("model").loc["vader", "mean latency"].endswith(("s", "ms", "µs"))
    assert table.set_index("model").loc["gpt-6-luna", "first error"].endswith("oc.import_cache(path)")


def test_report_cells_show_readable_numbers():
    run = _sentiment_run()
    page = run._repr_html_()
    assert not re.search(r"\$\d\.\d{6}\b", page.replace("$0.000001", ""))  # no fixed six-decimal dollars
    assert not re.search(r"\d\.\d+e-\d\d", page)
    assert re.search(r"\d+(\.\d)? (µs|ms|s)", page)


def test_catalog_keeps_numbers_and_displays_readably():
    import openclosed as oc

    cat = oc.models(task="sentiment")
    assert cat.set_index("name").loc["minilm-lr", "size (MB)"] > 1  # numbers for analysis
    shown = cat._repr_html_()
    assert "NaN" not in shown and "None" not in shown and "size on disk" in shown and " MB<" in shown
    closed = cat.readable().set_index("name").loc["gpt-6-luna"]
    assert closed["parameters"] == "—" and closed["size on disk"] == "—"  # not applicable to an API model
    assert all(n == full for n, full in zip(cat.readable()["notes"], cat["notes"]) if full)  # notes not cut
