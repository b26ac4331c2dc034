"""The side-by-side chat panel: one prompt, up to four models answering at
once, each column streaming with live time to first token, tokens/s, tokens
and $; a Stop button that really stops. (Introduced in ``02_text_generation.ipynb``.)

    panel = oc.ChatPanel(["smollm2-135m", "gpt-6-luna"])
    panel                      # type, press Run; Stop ends every stream, partial text kept
    panel.history              # every run in this kernel, one row per model and run

Pressing **Run** runs :func:`openclosed.compare` in a background thread: a
widget callback on the kernel's own thread would block it, and the Stop
click could not arrive until the run had finished. (A local model's
``generate`` is slower in a thread — for speed use :func:`openclosed.compare`
or ``panel.run()``, which run on the calling thread.) From that thread the
panel only sets widget values, never an Output context manager, and updates
each column at most four times a second.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as widgets

from ..backends import get_backend
from ..catalog.registry import get_model
from ..core.errors import OpenClosedError
from ..core.formatting import NA, plural
from ..engine.results import weights_label
from ..session.availability import default_ticked, usable_models
from ..session.compare import compare
from ..tasks import TASKS
from .throttle import Throttle

MAX_COLUMNS = 4
UPDATE_EVERY_S = 0.25  # each column is redrawn at most ~4 times a second while streaming
TASK = "text-generation"


def _fmt(value: float | None, fmt: str, unit: str = "") -> str:
    return "–" if value is None else format(value, fmt) + unit


SHOW_LOAD_FROM_S = 0.05  # a model already in memory "loads" in ~0 s: nothing to say then


def stats_line(ttft_s: float | None, tokens_per_s: float | None, tokens: int | None, cost_usd: float | None,
               load_s: float | None = None) -> str:
    """'loaded in 4.50 s · TTFT 0.42 s · 18.3 tok/s · 64 tokens · $0.000012'
    (dashes for what is not known yet). TTFT counts from the start of
    generation; the model's loading, when it had to load, is shown before it."""
    cost = "–" if cost_usd is None else (f"${cost_usd:.6f}" if cost_usd < 0.01 else f"${cost_usd:.4f}")
    loaded = f"loaded in {load_s:.2f} s · " if load_s is not None and load_s >= SHOW_LOAD_FROM_S else ""
    count = plural(tokens, "token").replace(NA, "–")
    return f"{loaded}TTFT {_fmt(ttft_s, '.2f', ' s')} · {_fmt(tokens_per_s, '.1f', ' tok/s')} · {count} · {cost}"


def parse_stops(value: str) -> list[str] | None:
    """Stop strings typed in one box: separated by ``|``; ``\\n`` means a new line."""
    stops = [s.replace("\\n", "\n") for s in value.split("|") if s]
    return stops or None


class ChatPanel(widgets.VBox):
    """Prompt, system prompt and parameters; up to four models stream side by side.

    ``models``: the models ticked at first (default: the active profile's
    text-generation models that can run here). Other keyword arguments set
    the first values of the controls (``max_tokens``, ``temperature``,
    ``top_p``, ``seed``, ``stop``, ``system``).

    From code: set ``panel.prompt.value`` then ``panel.run()`` (blocks, on the
    calling thread) or ``panel.start()`` (background thread, like the Run
    button; ``panel.stop()`` like the Stop button; ``panel.thread`` to join).
    ``panel.last`` is the last Comparison, ``panel.history`` every run as a DataFrame.
    """

    def __init__(self, models: list[str] | None = None, *, prompt: str | None = None, **params: Any) -> None:
        options, self.unavailable = usable_models(TASK)
        chosen = list(models) if models is not None else default_ticked(TASK, options)[:MAX_COLUMNS]
        options += [m for m in chosen if m not in options]
        layout = widgets.Layout
        self.models_select = widgets.SelectMultiple(options=options, value=[m for m in chosen if m in options],
                                                    description="models", rows=min(8, max(3, len(options))),
                                                    layout=layout(width="300px"))
        self.prompt = widgets.Textarea(value=TASKS[TASK].example if prompt is None else prompt, description="prompt",
                                       layout=layout(width="520px", max_width="100%", height="70px"))
        self.system = widgets.Textarea(value=params.pop("system", ""), description="system",
                                       placeholder="optional system prompt",
                                     layout=layout(width="520px", max_width="100%", height="40px"))
        # "initial": each description as wide as its text; fixed slider widths that never shrink, so the
        # readouts ("200", "0.70") are shown whole on a 1280 px screen (the row wraps instead)
        style = {"description_width": "initial"}

        def slider_layout() -> widgets.Layout:
            return layout(width="330px", min_width="330px")

        self.temperature = widgets.FloatSlider(value=params.pop("temperature", 0.0), min=0.0, max=2.0, step=0.05,
                                               description="temperature", style=style, layout=slider_layout())
        self.top_p = widgets.FloatSlider(value=params.pop("top_p", 1.0), min=0.05, max=1.0, step=0.05,
                                         description="top_p", style=style, layout=slider_layout())
        self.max_tokens = widgets.IntSlider(value=params.pop("max_tokens", 64), min=1, max=1024,
                                            description="max_tokens", style=style, layout=slider_layout())
        self.seed = widgets.IntText(value=params.pop("seed", 0), description="seed", style=style,
                                    layout=layout(width="200px"))
        stop = params.pop("stop", None)
        self.stop_strings = widgets.Text(value="|".join(s.replace("\n", "\\n") for s in ([stop] if isinstance(
            stop, str) else stop or [])), description="stop", placeholder="e.g. \\n\\n|###", style=style,
            layout=layout(width="330px", max_width="100%"))
        if params:
            raise OpenClosedError(f"ChatPanel has no setting {next(iter(params))!r}",
                                  "use max_tokens, temperature, top_p, seed, stop or system")
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True,
                                          tooltip="end every stream now; the text so far is kept")
        self.status = widgets.HTML(value="<i>tick up to four models, type a prompt, press Run</i>")
        self.not_here = widgets.HTML(value="<span style='color:#888'>Not available here: " + "; ".join(
            f"{html.escape(m)} ({html.escape(why)})" for m, why in self.unavailable.items()) + "</span>"
            if self.unavailable else "")
        self.columns = widgets.HBox(layout=layout(flex_flow="row wrap"))
        self.texts: dict[str, widgets.HTML] = {}
        self.stats: dict[str, widgets.HTML] = {}
        self.load_s: dict[str, float] = {}  # this run: seconds each model took to load (≈0 when already loaded)
        self._done: set[str] = set()  # columns showing their final result
        self.last = None
        self.thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._redraw = Throttle(UPDATE_EVERY_S)
        self._runs: list = []
        self._lock = threading.Lock()
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        controls = widgets.VBox([self.temperature, self.top_p, self.max_tokens, self.seed, self.stop_strings])
        super().__init__([
            widgets.HBox([self.models_select, widgets.VBox([self.prompt, self.system]), controls],
                         layout=layout(flex_flow="row wrap")),
            widgets.HBox([self.run_button, self.stop_button]), self.not_here, self.status, self.columns])

    # ------------------------------------------------------------ parameters
    def params(self) -> dict[str, Any]:
        """The parameters the controls hold now (checked by compare before any model runs)."""
        p: dict[str, Any] = {"max_tokens": self.max_tokens.value, "temperature": self.temperature.value,
                             "seed": self.seed.value}
        if self.top_p.value < 1.0:
            p["top_p"] = self.top_p.value
        if self.system.value.strip():
            p["system"] = self.system.value
        stops = parse_stops(self.stop_strings.value)
        if stops:
            p["stop"] = stops
        return p

    # ------------------------------------------------------------ running
    def run(self):
        """Run the ticked models on the prompt on this thread; returns the
        Comparison (``None`` when nothing could run: the status says why)."""
        models = list(self.models_select.value)
        if not models:
            self._status("Tick at least one model.", error=True)
            return None
        if len(models) > MAX_COLUMNS:
            self._status(f"{len(models)} models ticked; the panel shows at most {MAX_COLUMNS} — untick some.",
                         error=True)
            return None
        params = self.params()
        self._cancel = threading.Event()
        self._open_columns(models)
        self.run_button.disabled, self.stop_button.disabled = True, False
        self._status(f"Running {plural(len(models), 'model')}…")
        started = time.perf_counter()
        try:
            run = compare(TASK, models, [self.prompt.value], progress=False, on_partial=self._on_partial,
                          on_loaded=self._on_loaded, on_result=self._on_result, cancel=self._cancel, **params)
        except OpenClosedError as exc:  # bad parameter, unknown model, empty prompt: nothing ran
            self._status(f"{type(exc).__name__}: {exc.message}" + (f" — what to do: {exc.hint}" if exc.hint else ""),
                         error=True)
            return None
        finally:
            self.run_button.disabled, self.stop_button.disabled = False, True
        self.last = run
        with self._lock:
            self._runs.append((run, params, self._cancel.is_set()))
        self._finish(run, time.perf_counter() - started)
        return run

    def start(self) -> threading.Thread:
        """Run in a background thread (what the Run button does), so Stop stays responsive."""
        if self.thread is not None and self.thread.is_alive():
            return self.thread
        self.thread = threading.Thread(target=self._run_quietly, daemon=True, name="oc-chat-panel")
        self.thread.start()
        return self.thread

    def stop(self) -> None:
        """End every stream now (what the Stop button does): partial text kept and marked stopped."""
        self._cancel.set()
        self._status("Stopping…")

    def _run_quietly(self) -> None:
        try:
            self.run()
        except Exception as exc:  # never lost: shown in the status line
            self._status(f"{type(exc).__name__}: {exc}", error=True)
            self.run_button.disabled, self.stop_button.disabled = False, True

    # ------------------------------------------------------------ history
    @property
    def history(self):
        """Every run of this panel in this kernel: one row per model and run, with the parameters used."""
        import pandas as pd

        frames = []
        for k, (run, params, was_stopped) in enumerate(list(self._runs), start=1):
            df = run.table.copy()
            df.insert(0, "run", k)
            for name in ("temperature", "top_p", "max_tokens", "seed", "system", "stop"):
                df[name] = repr(params[name]) if name == "stop" and name in params else params.get(name)
            df["stop_pressed"] = was_stopped
            frames.append(df)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    # ------------------------------------------------------------ display (widget values only)
    def _status(self, text: str, error: bool = False) -> None:
        style = "color:#a40000" if error else "color:#333"
        self.status.value = f"<span style='{style}'>{html.escape(text)}</span>"

    def _open_columns(self, models: list[str]) -> None:
        box = "1px solid #ddd"
        self.load_s, self._done = {}, set()
        self.texts = {m: widgets.HTML(f"<i>{_first_words(m)}</i>", layout=widgets.Layout(width="100%"))
                      for m in models}
        self.stats = {m: widgets.HTML(f"<small>{stats_line(None, None, None, None)}</small>") for m in models}
        self._redraw.reset()
        self.columns.children = tuple(widgets.VBox(
            [widgets.HTML(f"<b>{html.escape(m)}</b>"), self.stats[m], self.texts[m]],
            layout=widgets.Layout(width=f"{max(24, 96 // len(models))}%", border=box, padding="4px", margin="2px"))
            for m in models)

    def _on_partial(self, model: str, index: int, text: str) -> None:
        """Streamed text (from whichever thread runs the model), redrawn at most every UPDATE_EVERY_S."""
        if model not in self.texts:
            return
        if model in self._done or not self._redraw.ready(model):
            return
        self.texts[model].value = f"<div style='white-space:pre-wrap'>{html.escape(str(text))}▌</div>"
        self.stats[model].value = "<small>" + stats_line(getattr(text, "ttft_s", None), getattr(
            text, "tokens_per_s", None), getattr(text, "tokens", None), None, self.load_s.get(model)) + "</small>"

    def _on_loaded(self, model: str, seconds: float) -> None:
        """The model is ready: say how long loading took, separately from the TTFT that follows."""
        if model not in self.texts or model in self._done:
            return
        self.load_s[model] = seconds
        self.texts[model].value = "<i>generating…</i>"
        self.stats[model].value = f"<small>{stats_line(None, None, None, None, seconds)}</small>"

    def _on_result(self, r) -> None:
        """A model's result, the moment it is known: an error (e.g. no key) is shown at once."""
        if r.model in self.texts and r.input_index == 0:
            self._show(r.model, r)

    def _show(self, m: str, r) -> None:
        self._done.add(m)
        mark = ""
        if r.finish_reason == "stopped":
            mark = "<div style='color:#a15c00'><b>■ stopped</b> — the partial text is kept</div>"
        elif r.error:
            mark = f"<div style='color:#a40000'>{html.escape(str(r.error))}</div>"
        self.texts[m].value = f"<div style='white-space:pre-wrap'>{html.escape(str(r.output or ''))}</div>{mark}"
        label = weights_label(r)
        line = stats_line(r.ttft_s, r.tokens_per_s, r.output_tokens, r.cost_usd, self.load_s.get(m))
        self.stats[m].value = f"<small>{line}{html.escape(label)}</small>"

    def _finish(self, run, seconds: float) -> None:
        for m in self.texts:
            self._show(m, run.result(m, 0))
        errors = [r for r in run.results if r.error and r.finish_reason != "stopped"]
        self._status(f"Done in {seconds:.2f} s" + (" (stopped)" if self._cancel.is_set() else "")
                     + (f"; {len(errors)} failed" if errors else ""))


def _first_words(model: str) -> str:
    """What a column says before its model answers: a closed model is sent its
    request at once; a local one loads (if needed) and takes its turn."""
    try:
        local = get_backend(get_model(model).backend).LOCAL
    except OpenClosedError:
        local = True
    return "loading or waiting for its turn…" if local else "request sent…"


__all__ = ["ChatPanel", "parse_stops", "stats_line"]
