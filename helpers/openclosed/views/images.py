"""Pictures on the page: the captioned image grid, a strip of denoising steps
and a small image panel (notebook 03). Thumbnails are read from the saved PNG
files each time they are shown; no image is held in widget state.

    grid = oc.image_grid(["a red circle", "a blue star"], ["mini-sd"], seeds=[0, 1])
    grid                      # prompts x (model, seed), each cell: model, seed, steps, time, $
    oc.rerun_image(grid.cells.file[0])   # the same picture again, from the PNG's metadata
"""

from __future__ import annotations

import base64
import html
import io
import threading
import time
from pathlib import Path
from typing import Any

from ..core.errors import OpenClosedError
from ..core.formatting import money
from ..session.availability import usable_models
from ..session.images import GridRuns, run_grid
from ..session.setup import get_settings

THUMB_PX = 96


def thumbnail_uri(path: str | Path, px: int = THUMB_PX) -> str:
    """A ``data:`` URI of the PNG at ``path`` scaled to ``px`` (small pictures enlarged without smoothing)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        scale = px / max(im.size)
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im = im.resize(size, Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _uri_of(img: Any, px: int) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    buf.seek(0)
    return thumbnail_uri(buf, px)


def strip_html(frames: list[tuple[Any, Any]], px: int = 72, label: str = "step") -> str:
    """HTML: pictures side by side, each captioned ``label value`` (e.g. a denoising strip, a guidance sweep)."""
    cells = "".join(
        f"<figure style='margin:2px;text-align:center'><img src='{_uri_of(img, px)}' width={px} height={px}>"
        f"<figcaption style='font-size:11px'>{html.escape(label)} {html.escape(str(v))}</figcaption></figure>"
        for v, img in frames)
    return f"<div style='display:flex;flex-wrap:wrap;align-items:flex-end'>{cells}</div>"


class Strip:
    """Pictures in a row with captions; shows itself in a notebook."""

    def __init__(self, frames: list[tuple[Any, Any]], label: str = "step", px: int = 72) -> None:
        self.frames, self.label, self.px = list(frames), label, px

    def _repr_html_(self) -> str:
        return strip_html(self.frames, self.px, self.label)


def _money(usd: float | None) -> str:
    """A caption's cost as people read it ("$0.000022", never "$2.2e-05")."""
    if usd is None:
        return "$ n/a"
    return money(usd)


def _known(value: Any) -> bool:
    """A value a grid row really holds: not None and not the NaN a DataFrame puts in an empty cell."""
    return value is not None and value == value


def _caption(row: Any, axis: str) -> str:
    meta = row["meta"] or {}
    weights = " (stand-in, random weights)" if row["stand_in"] else " (random weights)" if row["random_weights"] else ""
    parts = [f"<b>{html.escape(row['model'])}</b>{weights}"]
    if meta.get("seed") is not None:
        parts.append(f"seed {meta['seed']}")
    if meta.get("steps") is not None:
        parts.append(f"{meta['steps']} steps")
    if axis == "guidance_scale" or meta.get("guidance_scale") is not None:
        parts.append(f"guidance {meta.get('guidance_scale', row.get(axis))}")
    if _known(row.get("batch")):  # one call drew several images: only the batch's time is known
        parts.append(f"batch of {int(row['batch'])}: {row['batch_s']:.2f} s")
    elif _known(row["seconds"]):
        parts.append(f"{row['seconds']:.2f} s")
    parts.append(html.escape(_money(row["cost_usd"])))  # "< $0.000001" is text, not a tag
    return " · ".join(parts)


class ImageGrid:
    """Prompts (rows) x models and one varied setting (columns); each cell a thumbnail read from its PNG file,
    captioned with model, seed, steps, time and cost; a failed cell shows its error."""

    def __init__(self, grid: GridRuns, px: int = THUMB_PX) -> None:
        self.grid, self.px = grid, px
        self.cells = grid.cells
        self.runs = grid.runs
        self.axis = grid.axis

    @property
    def files(self) -> list[str]:
        """The PNG files, in cell order (``None`` for failed cells)."""
        return list(self.cells["file"])

    def _repr_html_(self) -> str:
        df = self.cells
        models = list(dict.fromkeys(df["model"]))
        prompts = list(dict.fromkeys(df["prompt"]))
        cols = [(m, v) for m in models for v in self.grid.values]
        head = "".join(f"<th style='font-size:11px'>{html.escape(m)}<br>{self.axis} {html.escape(str(v))}</th>"
                       for m, v in cols)
        body = []
        for p in prompts:
            tds = []
            for m, v in cols:
                row = df[(df["prompt"] == p) & (df["model"] == m) & (df[self.axis] == v)].iloc[0]
                if row["file"]:
                    cell = (f"<img src='{thumbnail_uri(row['file'], self.px)}' width={self.px} "
                            f"title='{html.escape(row['file'])}'><br>")
                else:
                    cell = f"<div style='color:#b00;max-width:{self.px * 2}px'>{html.escape(str(row['error']))}</div>"
                tds.append(f"<td style='text-align:center;font-size:10px;vertical-align:top'>{cell}"
                           f"{_caption(row, self.axis)}</td>")
            body.append(f"<tr><th style='text-align:left;max-width:160px'>{html.escape(p)}</th>{''.join(tds)}</tr>")
        return (f"<table><tr><th>prompt</th>{head}</tr>{''.join(body)}</table>"
                f"<div style='font-size:11px'>PNG files with their parameters in {html.escape(str(self.grid.folder))}"
                "; make any of them again with oc.rerun_image(file).</div>")


def image_grid(prompts: list[str] | str, models: list[str] | str | None = None, *, px: int = THUMB_PX,
               **kwargs: Any) -> ImageGrid:
    """Run and show a grid: see :func:`openclosed.session.images.run_grid` for the arguments."""
    return ImageGrid(run_grid(prompts, models, **kwargs), px)


class ImagePanel:
    """Tick models, type prompts (one per line) and seeds, press **Draw**: a captioned grid. **Cancel** stops
    the picture being drawn after its current step. The drawing runs in a background thread so the buttons
    stay live; ``draw()`` does the same on the calling thread (for code and tests)."""

    def __init__(self, models: list[str] | None = None, *, prompts: str = "a red circle on a white background",
                 folder: str | Path = "runs/panel", **params: Any) -> None:
        import ipywidgets as widgets

        from ..catalog.registry import default_models

        options, _ = usable_models("image-generation")
        chosen = list(models) if models is not None else [
            m for m in default_models("image-generation", get_settings().profile) if m in options]
        options += [m for m in chosen if m not in options]
        self.folder, self.params = Path(folder), params
        self.models_select = widgets.SelectMultiple(options=options, value=tuple(chosen), description="models")
        self.text = widgets.Textarea(value=prompts, description="prompts",
                                     layout=widgets.Layout(width="420px", max_width="100%"))
        self.seeds = widgets.Text(value="0", description="seeds", placeholder="0, 1, 2")
        self.button = widgets.Button(description="Draw", button_style="primary")
        self.cancel = widgets.Button(description="Cancel")
        self.status = widgets.HTML()
        self.grid_html = widgets.HTML()
        self.button.on_click(lambda _b: self._in_thread())
        self.cancel.on_click(lambda _b: self.request_cancel())
        # the controls wrap onto a second line on a narrow screen (1280 px with the file browser open)
        self.widget = widgets.VBox([widgets.HBox([self.models_select, self.text],
                                                 layout=widgets.Layout(flex_flow="row wrap")), self.seeds,
                                    widgets.HBox([self.button, self.cancel]), self.status, self.grid_html])
        self.last: ImageGrid | None = None
        self._thread: threading.Thread | None = None

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def request_cancel(self) -> None:
        from ..backends.diffusers import request_cancel

        request_cancel()
        self.status.value = "cancelling after the current step..."

    def _in_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self.status.value = "still drawing: press Cancel first"
            return
        self._thread = threading.Thread(target=self.draw, daemon=True)
        self._thread.start()

    def draw(self) -> ImageGrid | None:
        """Draw the grid for the current prompts, models and seeds (what pressing Draw does)."""
        prompts = [p for p in self.text.value.splitlines() if p.strip()]
        try:
            seeds = [int(s) for s in self.seeds.value.replace(",", " ").split()] or [0]
        except ValueError:
            self.status.value = "<span style='color:#b00'>seeds must be whole numbers, e.g. 0, 1, 2</span>"
            return None
        self.button.disabled = True
        self.status.value = f"drawing {len(prompts)} prompt(s) x {len(self.models_select.value)} model(s) x {len(seeds)} seed(s)..."
        t0 = time.perf_counter()
        try:
            self.last = image_grid(prompts, list(self.models_select.value), seeds=seeds, folder=self.folder,
                                   progress=False, **self.params)
            self.grid_html.value = self.last._repr_html_()
            self.status.value = f"done in {time.perf_counter() - t0:.1f} s"
        except OpenClosedError as exc:
            self.status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
        finally:
            self.button.disabled = False
        return self.last
