"""The blind-arena panel and the leaderboard plots. They drive an
:class:`~openclosed.session.arena.Arena` and read
:class:`~openclosed.engine.ratings.Ratings`; no model logic or maths lives
here. (Used in ``02b_inside_chat_models.ipynb``.)

    panel = oc.ArenaPanel()          # type a prompt, New round, read A and B, vote; the board updates
    oc.leaderboard_plot(ratings)     # ratings with 95% intervals as error bars
    oc.winrate_plot(ratings)         # who beat whom, how often

Usable from code too (tests, scripts)::

    panel.prompt.value = "Explain rainbows"
    panel.new_round()                # a round on the calling thread (blocks until both answers are in)
    panel.start()                    # what New round does: the round in a background thread
    panel.stop()                     # what Stop does: both answers end now, the text so far kept
    panel.vote("A")                  # the same as pressing "A is better"

New round runs the round in a background thread (as the chat panel's Run
does), so the kernel keeps answering other cells and the Stop click arrives
while both answers stream; from that thread the panel only sets widget
values, a few times a second.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as widgets

from ..core.errors import OpenClosedError
from ..engine.ratings import ENOUGH_VOTES, bradley_terry
from ..session.arena import Arena
from .plots import figure_output
from .throttle import Throttle

_STREAM_EVERY_S = 0.15  # at most ~7 updates a second per side while streaming
VOTE_BUTTONS = (("A", "👈 A is better"), ("B", "B is better 👉"), ("tie", "🤝 tie"), ("both bad", "👎 both bad"))


def leaderboard_plot(ratings, title: str | None = None):
    """Each contestant's Bradley-Terry rating with its 95% bootstrap interval
    (error bars), best first; the title says how many votes and whether they
    were SIMULATED."""
    import plotly.graph_objects as go

    t = ratings.table
    enough = t["enough"] if "enough" in t.columns else t["votes"] >= ENOUGH_VOTES
    fig = go.Figure(go.Scatter(
        x=t["contestant"], y=t["rating"], mode="markers",
        error_y={"type": "data", "symmetric": False, "array": (t["upper"] - t["rating"]).tolist(),
                 "arrayminus": (t["rating"] - t["lower"]).tolist()},
        marker={"size": 12, "color": "#2a9d8f"},
        customdata=t[["lower", "upper", "votes", "wins", "losses", "ties", "both bad", "rank"]].to_numpy(),
        hovertemplate=("<b>%{x}</b><br>rating %{y:.0f} (95%: %{customdata[0]:.0f} to %{customdata[1]:.0f})"
                       "<br>rank %{customdata[7]}<br>%{customdata[2]} votes: %{customdata[3]} won, %{customdata[4]} lost,"
                       " %{customdata[5]} ties, %{customdata[6]} both bad<extra></extra>")))
    label = "SIMULATED votes" if ratings.simulated else "votes"
    fig.update_layout(
        title=title or (f"Leaderboard from {ratings.votes:,} {label if ratings.votes != 1 else label[:-1]}: "
                        "Bradley–Terry rating, 95% interval"
                        f"<br><sup>interval: {ratings.rounds} bootstrap rounds (seed {ratings.seed}), never narrower than "
                        "the likelihood allows; 400 points = 10:1 odds;<br>"
                        "overlapping bars: the order between them is not settled"
                        + (f"; under {ENOUGH_VOTES} votes: needs more votes" if not enough.all() else "") + "</sup>"),
        yaxis_title="rating (mean 1000)" if ratings.anchor is None else f"rating ({ratings.anchor} fixed)",
        template="plotly_white", height=440, margin={"t": 110})
    fig.update_xaxes(tickvals=list(t["contestant"]), ticktext=[
        short_name(c) + ("" if ok else "<br><i>needs more votes</i>") for c, ok in zip(t["contestant"], enough, strict=True)])
    fig.add_hline(y=1000 if ratings.anchor is None else float(ratings.table.set_index("contestant").loc[ratings.anchor, "rating"]),
                  line_dash="dot", line_color="#999")
    return fig


SHORT_NAME = 28  # characters of a contestant's name on an axis (the whole name is in the hover)


def short_name(name: str, width: int = SHORT_NAME) -> str:
    """``name`` cut to ``width`` characters with "…" (axes and headings; the full name goes in the hover)."""
    return name if len(name) <= width else name[: width - 1] + "…"


def winrate_plot(ratings, title: str | None = None):
    """Pairwise win rates (row beat column; ties as half), with the number of votes on hover."""
    import plotly.graph_objects as go

    rates, games = ratings.win_rates, ratings.battles
    order = [c for c in ratings.table["contestant"] if c in rates.index]
    rates, games = rates.loc[order, order], games.loc[order, order]
    text = [[("" if games.iloc[i, j] == 0 else f"{rates.iloc[i, j]:.0%}") for j in range(len(order))]
            for i in range(len(order))]
    fig = go.Figure(go.Heatmap(
        z=rates.to_numpy(), x=order, y=order, zmin=0, zmax=1, colorscale="RdBu", text=text, texttemplate="%{text}",
        customdata=games.to_numpy(), colorbar={"title": "win rate"},
        hovertemplate="%{y} vs %{x}: won %{z:.0%} of %{customdata} votes<extra></extra>"))
    label = "SIMULATED votes" if ratings.simulated else "votes"
    fig.update_layout(title=title or f"Win rate of the row against the column ({ratings.votes:,} {label}; ties as half)",
                      xaxis_title="against", yaxis_title="contestant", yaxis_autorange="reversed",
                      template="plotly_white", height=380 + 20 * len(order))
    short = [short_name(c) for c in order]
    fig.update_xaxes(tickvals=order, ticktext=short)
    fig.update_yaxes(tickvals=order, ticktext=short)
    return fig


class ArenaPanel(widgets.VBox):
    """Type a prompt and press **New round**: two anonymous answers, A (left)
    and B (right), stream in side by side; **Stop** ends both. Vote; only
    then are the contestants revealed. The leaderboard below updates after
    every vote (from every vote file in the arena's votes folder).

    ``arena``: an :class:`~openclosed.session.arena.Arena` (default: a new
    one; keyword arguments such as ``voter=``, ``seed=``, ``votes_dir=`` are
    passed to it). Attributes for code: ``prompt``, ``round_button``,
    ``stop_button``, ``vote_buttons`` (winner -> Button), ``side_a``/``side_b`` (HTML),
    ``reveal``, ``status``, ``board`` (an Output with the plots), ``arena``,
    ``ratings`` (the last leaderboard), ``thread`` (the running round, to join)."""

    def __init__(self, arena: Arena | None = None, *, prompt: str = "Explain in two sentences why the sky is blue.",
                 **arena_kwargs: Any) -> None:
        self.arena = arena if arena is not None else Arena(**arena_kwargs)
        layout = widgets.Layout
        self.prompt = widgets.Textarea(value=prompt, description="prompt",
                                       layout=layout(width="620px", max_width="100%", height="70px"))
        self.round_button = widgets.Button(description="New round", button_style="primary", icon="random",
                                           tooltip="draw two anonymous contestants and get both answers")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True,
                                          tooltip="end both answers now (this round cannot be voted on)")
        self.vote_buttons = {w: widgets.Button(description=label, disabled=True, layout=layout(width="auto"))
                             for w, label in VOTE_BUTTONS}
        # two columns side by side while there is room for 300 px each; one above the other on a narrow screen
        box = {"flex": "1 1 300px", "min_width": "0", "border": "1px solid #ccc", "padding": "6px",
               "margin": "2px", "min_height": "120px"}
        self.side_a = widgets.HTML("<i>A</i>", layout=layout(**box))
        self.side_b = widgets.HTML("<i>B</i>", layout=layout(**box))
        self.reveal = widgets.HTML("")
        self.status = widgets.HTML(f"<span style='color:#555'>{len(self.arena.contestants)} contestants: "
                                   + ", ".join(html.escape(c.name) for c in self.arena.contestants)
                                   + (f". Votes are saved to {html.escape(str(self.arena.votes_file))}."
                                      if self.arena.save else ". Votes are kept in memory only.") + "</span>")
        self.board = widgets.Output()
        self.ratings = None
        self.thread: threading.Thread | None = None
        self.round_s: float | None = None  # seconds from New round to both answers complete (last round)
        self._cancel = threading.Event()
        self._redraw = Throttle(_STREAM_EVERY_S)
        self.round_button.on_click(lambda _b: self.start())
        self.stop_button.on_click(lambda _b: self.stop())
        for w, b in self.vote_buttons.items():
            b.on_click(lambda _b, w=w: self.vote(w))
        wrap = layout(flex_flow="row wrap")
        super().__init__([self.prompt, widgets.HBox([self.round_button, self.stop_button], layout=wrap),
                          widgets.HBox([self.side_a, self.side_b], layout=wrap),
                          widgets.HBox(list(self.vote_buttons.values()), layout=wrap), self.reveal, self.status,
                          self.board])

    # ------------------------------------------------------------ actions
    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.value = f"<span style='color:{'#a40000' if error else '#333'}'>{html.escape(text)}</span>"

    def _on_partial(self, side: str, text: str) -> None:
        if not self._redraw.ready(side):
            return
        target = self.side_a if side == "A" else self.side_b
        target.value = _answer_html(side, text + "▌")

    def start(self) -> threading.Thread:
        """Play a round in a background thread (what New round does): the kernel stays free and Stop works."""
        if self.thread is not None and self.thread.is_alive():
            return self.thread
        self.thread = threading.Thread(target=self._round_quietly, daemon=True, name="oc-arena-round")
        self.thread.start()
        return self.thread

    def stop(self) -> None:
        """End both answers now (what Stop does); the round is then not votable."""
        self._cancel.set()
        self._set_status("Stopping…")

    def _round_quietly(self) -> None:
        try:
            self.new_round()
        except Exception as exc:  # never lost: shown in the status line
            self._set_status(f"{type(exc).__name__}: {exc}", error=True)
            self.round_button.disabled, self.stop_button.disabled = False, True

    def new_round(self):
        """Draw a pair, get both answers (streaming side by side), enable the vote buttons; returns the
        Round (None if it could not start). Runs on the calling thread; New round calls it in a thread."""
        for b in self.vote_buttons.values():
            b.disabled = True
        self._cancel = threading.Event()
        self.round_button.disabled, self.stop_button.disabled = True, False
        self.reveal.value = ""
        self.side_a.value, self.side_b.value = _answer_html("A", "…"), _answer_html("B", "…")
        self._redraw.reset()
        self._set_status("Both answers are being written (the first round also loads the model)…")
        started = time.perf_counter()
        try:
            rnd = self.arena.new_round(self.prompt.value, on_partial=self._on_partial, cancel=self._cancel)
        except OpenClosedError as exc:
            self._set_status(f"{type(exc).__name__}: {exc.message} — what to do: {exc.hint}", error=True)
            return None
        finally:
            self.round_button.disabled, self.stop_button.disabled = False, True
        self.round_s = time.perf_counter() - started
        for side, target, r in (("A", self.side_a, rnd.answer_a), ("B", self.side_b, rnd.answer_b)):
            text, note = rnd.shown(side)
            target.value = _answer_html(side, text, r.error, note)
        if rnd.ok:
            for b in self.vote_buttons.values():
                b.disabled = False
            self._set_status(f"Round {rnd.number} ({self.round_s:.1f} s): which answer is better? "
                             "(who wrote them is shown after you vote)")
        elif self._cancel.is_set():
            self._set_status("Stopped: this round cannot be voted on. Press New round for another.", error=True)
        else:
            self._set_status("A side failed, so this round cannot be voted on: press New round", error=True)
        return rnd

    def vote(self, winner: str):
        """Vote on the current round, reveal the contestants and update the leaderboard; returns the vote."""
        try:
            rec = self.arena.vote(winner)
        except OpenClosedError as exc:
            self._set_status(f"{type(exc).__name__}: {exc.message} — what to do: {exc.hint}", error=True)
            return None
        for b in self.vote_buttons.values():
            b.disabled = True
        rnd = self.arena.current
        self.reveal.value = _reveal_html(rnd.reveal(), winner)
        self._set_status(f"Vote {self.arena.n_votes} saved" + (f" to {self.arena.votes_file}" if self.arena.save else "")
                         + ". Type another prompt or press New round.")
        if self.arena.save:  # on Binder there is no shared disk: each student hands in this file
            self.status.value += " " + votes_download_html(self.arena.votes_file)
        self.update_board()
        return rec

    def update_board(self) -> None:
        """Refit the leaderboard on the saved votes (all files in the votes folder) and redraw it."""
        votes = self.arena.saved_votes() if self.arena.save else self.arena.votes()
        if len(votes) == 0:
            return
        self.ratings = bradley_terry(votes, rounds=100, seed=self.arena.seed)
        figures = [leaderboard_plot(self.ratings)]
        if len(self.ratings.table) > 1:
            figures.append(winrate_plot(self.ratings))
        self.board.outputs = tuple(figure_output(f) for f in figures)


def votes_download_html(path) -> str:
    """A link that downloads the votes file ``path`` from the browser (the file inside the link, so it works on a
    Binder pod too): students hand it in, the instructor puts every file in one folder and calls
    ``oc.merge_votes(folder)``."""
    import base64
    from pathlib import Path

    path = Path(path)
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<a download='{html.escape(path.name)}' href='data:application/x-ndjson;base64,{data}' "
            f"style='color:#1a5fb4' title='hand this file to your instructor'>⬇ download my votes "
            f"({html.escape(path.name)})</a>")


def _answer_html(side: str, text: str, error=None, note: str = "") -> str:
    err = (f"<div style='color:#a40000'>{html.escape(str(error))}</div>") if error else ""
    cut = f"<div style='color:#a15c00;font-size:12px'>✂ {html.escape(note)}</div>" if note else ""
    return f"<b>{side}</b><div style='white-space:pre-wrap'>{html.escape(text)}</div>{cut}{err}"


def _reveal_html(reveal: dict[str, Any], winner: str) -> str:
    parts = []
    for side, info in reveal.items():
        settings = ", ".join(f"{k}={v!r}" for k, v in info["settings"].items())
        star = " ✔" if winner == side else ""
        rw = " <b style='background:#ffe9b3'>random weights</b>" if info["random weights"] else ""
        speed = f", {info['tokens/s']:.1f} tok/s" if info.get("tokens/s") else ""
        parts.append(f"<div><b>{side}{star}</b> was <b>{html.escape(info['contestant'])}</b> "
                     f"({html.escape(info['model'])}; {html.escape(settings)}; answered by "
                     f"{html.escape(str(info['answered_by']))}{speed}){rw}</div>")
    return "".join(parts)


__all__ = ["ArenaPanel", "leaderboard_plot", "votes_download_html", "winrate_plot"]
