"""HTML for a :class:`~openclosed.engine.results.Comparison`: a summary and a
side-by-side grid (one column per model), errors shown in their own cell."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ..core.formatting import STYLE as _STYLE
from ..core.formatting import duration, money, rate
from .images import image_to_b64

if TYPE_CHECKING:
    from .results import Comparison, Result

STYLE = _STYLE  # re-exported for the task views


def confidence_text(r: Result) -> tuple[str, str]:
    """What a sentiment result's score is, said so it cannot be misread:
    ``("compound +0.18", tooltip)`` for VADER (a lexicon score in -1..1, not
    a probability), ``("p 0.93", ...)`` for a classifier's probability,
    ``("self-reported 0.90", ...)`` for a closed model's own guess."""
    c = r.confidence
    if c is None:
        return "", ""
    if r.backend == "vader":
        if r.output == "neutral":  # stored as 1 - |compound|
            return (f"compound ±{1 - c:.2f}", ("VADER's compound score (-1..1) is near 0: neutral; "
                                               "a lexicon score, not a probability"))
        sign = "-" if r.output == "negative" else "+"
        return (f"compound {sign}{c:.2f}", ("VADER's compound score (-1 most negative .. +1 most positive): "
                                            "a lexicon score, not a probability of being right"))
    if r.backend == "openai":
        return f"self-reported {c:.2f}", "the confidence the model wrote in its answer (0..1), not a measured probability"
    return f"p {c:.2f}", "the classifier's probability for this label (0..1)"


def result_cell(r: Result) -> str:
    """One result as an HTML table cell body."""
    parts = []
    if r.error:
        parts.append(f"<div class='oc-err'><b>{html.escape(r.error.type)}</b>: {html.escape(r.error.message)}"
                     + (f"<br><i>What to do:</i> {html.escape(r.error.hint)}" if r.error.hint else "") + "</div>")
    if r.image is not None:
        parts.append(f"<img src='data:image/png;base64,{image_to_b64(r.image)}' width='160'>")
    if r.output is not None and r.output != "":
        text = html.escape(str(r.output))
        if r.confidence is not None:
            shown, meaning = confidence_text(r)
            text = f"<b>{text}</b> <span title='{html.escape(meaning, quote=True)}'>({html.escape(shown)})</span>"
        parts.append(text if r.task == "sentiment" else f"<div style='white-space:pre-wrap'>{text}</div>")
    meta = [duration(r.latency_s) if r.latency_s is not None else ""]
    if r.ttft_s is not None:
        meta.append(f"first token {duration(r.ttft_s)}")
    if r.tokens_per_s:
        meta.append(rate(r.tokens_per_s, "tok/s"))
    if r.cost_usd is not None:
        meta.append(money(r.cost_usd))
    if r.cache in ("hit", "replay"):
        meta.append(f"<span class='oc-badge'>{r.cache}{' of ' + r.cached_at[:10] if r.cached_at else ''}</span>")
    if r.stand_in:
        meta.append("<span class='oc-badge oc-random' title='random weights with this model&#39;s real configuration: "
                    "a rehearsal without the Hub; the output is meaningless'>stand-in: random weights</span>")
    elif r.random_weights:
        meta.append("<span class='oc-badge oc-random'>random weights</span>")
    parts.append("<div class='oc-meta'>" + " · ".join(m for m in meta if m) + "</div>")
    return "".join(parts)


def comparison_html(c: Comparison, max_inputs: int = 20) -> str:
    """Summary table + side-by-side grid for the first ``max_inputs`` inputs."""
    summary = c.summary()._repr_html_(style=False)
    head = "".join(f"<th>{html.escape(m)}</th>" for m in c.models)
    by_key = {(r.model, r.input_index): r for r in c.results}
    rows = []
    for i, text in enumerate(c.inputs[:max_inputs]):
        cells = "".join(f"<td>{result_cell(by_key[(m, i)])}</td>" if (m, i) in by_key else "<td></td>" for m in c.models)
        shown = html.escape(text if len(text) <= 200 else text[:200] + f"… ({len(text)} chars)")
        rows.append(f"<tr><td>{shown}</td>{cells}</tr>")
    more = f"<p class='oc-meta'>{len(c.inputs) - max_inputs} more inputs in run.table</p>" if len(c.inputs) > max_inputs else ""
    return (f"{STYLE}<div><b>{html.escape(c.task)}</b>: {len(c.models)} models × {len(c.inputs)} inputs"
            f"{summary}<table class='oc-grid'><tr><th>input</th>{head}</tr>{''.join(rows)}</table>{more}</div>")
