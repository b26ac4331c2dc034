"""Images in grids: the same prompts through several models and several seeds
(or step counts, or guidance scales), every image saved as a PNG that carries
the parameters that made it, and any of them made again from its file
(notebook 03)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends.diffusers import SCHEDULERS, denoising_steps
from ..core.errors import BadInputError, BadParameterError
from ..engine.images import read_png_meta, save_png
from ..engine.results import Comparison
from .compare import compare
from .loading import load_model

AXES = ("seed", "steps", "guidance_scale")
"""What a grid's columns may vary, besides the model."""

RERUN_KEYS = ("seed", "steps", "guidance_scale", "scheduler", "negative_prompt", "quality")


@dataclass
class GridRuns:
    """The runs behind a grid (one per value of ``axis``) and one row per cell: prompt, model, value, PNG file."""

    axis: str
    values: list[Any]
    runs: list[Comparison]
    cells: Any  # DataFrame
    folder: Path


def run_grid(prompts: list[str] | str, models: list[str] | str | None = None, *, folder: str | Path = "runs/images",
             seeds: list[int] | int | None = None, steps: list[int] | int | None = None,
             guidance_scale: list[float] | float | None = None, progress: bool = True, **params: Any) -> GridRuns:
    """Prompts x models x one varied setting (a list for ``seeds``, ``steps`` or ``guidance_scale``; at most one).

    Each value is one :func:`~openclosed.session.compare.compare` call (so every model draws all prompts in
    as few pipeline calls as it can); every image is written to ``folder`` as a PNG with its parameters.
    """
    varied = {"seed": seeds, "steps": steps, "guidance_scale": guidance_scale}
    lists = [k for k, v in varied.items() if isinstance(v, (list, tuple))]
    if len(lists) > 1:
        raise BadParameterError(f"a grid varies one setting at a time, got lists for {' and '.join(lists)}",
                                f"keep {lists[0]} a list and give the others one value each")
    axis = lists[0] if lists else "seed"
    values = list(varied[axis]) if lists else [varied["seed"] if varied["seed"] is not None else 0]
    if not values:
        raise BadParameterError(f"{axis}=[] gives an empty grid", f"give at least one value, e.g. {axis}=[0, 1]")
    fixed = {k: v for k, v in varied.items() if k != axis and v is not None}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs, rows = [], []
    for value in values:
        run = compare("image-generation", models, prompts, progress=progress, **{**params, **fixed, axis: value})
        runs.append(run)
        for r in run.results:
            path = None
            if r.image is not None:
                path = folder / f"{_safe(r.model)}-p{r.input_index}-{axis}{value}.png"
                save_png(r.image, path, run.image_meta(r))
            rows.append({"prompt": r.input, "model": r.model, axis: value, "file": str(path) if path else None,
                         "seconds": r.latency_s, "cost_usd": r.cost_usd, "random_weights": r.random_weights,
                         "stand_in": r.stand_in, "error": str(r.error) if r.error else None,
                         "meta": run.image_meta(r)})
    import pandas as pd

    return GridRuns(axis, values, runs, pd.DataFrame(rows), folder)


def rerun_image(path: str | Path, **overrides: Any) -> Comparison:
    """Make the image saved at ``path`` again from the parameters in its PNG metadata (``overrides`` change some)."""
    meta = read_png_meta(path)
    if not meta.get("model") or "prompt" not in meta:
        raise BadInputError(f"{path} carries no generation parameters",
                            "pass a PNG saved by oc.image_grid, run.save() or the image panel")
    params = {k: meta[k] for k in RERUN_KEYS if meta.get(k) not in (None, "")}
    if meta.get("width") and meta.get("height"):
        params["size"] = meta["width"] if meta["width"] == meta["height"] else f"{meta['width']}x{meta['height']}"
    params.pop("scheduler", None)
    if meta.get("family") == "open" and meta.get("scheduler"):
        params["scheduler"] = _scheduler_name(meta["scheduler"])
    params.update(overrides)
    return compare("image-generation", [meta["model"]], [meta["prompt"]], **params)


def _scheduler_name(class_name: str) -> str:
    """A saved scheduler class name back to the short name a run takes ("default" when it is not one of them)."""
    if class_name in SCHEDULERS:
        return class_name
    return {v: k for k, v in SCHEDULERS.items() if v}.get(class_name, "default")


def denoising_strip(model: str, prompt: str, every: int = 1, **params: Any) -> list[tuple[int, Any]]:
    """[(step, picture)]: what the latents look like after each ``every`` steps of drawing ``prompt``."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadInputError("the prompt is empty", 'give a prompt, e.g. "a red circle on a white background"')
    loaded = load_model(model)
    if loaded.spec.backend != "diffusers":
        raise BadInputError(f"{model!r} is not a diffusion model run here", "use an open image model, e.g. 'mini-sd'")
    return denoising_steps(loaded, prompt, params, every)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
