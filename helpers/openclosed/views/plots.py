"""Plotly figures. They only read a :class:`~openclosed.engine.results.Comparison`
or an :class:`~openclosed.tasks.sentiment_eval.Evaluation`; no model logic lives here.
(Used in ``01_sentiment.ipynb``.)

    oc.plots.tradeoff(ev)        # accuracy vs $ per 1k texts, bubble = texts/s
    oc.plots.confusion(ev)       # one heatmap per model
    oc.plots.disagreements(ev)   # the texts the models disagree on
    oc.plots.latency(run)        # per-input latency per model, any task
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine.results import Comparison
    from ..tasks.sentiment_eval import Evaluation

FAMILY_COLORS = {"open": "#2a9d8f", "served": "#e9c46a", "closed": "#e76f51"}
_HOVER = ("<b>%{customdata[0]}</b> (%{customdata[1]})<br>accuracy %{customdata[2]:.3f}, macro-F1 %{customdata[3]:.3f}"
          "<br>$ per 1k texts %{customdata[4]}<br>%{customdata[5]} texts/s, mean latency %{customdata[6]}"
          "<br>errors %{customdata[7]}<extra></extra>")


def _num(v: float, fmt: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def tradeoff(ev: Evaluation, x: str = "$ per 1k texts", y: str = "accuracy"):
    """Accuracy (``y``) against cost, speed or latency (``x``: a column of
    ``ev.metrics``), one bubble per model, sized by texts/s, coloured by family,
    with the 95% interval of ``y`` as an error bar when ``ev.metrics`` has one.
    Models with no value for ``x`` or ``y`` (e.g. a closed model without a key)
    are named in the subtitle instead of silently missing."""
    import plotly.graph_objects as go

    m = ev.metrics
    for col in (x, y):
        if col not in m.columns:
            raise ValueError(f"no column {col!r} in ev.metrics; use one of {', '.join(map(str, m.columns))}")
    fig = go.Figure()
    shown = m[m[x].notna() & m[y].notna()]
    missing = [str(v) for v in m.loc[~m.index.isin(shown.index), "model"]]
    speed = shown["texts/s"].fillna(0).clip(lower=0)
    top = float(speed.max()) if len(speed) and speed.max() > 0 else 1.0
    for family, part in shown.groupby("family", sort=False):
        sizes = [14 + 36 * math.sqrt(v / top) for v in speed.loc[part.index]]
        custom = [[r["model"] + (" (random weights)" if r["random weights"] else ""), r["family"], r["accuracy"],
                   r["macro-F1"], _num(r["$ per 1k texts"], ".4g"), _num(r["texts/s"], ".3g"),
                   _num(r["mean latency (s)"], ".3g") + " s", int(r["errors"])] for _, r in part.iterrows()]
        bars = ({"type": "data", "symmetric": False, "array": part[f"{y}_high"] - part[y],
                 "arrayminus": part[y] - part[f"{y}_low"], "color": "#555", "thickness": 1}
                if {f"{y}_low", f"{y}_high"} <= set(part.columns) else None)  # the 95% interval
        fig.add_trace(go.Scatter(
            x=part[x], y=part[y], mode="markers+text", name=str(family), text=part["model"], textposition="top center",
            error_y=bars, marker={"size": sizes, "color": FAMILY_COLORS.get(str(family), "#888"), "opacity": 0.8,
                    "line": {"width": 1, "color": "#333"}},
            customdata=custom, hovertemplate=_HOVER))
    log_x = x in ("$ per 1k texts", "texts/s", "mean latency (s)") and len(shown) and (shown[x] > 0).all()
    sub = f"<br><sup>not shown (no {x} or {y}): {', '.join(missing)}</sup>" if missing else ""
    fig.update_layout(
        title=f"{y} vs {x} — bubble size: texts/s; bars: 95% interval{sub}", xaxis_title=x + (" (log scale)" if log_x else ""),
        yaxis_title=y, xaxis_type="log" if log_x else "linear", legend_title="family", height=450,
        template="plotly_white", margin={"t": 80})
    if y in ("accuracy", "macro-F1", "accuracy (answered only)"):
        fig.update_yaxes(range=[0, 1.05])
    return fig


def confusion(ev: Evaluation):
    """One confusion-matrix heatmap per model (rows: gold, columns: predicted)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    models = list(ev.confusion)
    cols = min(4, max(1, len(models)))
    rows = math.ceil(len(models) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=models, horizontal_spacing=0.08, vertical_spacing=0.18)
    top = max((int(cm.values.max()) for cm in ev.confusion.values() if cm.size), default=1) or 1
    for k, (model, cm) in enumerate(ev.confusion.items()):
        r, c = divmod(k, cols)
        fig.add_trace(go.Heatmap(
            z=cm.values, x=[str(v) for v in cm.columns], y=[str(v) for v in cm.index], zmin=0, zmax=top,
            colorscale="Blues", showscale=k == 0, text=cm.values, texttemplate="%{text}",
            hovertemplate=f"{model}<br>gold %{{y}}, predicted %{{x}}: %{{z}}<extra></extra>"), row=r + 1, col=c + 1)
        fig.update_yaxes(autorange="reversed", row=r + 1, col=c + 1, title_text="gold" if c == 0 else None)
        fig.update_xaxes(row=r + 1, col=c + 1, title_text="predicted")
    fig.update_layout(title="Confusion matrices (a failed input is in the 'error' column)",
                      height=320 * rows + 60, template="plotly_white")
    return fig


def disagreements(ev: Evaluation, max_rows: int = 30):
    """The texts the models disagree on, with the gold label; right answers
    green, wrong ones red."""
    import plotly.graph_objects as go

    d = ev.disagreements.head(max_rows)
    models = [c for c in d.columns if c not in ("input_index", "text", "gold", "correct")]
    text = [t if len(t) <= 180 else t[:180] + "…" for t in d["text"]]
    values = [d["input_index"].tolist(), text, d["gold"].tolist()] + [d[m].tolist() for m in models]
    fills = [["white"] * len(d)] * 3 + [
        ["#d8f3dc" if p == g else "#ffd6d6" for p, g in zip(d[m], d["gold"], strict=True)] for m in models]
    fig = go.Figure(go.Table(
        columnwidth=[40, 400, 70] + [80] * len(models),
        header={"values": ["#", "text", "gold", *models], "fill_color": "#eef", "align": "left"},
        cells={"values": values, "fill_color": fills, "align": "left", "height": 24}))
    more = f" (first {max_rows} of {len(ev.disagreements)})" if len(ev.disagreements) > max_rows else ""
    fig.update_layout(title=f"{len(ev.disagreements)} texts where the models disagree{more}",
                      height=min(900, 120 + 48 * max(1, len(d))), margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def latency(run: Comparison):
    """Per-input latency of every model in any run (box plot); failed inputs
    are counted in the legend."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for m in run.models:
        rs = [r for r in run.results if r.model == m]
        vals = [r.latency_s for r in rs if r.ok and r.latency_s is not None]
        errs = sum(not r.ok for r in rs)
        fam = rs[0].family if rs else ""
        fig.add_trace(go.Box(y=vals, name=m + (f" ({errs} failed)" if errs else ""), boxpoints="all",
                             marker_color=FAMILY_COLORS.get(fam, "#888")))
    fig.update_layout(title=f"latency per input ({run.task}); batched models show their per-input share",
                      yaxis_title="seconds", yaxis_type="log", template="plotly_white", height=400, showlegend=False)
    return fig


__all__ = ["confusion", "disagreements", "figure_output", "latency", "tradeoff"]


def training_curves(history, title: str = "training"):
    """Loss per logged step and train / validation accuracy per epoch of a
    fine-tuning run (a :class:`~openclosed.tasks.finetune.TrainingRun` or its
    ``history`` rows): the gap between the two accuracy curves is overfitting."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = getattr(history, "history", history)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "accuracy (head fitted on the train part)"))
    loss = [(r["epoch"], r["loss"]) for r in rows if r.get("loss") is not None]
    fig.add_trace(go.Scatter(x=[e for e, _ in loss], y=[v for _, v in loss], mode="lines+markers", name="loss",
                             line={"color": "#264653"}), row=1, col=1)
    for key, color in (("train accuracy", "#2a9d8f"), ("validation accuracy", "#e76f51")):
        pts = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None]
        fig.add_trace(go.Scatter(x=[e for e, _ in pts], y=[v for _, v in pts], mode="lines+markers",
                                 name=key.split()[0], line={"color": color}), row=1, col=2)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(title=title, height=360, legend_title="curve")
    return fig


class LiveTraining:
    """A live loss / accuracy plot: pass ``.update`` as ``on_log=`` to
    ``oc.finetune_classifier`` or ``oc.finetune_lora``; it redraws at most
    twice a second (and at the end with :meth:`done`)."""

    def __init__(self, title: str = "training") -> None:
        from IPython.display import display

        self.title = title
        self.rows: list[dict] = []
        self._last = 0.0
        self._handle = display(training_curves([], title), display_id=True)

    def update(self, row: dict) -> None:
        import time

        self.rows.append(dict(row))
        now = time.monotonic()
        if now - self._last >= 0.5 or "validation accuracy" in row or "train accuracy" in row:
            self._last = now
            self._draw()

    def done(self, run=None) -> None:
        """Draw the final curves (from ``run.history`` when given)."""
        if run is not None:
            self.rows = list(run.history)
        self._draw()

    def _draw(self) -> None:
        if self._handle is not None:
            self._handle.update(training_curves(self.rows, self.title))


def figure_output(fig) -> dict:
    """An Output widget entry holding a plotly figure. (``Output.append_display_data`` would call the
    figure's ``_ipython_display_``, which draws it outside the widget, and keep an empty entry.)"""
    import plotly.io as pio

    data = pio.renderers["plotly_mimetype"].to_mimebundle(fig)
    data["text/plain"] = fig.layout.title.text or "plotly figure"
    return {"output_type": "display_data", "data": data, "metadata": {}}
