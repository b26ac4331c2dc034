"""Numbers formatted for people: money in dollars, times in ms or s, memory in
MB or GB, "—" for not applicable. Tables keep their raw numbers for analysis
(``run.summary()``); these functions only decide how a value is *shown*
(``run.summary()`` in a notebook, ``run.summary_table()``, the HTML report,
the panels). (Seen first in ``00_start_here.ipynb``.)

    money(6.38e-09)      -> "< $0.000001"
    money(0.0123)        -> "$0.012"
    duration(0.0042)     -> "4.2 ms"
    memory_mb(807.0156)  -> "807 MB"
    memory_mb(1802)      -> "1.76 GB"
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

NA = "—"  # shown where a measurement does not apply or was not made
SMALLEST_MONEY = 1e-6  # below this a cost is shown as "< $0.000001"


def missing(v: Any) -> bool:
    """True for None, NaN, pandas NA and empty strings: nothing to show."""
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip() in ("", "-", NA)
    if type(v).__name__ in ("NAType", "NaTType"):  # pandas' missing markers
        return True
    try:
        return bool(v != v)  # NaN is not equal to itself
    except (TypeError, ValueError):
        return False


def money(v: Any) -> str:
    """US dollars with sensible precision: two significant figures below a
    cent, cents below $1,000, whole dollars above; never scientific notation."""
    if missing(v):
        return NA
    v = float(v)
    if v == 0:
        return "$0"
    sign, v = ("-" if v < 0 else ""), abs(v)
    if v < SMALLEST_MONEY:
        return f"{sign}< ${SMALLEST_MONEY:.6f}"
    if v < 0.01:
        decimals = -math.floor(math.log10(v)) + 1  # two significant figures
        return f"{sign}${v:.{decimals}f}"
    if v < 1:
        return f"{sign}${v:.3f}".rstrip("0").rstrip(".") if v < 0.1 else f"{sign}${v:.2f}"
    if v < 1000:
        return f"{sign}${v:.2f}"
    return f"{sign}${v:,.0f}"


def duration(seconds: Any) -> str:
    """A time in µs, ms, s or min + s, with two or three significant figures."""
    if missing(seconds):
        return NA
    s = float(seconds)
    if s < 0:
        return "-" + duration(-s)
    if s == 0:
        return "0 ms"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        ms = s * 1e3
        return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"
    if s < 60:
        return f"{s:.2f} s" if s < 10 else f"{s:.1f} s"
    minutes, rest = divmod(round(s), 60)
    return f"{minutes} min {rest:02d} s"


def memory_mb(mb: Any) -> str:
    """Memory given in MB (as measured: MiB), shown in MB below 1 GB, else GB."""
    if missing(mb):
        return NA
    v = float(mb)
    if v < 1:
        return f"{v * 1024:.0f} KB"
    if v < 1024:
        return f"{v:.0f} MB"
    return f"{v / 1024:.2f} GB"


def rate(v: Any, unit: str = "") -> str:
    """A throughput (tokens/s, texts/s): three significant figures, no exponent."""
    if missing(v):
        return NA
    v = float(v)
    text = f"{v:,.0f}" if v >= 100 else f"{v:.3g}" if v >= 0.01 else f"{v:.2g}" if v > 0 else "0"
    if "e" in text:  # very small: fixed notation
        text = f"{v:.6f}".rstrip("0")
    return text + (f" {unit}" if unit else "")


def gigabytes(gb: Any) -> str:
    """Memory given in GB, shown like :func:`memory_mb`."""
    return NA if missing(gb) else memory_mb(float(gb) * 1024)


def millions(v: Any) -> str:
    """A parameter count given in millions: "135 M", "3.1 B"."""
    if missing(v):
        return NA
    v = float(v)
    if v == 0:
        return "0"
    return f"{v / 1000:.1f} B" if v >= 1000 else f"{v:.0f} M" if v >= 10 else f"{v:.2g} M"


def score(v: Any) -> str:
    """A 0..1 score (accuracy, F1, kappa, confidence): three decimals."""
    return NA if missing(v) else f"{float(v):.3f}"


def count(v: Any) -> str:
    """A whole number with thousands separators."""
    return NA if missing(v) else f"{int(v):,}"


def plural(n: Any, word: str, many: str | None = None) -> str:
    """A count with its noun agreeing: "1 token", "2 tokens", "1,000 votes";
    ``many`` for an irregular plural ("1 query", "3 queries")."""
    if missing(n):
        return f"{NA} {many or word + 's'}"
    return f"{count(n)} {word if int(n) == 1 else many or word + 's'}"


def with_interval(value: Any, low: Any, high: Any, signed: bool = False) -> str:
    """A score with its 95% interval, two decimals: ``0.71 [0.64, 0.77]``
    (``+0.08 [+0.02, +0.14]`` when ``signed``); the value alone when the interval is missing."""
    if missing(value):
        return NA
    f = "{:+.2f}" if signed else "{:.2f}"
    if missing(low) or missing(high):
        return f.format(float(value))
    return f"{f.format(float(value))} [{f.format(float(low))}, {f.format(float(high))}]"


def text(v: Any) -> str:
    return NA if missing(v) else str(v)


# Column name -> (shown name, formatter). Columns not listed are shown as text.
COLUMNS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "answered_by": ("answered by", text),
    "cost ($)": ("cost", money),
    "$ per 1k inputs": ("$ per 1k inputs", money),
    "$ per 1k texts": ("$ per 1k texts", money),
    "cost_usd": ("cost", money),
    "mean latency (s)": ("mean latency", duration),
    "mean TTFT (s)": ("mean time to first token", duration),
    "latency_s": ("latency", duration),
    "ttft_s": ("time to first token", duration),
    "peak memory (MB)": ("peak memory", memory_mb),
    "peak_memory_mb": ("peak memory", memory_mb),
    "tokens/s": ("tokens/s", rate),
    "tokens_per_s": ("tokens/s", rate),
    "texts/s": ("texts/s", rate),
    "inputs": ("inputs", count),
    "ok": ("ok", count),
    "errors": ("errors", count),
    "cached": ("cached", count),
    "texts": ("texts", count),
    "input_tokens": ("input tokens", count),
    "output_tokens": ("output tokens", count),
    "accuracy": ("accuracy", score),
    "macro-F1": ("macro-F1", score),
    "accuracy (answered only)": ("accuracy (answered only)", score),
    "kappa vs gold": ("kappa vs gold", score),
    "confidence": ("confidence", score),
    "params (M)": ("parameters", millions),
    "size (MB)": ("size on disk", memory_mb),
    "RAM (GB)": ("RAM needed", gigabytes),
    # the quantization table (02c)
    "file (MB)": ("file", memory_mb),
    "weights in memory (MB)": ("weights in memory", memory_mb),
    "process peak (MB)": ("process peak memory", memory_mb),
    "load (s)": ("load", duration),
    "time to first token (s)": ("time to first token", duration),
    "tokens/s (1 prompt)": ("tokens/s, 1 prompt", rate),
    "tokens/s (all prompts)": ("tokens/s, all prompts (wall clock)", rate),
    "weights read (GB/s)": ("weights read per second (GB/s)", rate),
    "same greedy answer": ("same greedy answer as the reference", score),
    "top-1 agreement": ("top-1 agreement with the reference", score),
}

# The look of the lab's tables (the HTML report and every readable table).
STYLE = """<style>
.oc-grid{border-collapse:collapse;font-size:13px}
.oc-grid td,.oc-grid th{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left;max-width:360px}
.oc-err{color:#a40000;background:#fff0f0}
.oc-meta{color:#666;font-size:11px}
.oc-badge{display:inline-block;padding:0 4px;border-radius:3px;background:#eef;font-size:11px}
.oc-random{background:#ffe9b3}
.oc-details td{font-size:12px;white-space:pre-wrap}
</style>"""


def readable(df, drop: tuple[str, ...] = (), drop_empty: bool = True):
    """A copy of ``df`` with every value as display text (see ``COLUMNS``) and
    readable column names; a column ``x`` with ``x_low`` and ``x_high`` beside
    it is shown with its interval in one cell (``0.71 [0.64, 0.77]``). Columns in ``drop`` and, with ``drop_empty``,
    columns with no value in any row (not applicable here) are left out."""
    import pandas as pd

    bounds = {f"{c}_low" for c in df.columns if {f"{c}_low", f"{c}_high"} <= set(df.columns)}
    bounds |= {b[:-4] + "_high" for b in bounds}
    keep = [c for c in df.columns if c not in drop and c not in bounds
            and not (drop_empty and all(missing(v) for v in df[c]))]
    out = pd.DataFrame(index=df.index)
    for c in keep:
        name, fmt = COLUMNS.get(c, (c, text))
        if f"{c}_low" in bounds:  # a score with its 95% interval in one cell: "0.71 [0.64, 0.77]"
            out[name] = [with_interval(v, lo, hi) for v, lo, hi in zip(df[c], df[f"{c}_low"], df[f"{c}_high"],
                                                                       strict=True)]
        else:
            out[name] = [fmt(v) for v in df[c]]
    return out


def html_table(df, details: dict[int, str] | None = None, classes: str = "oc-grid",
               details_label: str = "error", max_chars: int = 80) -> str:
    """``df`` (already readable text) as an HTML table. ``details`` maps a row
    position to a long text (an error in full): shown under that row in a full-
    width cell, so nothing is cut off; cells longer than ``max_chars`` show
    their start and keep the whole text on hover."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for pos, values in enumerate(df.itertuples(index=False)):
        cells = []
        for v in values:
            s = str(v)
            if len(s) > max_chars:
                cells.append(f"<td title='{html.escape(s, quote=True)}'>{html.escape(s[:max_chars - 3])}…</td>")
            elif len(s) <= 16:  # a number with its unit stays on one line
                cells.append(f"<td style='white-space:nowrap'>{html.escape(s)}</td>")
            else:
                cells.append(f"<td>{html.escape(s)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
        if details and details.get(pos):
            rows.append(f"<tr class='oc-details'><td colspan='{len(df.columns)}' class='oc-err'>"
                        f"<b>{html.escape(details_label)}:</b> {html.escape(details[pos])}</td></tr>")
    return f"<table class='{classes}'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
