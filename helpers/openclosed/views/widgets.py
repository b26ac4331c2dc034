"""ipywidgets panels. They run :func:`openclosed.compare` and only read the
:class:`~openclosed.engine.results.Comparison` it returns: no model logic lives here.
(Introduced at the end of ``01_sentiment.ipynb``.)

    panel = oc.ComparePanel("sentiment")          # pick models, type, press Run
    panel = oc.ComparePanel("text-generation")    # answers stream in, side by side

Usable from code too (tests, scripts)::

    panel.text.value = "I loved it"
    run = panel.run()           # the same as pressing Run; also in panel.last
"""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as widgets

from ..core.errors import OpenClosedError
from ..session.availability import default_ticked, usable_models
from ..session.compare import compare
from ..tasks import TASKS
from .throttle import Throttle

EXAMPLES = {name: t.example for name, t in TASKS.items()}
HELP = {name: t.input_help for name, t in TASKS.items()}
_STREAM_EVERY_S = 0.1  # at most ~10 updates a second per model while streaming

class ComparePanel(widgets.VBox):
    """Pick models, type an input, press **Run**: every model's answer side by
    side, with confidence / time / cost, errors in their model's cell.

    ``task``: ``"sentiment"`` (one text per line), ``"text-generation"``
    (answers stream into one box per model, then the full table) or
    ``"image-generation"``. ``models``: the models ticked at first (default:
    the active profile's models for the task that can run now: a closed
    model without a key starts unticked). Other keyword arguments are
    passed to :func:`openclosed.compare` (e.g. ``max_tokens=64``).

    Attributes for use from code: ``text`` (the Textarea), ``models_select``,
    ``button``, ``status``, ``output`` (an Output widget holding the
    Comparison's HTML), ``streams`` (model -> HTML widget, text generation),
    ``last`` (the last Comparison), ``html`` (the HTML shown last).
    """

    def __init__(self, task: str = "sentiment", models: list[str] | None = None, *, text: str | None = None,
                 **params: Any) -> None:
        if task not in TASKS:
            raise OpenClosedError(f"unknown task {task!r}", f"use one of {', '.join(TASKS)}")
        self.task = task
        self.params = params
        options, self.unavailable = usable_models(task)
        chosen = list(models) if models is not None else default_ticked(task, options)
        options += [m for m in chosen if m not in options]
        self.models_select = widgets.SelectMultiple(
            options=options, value=[m for m in chosen if m in options], description="models",
            rows=min(8, max(3, len(options))), layout=widgets.Layout(width="320px"))
        self.text = widgets.Textarea(value=EXAMPLES[task] if text is None else text, placeholder=HELP[task],
                                     description="input",
                                     layout=widgets.Layout(width="560px", max_width="100%", height="90px"))
        self.button = widgets.Button(description="Run", button_style="primary", icon="play",
                                     tooltip=f"run the ticked models on the input ({HELP[task]})")
        self.status = widgets.HTML(value=f"<i>{html.escape(task)}: tick models, type ({HELP[task]}), press Run</i>")
        self.not_here = widgets.HTML(value="<span style='color:#888'>Not available here: " + "; ".join(
            f"{html.escape(m)} ({html.escape(why)})" for m, why in self.unavailable.items()) + "</span>"
            if self.unavailable else "")
        self.streams: dict[str, widgets.HTML] = {}
        self.stream_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.output = widgets.Output()
        self.last = None
        self.html = ""
        self._redraw = Throttle(_STREAM_EVERY_S)
        self.button.on_click(lambda _: self.run())
        # the controls wrap onto a second line on a narrow screen (1280 px with the file browser open)
        super().__init__([widgets.HBox([self.models_select, widgets.VBox([self.text, self.button],
                                                                         layout=widgets.Layout(max_width="100%"))],
                                       layout=widgets.Layout(flex_flow="row wrap")),
                          self.not_here, self.status, self.stream_box, self.output])

    # ------------------------------------------------------------ running
    def inputs(self) -> list[str]:
        """What Run sends: one text per non-empty line (sentiment) or the whole text."""
        value = self.text.value
        if self.task == "sentiment":
            lines = [line for line in value.splitlines() if line.strip()]
            return lines or [value]
        return [value]

    def run(self):
        """Run the ticked models on the input and show the result; returns the Comparison
        (``None`` when nothing could run: the status line says why)."""
        models = list(self.models_select.value)
        if not models:
            self._set_status("Tick at least one model.", error=True)
            return None
        inputs = self.inputs()
        self.button.disabled = True
        self._set_status(f"Running {len(models)} model{'s' * (len(models) > 1)} on {len(inputs)} "
                         f"input{'s' * (len(inputs) > 1)}…")
        self._start_streams(models)
        started = time.perf_counter()
        try:
            run = compare(self.task, models, inputs, progress=False,
                          on_partial=self._on_partial if self.task == "text-generation" else None, **self.params)
        except OpenClosedError as exc:  # bad input or unknown model: nothing ran
            self._set_status(f"{type(exc).__name__}: {exc.message}"
                             + (f" — what to do: {exc.hint}" if exc.hint else ""), error=True)
            return None
        finally:
            self.button.disabled = False
        self.last = run
        self._show(run, time.perf_counter() - started)
        return run

    # ------------------------------------------------------------ display
    def _set_status(self, text: str, error: bool = False) -> None:
        style = "color:#a40000" if error else "color:#333"
        self.status.value = f"<span style='{style}'>{html.escape(text)}</span>"

    def _start_streams(self, models: list[str]) -> None:
        if self.task != "text-generation":
            self.stream_box.children = ()
            return
        self.streams = {m: widgets.HTML(value="<i>waiting…</i>",
                                        layout=widgets.Layout(width="320px", border="1px solid #ddd", padding="4px"))
                        for m in models}
        self._redraw.reset()
        self.stream_box.children = tuple(
            widgets.VBox([widgets.HTML(f"<b>{html.escape(m)}</b>"), w]) for m, w in self.streams.items())

    def _on_partial(self, model: str, index: int, text: str) -> None:
        """Streamed text (called from the models' threads): shown for the first input."""
        if index != 0 or model not in self.streams:
            return
        if not self._redraw.ready(model):
            return
        self.streams[model].value = f"<div style='white-space:pre-wrap'>{html.escape(text)}▌</div>"

    def _show(self, run, seconds: float) -> None:
        from IPython.display import HTML

        for m, w in self.streams.items():  # final text (or error) in each streaming box
            try:
                r = run.result(m, 0)
            except KeyError:
                continue
            body = html.escape(str(r.output or ""))
            err = f"<div style='color:#a40000'>{html.escape(str(r.error))}</div>" if r.error else ""
            w.value = f"<div style='white-space:pre-wrap'>{body}</div>{err}"
        self.html = run._repr_html_()
        self.output.outputs = ()
        self.output.append_display_data(HTML(self.html))
        errors = run.errors()
        failed = sorted({r.model for r in errors})
        note = (f"; {len(errors)} failed ({', '.join(f'{m}: {run_first_error(run, m)}' for m in failed)})"
                if errors else "")
        self._set_status(f"Done in {seconds:.2f} s: {len(run.models)} models × {len(run.inputs)} inputs{note}",
                         error=bool(errors) and len(failed) == len(run.models))

def run_first_error(run, model: str) -> str:
    """The type of a model's first error in ``run`` (for status lines)."""
    for r in run.results:
        if r.model == model and r.error:
            return r.error.type
    return ""

__all__ = ["ComparePanel"]
