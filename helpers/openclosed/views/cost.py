"""Figures and a panel for the cost decisions of
``05_cost_privacy_transparency.ipynb``: the break-even chart (closed API vs
self-hosting, the crossing marked), its widget, and the cascade curve. They
only draw what :mod:`openclosed.engine.breakeven` and
:mod:`openclosed.tasks.cascade` computed."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

from ..core.formatting import plural
from .plots import figure_output

if TYPE_CHECKING:
    from ..engine.breakeven import BreakEven
    from ..tasks.cascade import Cascade

LEFT_OUT = ("Left out: idle hours and peak headroom beyond the utilisation you set, engineering and on-call time, "
            "storage, network egress, redundancy, and the bigger batches a busy server runs at scale (which raise "
            "its throughput above what this lab measured).")


def _money(v: float) -> str:
    """"$66,829" (whole dollars from $100), "$12.34", "$0.0123"."""
    return f"${v:,.0f}" if v >= 100 else f"${v:,.2f}" if v >= 1 else f"${v:.4f}"


def no_tex(text: str) -> str:
    """``text`` for a plotly label: each "$" as the entity ``&#36;`` (two "$" in one label would be read as LaTeX
    math and, with MathJax loaded in JupyterLab, not drawn)."""
    return text.replace("$", "&#36;")


def _three_figures(v: float) -> float:
    """A measured throughput to three significant figures (a box showing 7.965662604250273 tokens/s claims a
    precision no measurement here has)."""
    v = float(v)
    return v if v <= 0 else round(v, 2 - math.floor(math.log10(v)))


def _volume(v: float) -> str:
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:.3g}{unit}"
    return f"{v:.3g}"


def breakeven(be: BreakEven, *, volume: float | None = None, title: str = "", max_requests: float | None = None):
    """Monthly cost against requests per month: the closed API's line, the
    self-hosted staircase, the break-even point and ``volume`` marked."""
    import plotly.graph_objects as go

    top = max_requests or max(3 * (be.break_even_requests or 0), 2 * (volume or 0), be.requests_per_instance / 4)
    df = be.curve(top)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=df["requests/month"], y=df["closed $/month"], name="closed API",
                             line={"color": "#e76f51"}, hovertemplate="%{x:,.0f} req: $%{y:,.2f}<extra>closed</extra>"))
    fig.add_trace(go.Scatter(x=df["requests/month"], y=df["self-hosted $/month"], name="self-hosted (whole instances)",
                             line={"color": "#2a9d8f", "shape": "hv"},
                             hovertemplate="%{x:,.0f} req: $%{y:,.2f}<extra>self-hosted</extra>"))
    point = be.break_even_requests
    if point is not None:
        fig.add_trace(go.Scatter(x=[point], y=[be.closed_usd(point)], mode="markers+text", name="break-even",
                                 marker={"size": 12, "color": "black", "symbol": "x"},
                                 text=[f"break-even {_volume(point)}/month"], textposition="top left"))
    else:
        fig.add_annotation(x=0.02, y=0.98, xref="paper", yref="paper", xanchor="left", showarrow=False,
                           text="no break-even: a fully busy instance costs more than its requests through the API")
    label = ""
    if volume:
        # the volume's label is the title's second line, and names the dotted line (legend and hover). Its two
        # dollar amounts are written &#36;: plotly reads text between two "$" as LaTeX and, once JupyterLab has
        # loaded MathJax (after the first draw), drew it at 0x0 — the label that vanished on every redraw
        at = be.at(volume)
        label = no_tex(f"{_volume(volume)}/month: closed {_money(at['closed $/month'])}, "
                       f"self-hosted {_money(at['self-hosted $/month'])}")
        top = max(float(df["closed $/month"].max()), float(df["self-hosted $/month"].max()))
        fig.add_trace(go.Scatter(x=[volume, volume], y=[0, top], mode="lines", name=label,
                                 line={"color": "gray", "dash": "dot"},
                                 hovertemplate=label + "<extra>your volume</extra>", meta="volume"))
    heading = title or "Monthly cost: closed API vs self-hosting"
    fig.update_layout(title=heading + (f"<br><sup>{label}</sup>" if label else ""), xaxis_title="requests per month",
                      yaxis_title="$ per month", height=420, margin={"t": 90, "b": 90},
                      legend={"orientation": "h", "y": -0.25})
    fig.add_annotation(x=0, y=-0.38, xref="paper", yref="paper", showarrow=False, xanchor="left",
                       font={"size": 10}, text="Left out: idle time, engineering, storage, egress, batching at scale")
    return fig


def cascade(c: Cascade):
    """Accuracy against $ per 1,000 inputs for every threshold on the test
    texts (and, dashed, on the validation texts where the threshold is
    chosen), the two models alone marked, the chosen threshold with its 95% interval."""
    import plotly.graph_objects as go

    df = c.table
    best = c.choose()
    fig = go.Figure()
    hover = ("threshold %{customdata[0]:.2f}<br>sent on %{customdata[1]:.0%}"
             "<br>accuracy %{y:.1%}<br>$%{x:.4f} per 1k<extra></extra>")
    fig.add_trace(go.Scatter(x=df["$ per 1k"], y=df["accuracy"], mode="lines+markers", name="cascade (test texts)",
                             customdata=df[["threshold", "sent on"]].values, hovertemplate=hover))
    if c.validation_table is not None:
        v = c.validation_table
        fig.add_trace(go.Scatter(x=v["$ per 1k"], y=v["accuracy"], mode="lines", line={"dash": "dot"},
                                 name="validation texts (threshold chosen here)",
                                 customdata=v[["threshold", "sent on"]].values, hovertemplate=hover))
    for label, d, colour in ((f"{c.first} alone", c.first_only, "#2a9d8f"),
                             (f"{c.fallback_name} alone", c.fallback_only, "#e76f51")):
        fig.add_trace(go.Scatter(x=[d["$ per 1k"]], y=[d["accuracy"]], mode="markers+text", name=label, text=[label],
                                 textposition="bottom center", marker={"size": 12, "color": colour}))
    fig.add_trace(go.Scatter(x=[best["$ per 1k"]], y=[best["accuracy"]], mode="markers", name="chosen threshold",
                             error_y={"type": "data", "symmetric": False,
                                      "array": [best["accuracy_high"] - best["accuracy"]],
                                      "arrayminus": [best["accuracy"] - best["accuracy_low"]]},
                             marker={"size": 16, "symbol": "star", "color": "black"},
                             hovertemplate=f"threshold {best['threshold']:.2f}<extra></extra>"))
    fig.update_layout(title=f"Cascade {c.first} → {c.fallback_name}: accuracy vs cost across thresholds "
                            f"({c.n} test texts; threshold chosen on {c.chosen_on})",
                      xaxis_title="$ per 1,000 inputs", yaxis_title="accuracy", yaxis_tickformat=".0%", height=420)
    return fig


class BreakEvenPanel:
    """Widgets for volume, input / output lengths, the closed model's price,
    the instance, its price and its throughput, redrawing :func:`breakeven`
    for one open model whose throughput was measured (``items_per_s`` or
    ``tokens_per_s``) on the ``measured_on`` instance kind (by default the
    ``instance`` the panel starts with: the kind of machine this lab ran on).

    Throughput belongs to the machine: choosing another instance uses its own
    figure when ``throughputs`` (instance key -> the same unit) has one, or
    one typed into the throughput box for it; otherwise the box keeps the
    measured number and the panel says it is another machine's, asking for a
    measurement there. The volume typed in its box is kept exactly (the
    log slider beside it only moves it)."""

    def __init__(self, closed_model: str, *, items_per_s: float | None = None, tokens_per_s: float | None = None,
                 input_tokens: int = 100, output_tokens: int = 5, volume: float = 1_000_000,
                 instance: str = "cpu", title: str = "", measured_on: str | None = None,
                 throughputs: dict[str, float] | None = None) -> None:
        import ipywidgets as w

        from ..core.errors import BadParameterError
        from ..engine.breakeven import INSTANCES, closed_usd_per_request

        if tokens_per_s is None and items_per_s is None:
            raise BadParameterError("no throughput given", "pass items_per_s= (texts/s, images/s) or tokens_per_s=")
        measured_on = measured_on or instance
        for key in (instance, measured_on, *(throughputs or {})):
            if key not in INSTANCES:
                raise BadParameterError(f"unknown instance {key!r}", f"use one of {', '.join(INSTANCES)}")
        self.unit = "tokens/s" if tokens_per_s is not None else "items/s"
        self.measured_on = measured_on
        # instance key -> (throughput, where it came from)
        self._speeds: dict[str, tuple[float, str]] = {
            measured_on: (_three_figures(tokens_per_s if tokens_per_s is not None else items_per_s), "measured")}
        self._speeds.update({k: (_three_figures(v), "given") for k, v in (throughputs or {}).items()})
        self._syncing = False
        self.title = title
        # $ per million tokens, read at 10k tokens: a million-token prompt would hit a long-context price tier
        pin_usd, self._basis = closed_usd_per_request(closed_model, 10_000, 0)
        pout_usd, _ = closed_usd_per_request(closed_model, 0, 10_000)
        pin_usd, pout_usd = pin_usd * 100, pout_usd * 100
        style = {"description_width": "190px"}
        lay = w.Layout(width="520px")
        # the exact volume lives in a whole-number box; the log slider beside it moves it (no readout of its own:
        # a snapped "1.00e+6" is neither exact nor readable — the label after the box says "1M")
        self.volume = w.BoundedIntText(value=int(volume), min=1, max=10**12, description="requests per month",
                                       style=style, layout=w.Layout(width="330px"))
        self.volume_slider = w.FloatLogSlider(value=volume, base=10, min=3, max=10, step=0.01, readout=False,
                                              layout=w.Layout(width="220px"))
        self.volume_label = w.HTML(_volume(volume) + " / month")
        self.input_tokens = w.IntSlider(value=input_tokens, min=0, max=4000, step=10, description="input tokens",
                                        style=style, layout=lay)
        self.output_tokens = w.IntSlider(value=output_tokens, min=1, max=2000, step=1, description="output tokens",
                                         style=style, layout=lay)
        self.price_in = w.BoundedFloatText(value=pin_usd, min=0, max=1000, step=0.01,
                                           description=f"{closed_model} $/M input", style=style, layout=lay)
        self.price_out = w.BoundedFloatText(value=pout_usd, min=0, max=1000, step=0.01,
                                            description=f"{closed_model} $/M output", style=style, layout=lay)
        self.instance = w.Dropdown(options=[(i.label(), k) for k, i in INSTANCES.items()], value=instance,
                                   description="instance", style=style, tooltip=INSTANCES[instance].label(),
                                   layout=w.Layout(width="98%", max_width="900px"))  # 100% and its margins overflowed
        speed = _three_figures(self._speeds.get(instance, self._speeds[measured_on])[0])
        self.speed = w.BoundedFloatText(value=speed, min=1e-6, max=1e9, description=f"{self.unit} on this instance",
                                        style=style, layout=lay)
        self.speed_note = w.HTML()
        self.usd_per_hour = w.BoundedFloatText(value=INSTANCES[instance].usd_per_hour, min=0.0001, max=1000,
                                               step=0.01, description="instance $/hour", style=style, layout=lay)
        self.utilisation = w.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="utilisation",
                                         style=style, layout=lay)
        self.figure = w.Output()
        self.note = w.HTML()
        self.instance.observe(self._on_instance, names="value")
        self.speed.observe(self._on_speed, names="value")
        self.volume_slider.observe(self._on_slider, names="value")
        self.volume.observe(self._on_volume, names="value")
        for c in (self.input_tokens, self.output_tokens, self.price_in, self.price_out,
                  self.usd_per_hour, self.utilisation):
            c.observe(lambda _: self.redraw(), names="value")
        self.widget = w.VBox([w.HBox([self.volume, self.volume_slider, self.volume_label],
                                     layout=w.Layout(flex_flow="row wrap", align_items="center")),
                              self.input_tokens, self.output_tokens, self.price_in, self.price_out,
                              self.instance, self.usd_per_hour, self.speed, self.speed_note, self.utilisation,
                              self.note, self.figure])
        self._say_where_speed_is_from()
        self.redraw()

    # ------------------------------------------------------------ controls talking to each other
    def _on_instance(self, change) -> None:
        from ..engine.breakeven import INSTANCES

        key = change["new"]
        self.instance.tooltip = INSTANCES[key].label()
        self._syncing = True  # one redraw for the whole change
        try:
            self.usd_per_hour.value = INSTANCES[key].usd_per_hour
            if key in self._speeds:
                self.speed.value = self._speeds[key][0]
        finally:
            self._syncing = False
        self._say_where_speed_is_from()
        self.redraw()

    def _on_speed(self, change) -> None:
        if self._syncing:
            return
        self._speeds[self.instance.value] = (float(change["new"]), "typed")
        self._say_where_speed_is_from()
        self.redraw()

    def _on_slider(self, change) -> None:
        if self._syncing:
            return
        new, typed = float(change["new"]), self.volume.value
        # after a typed volume moved it, the browser sends back the slider's position snapped to its step: that
        # echo is not a new volume (it turned a typed 30,000,000 into 30,199,517); a real move is a step or more
        if typed > 0 and new > 0 and abs(math.log10(new) - math.log10(typed)) < self.volume_slider.step / 2 + 1e-9:
            return
        self.volume.value = round(new)

    def _on_volume(self, change) -> None:
        self.volume_label.value = _volume(change["new"]) + " / month"
        self._syncing = True
        try:
            self.volume_slider.value = change["new"]  # the slider snaps to its step; the box keeps the value typed
        finally:
            self._syncing = False
        self.redraw()

    def _say_where_speed_is_from(self) -> None:
        from ..engine.breakeven import INSTANCES

        key = self.instance.value
        if key in self._speeds:
            how = self._speeds[key][1]
            self.speed_note.value = f"<small>{self.unit} {how} for {INSTANCES[key].name}</small>"
        else:
            other = INSTANCES[self.measured_on]
            self.speed_note.value = (
                f"<span style='color:#a15c00'>⚠ {self.speed.value:g} {self.unit} was measured on "
                f"{html.escape(other.name)} ({other.kind.upper()}), not on {html.escape(INSTANCES[key].name)}: "
                f"measure the model on a {INSTANCES[key].kind.upper()} (oc.throughput on a run there) and type its "
                f"{self.unit} above</span>")

    @property
    def speed_is_measured_here(self) -> bool:
        """True when the throughput used belongs to the chosen instance (measured, given or typed for it)."""
        return self.instance.value in self._speeds

    def current(self) -> BreakEven:
        from ..engine.breakeven import break_even, seconds_per_request

        closed = (self.input_tokens.value * self.price_in.value + self.output_tokens.value * self.price_out.value) / 1e6
        if self.unit == "tokens/s":
            sec = seconds_per_request(tokens_per_s=self.speed.value, output_tokens=self.output_tokens.value)
        else:
            sec = seconds_per_request(items_per_s=self.speed.value)
        return break_even(closed, self.usd_per_hour.value, sec, utilisation=self.utilisation.value)

    def redraw(self) -> None:
        if self._syncing:
            return
        be = self.current()
        at = be.at(self.volume.value)
        point = be.break_even_requests
        self.note.value = (
            f"At {_volume(self.volume.value)} requests/month: closed {_money(at['closed $/month'])}, self-hosted "
            f"{_money(at['self-hosted $/month'])} ({plural(at['instances'], 'instance')}"
            + ("" if self.speed_is_measured_here else f" at another machine's {self.unit}")
            + "); break-even "
            + (f"{_volume(point)} requests/month" if point else "never (closed is cheaper at every volume)")
            + f". <small>{LEFT_OUT}</small>")
        fig = breakeven(be, volume=self.volume.value, title=self.title)
        self.figure.outputs = (figure_output(fig),)  # append_display_data would leave it empty

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


__all__ = ["LEFT_OUT", "BreakEvenPanel", "breakeven", "cascade"]
