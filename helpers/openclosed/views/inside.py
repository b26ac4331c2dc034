"""Plots for looking inside chat models: temperature and top-p on a real
next-token distribution, and how sure each model was of each token. They
only read :mod:`openclosed.engine.inside` objects.
(Used in ``02b_inside_chat_models.ipynb``.)

    oc.sampling_plot(oc.next_token_distribution("smollm2-135m", "Tell me a joke."))
    oc.token_probability_plot(oc.look_inside(["smollm2-135m", "gpt-6-luna"], "Hi"))
"""

from __future__ import annotations

from ..engine.inside import visible

KEPT, DROPPED = "#2a9d8f", "#c9c9c9"


def sampling_plot(dist, title: str | None = None):
    """One bar chart per temperature: the probabilities of the most likely
    next tokens, bars that top-p keeps in colour and those it drops in grey."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    temps = dist.temperatures
    fig = make_subplots(rows=1, cols=len(temps), shared_yaxes=True, subplot_titles=[
        f"T = {t:g}: top-p {dist.top_p:g} keeps {dist.kept[t]:,} token{'s' * (dist.kept[t] != 1)}" for t in temps])
    labels = [repr(visible(t))[1:-1] or "∅" for t in dist.table["token"]]
    for k, t in enumerate(temps, 1):
        kept = dist.table[f"kept@T={t:g}"]
        fig.add_trace(go.Bar(
            x=labels, y=dist.table[f"p@T={t:g}"], marker_color=[KEPT if x else DROPPED for x in kept],
            showlegend=False, hovertemplate=f"T={t:g}<br>%{{x}}: p = %{{y:.3f}}<extra></extra>"), row=1, col=k)
    fig.update_yaxes(title_text="probability", row=1, col=1, range=[0, 1])
    fig.update_layout(title=title or (f"{dist.model}: the next token after the prompt, at {len(temps)} temperatures"
                                      f"<br><sup>colour: kept by top-p {dist.top_p:g}; grey: never sampled</sup>"),
                      template="plotly_white", height=420, margin={"t": 90})
    return fig


def token_probability_plot(inside, title: str | None = None):
    """The probability of each generated token, position by position, one line per model."""
    import plotly.graph_objects as go

    fig = go.Figure()
    missing = []
    for trace in inside.traces:
        ps = [s.prob for s in trace.steps]
        if not ps or all(p is None for p in ps):
            missing.append(trace.model)
            continue
        fig.add_trace(go.Scatter(x=list(range(len(ps))), y=ps, mode="lines+markers", name=trace.model,
                                 text=[s.text for s in trace.steps],
                                 hovertemplate="%{text}<br>position %{x}: p = %{y:.3f}<extra>" + trace.model + "</extra>"))
    sub = f"<br><sup>no probabilities from: {', '.join(missing)}</sup>" if missing else ""
    fig.update_layout(title=title or f"How sure was each model of each token it wrote?{sub}",
                      xaxis_title="position in the answer", yaxis_title="probability of the chosen token",
                      yaxis_range=[0, 1.02], template="plotly_white", height=380)
    return fig


__all__ = ["sampling_plot", "token_probability_plot"]
