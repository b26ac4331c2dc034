"""Images in grids: the same prompts through several models and several seeds
(or step counts, or guidance scales), every image saved as a PNG that carries
the parameters that made it, and any of them made again from its file
(notebook 03)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends.diffusers import SCHEDULERS, denoising_steps, draw_one, encode_decode
from ..core.errors import BadInputError, BadParameterError, OpenClosedError
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
        # prompts drawn in one batched call share its start and end: their own times are not known apart
        batches = Counter((r.model, r.started_at, r.ended_at) for r in run.results if r.started_at and r.ended_at)
        for r in run.results:
            in_batch = batches.get((r.model, r.started_at, r.ended_at), 0)
            path = None
            if r.image is not None:
                path = folder / f"{_safe(r.model)}-p{r.input_index}-{axis}{value}.png"
                save_png(r.image, path, run.image_meta(r))
            rows.append({"prompt": r.input, "model": r.model, axis: value, "file": str(path) if path else None,
                         "seconds": r.latency_s, "batch": in_batch if in_batch > 1 else None,
                         "batch_s": (r.ended_at - r.started_at) if in_batch > 1 else None, "cost_usd": r.cost_usd, "random_weights": r.random_weights,
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
    return denoising_steps(_diffusion_model(model), prompt, params, every)


@dataclass
class LatentTrip:
    """A picture through the autoencoder and back: its latent (float32, shape (1, channels, h, w)), each latent
    channel as a grey picture, and the decoded picture."""

    picture: Any
    latent: Any
    decoded: Any

    @property
    def channels(self) -> list[tuple[str, Any]]:
        """[("latent i", picture)]: each channel scaled by its largest absolute value, grey 128 = 0."""
        from PIL import Image

        out = []
        for i, ch in enumerate(self.latent[0]):
            scaled = (ch / ch.abs().max().clamp(min=1e-8)).clamp(-1, 1).add(1).mul(127.5)
            out.append((f"latent {i}", Image.fromarray(scaled.round().byte().numpy())))
        return out

    @property
    def compression(self) -> float:
        """How many times fewer numbers the latent holds than the picture's pixels."""
        w, h = self.picture.size
        return w * h * len(self.picture.getbands()) / self.latent[0].numel()


def latent_roundtrip(model: str, picture: Any) -> LatentTrip:
    """Encode ``picture`` (a PIL image) with ``model``'s autoencoder and decode it again, in the model's own dtype
    and device (notebook 03, "The latent space")."""
    loaded = _diffusion_model(model)
    latent, decoded = encode_decode(loaded, picture)
    return LatentTrip(picture, latent, decoded)


@dataclass
class SeedCheck:
    """The same prompt and seed drawn twice in the session's dtype and once in the other CPU dtype."""

    dtype: str
    other_dtype: str
    first: Any
    again: Any
    other: Any

    @property
    def identical(self) -> bool:
        """Whether the two draws in the session's dtype have the same pixels."""
        import numpy as np

        return bool(np.array_equal(np.asarray(self.first), np.asarray(self.again)))

    @property
    def drift(self) -> float:
        """Mean absolute pixel difference (of 255) between the session's dtype and the other one."""
        import numpy as np

        return float(np.abs(np.asarray(self.first, dtype=float) - np.asarray(self.other, dtype=float)).mean())

    @property
    def strip(self) -> list[tuple[str, Any]]:
        return [(self.dtype, self.first), (f"{self.dtype} again", self.again), (self.other_dtype, self.other)]


def seed_check(model: str, prompt: str, seed: int = 0, **params: Any) -> SeedCheck:
    """Draw ``prompt`` with ``seed`` twice in the session's dtype (no response cache) and once with the model
    loaded in the other CPU dtype (float32 <-> bfloat16): does a seed pin the pixels, and what does the number
    type change? (notebook 03, "Seeds")."""
    loaded = _diffusion_model(model)
    other = "float32" if loaded.dtype != "float32" else "bfloat16"
    first, again = (compare("image-generation", [model], [prompt], seed=seed, cache="off", progress=False,
                            **params).results[0] for _ in range(2))
    for r in (first, again):
        if r.error:
            raise OpenClosedError(f"{model!r} could not draw {prompt!r}: {r.error}", "see run.errors() of oc.compare")
    other_pic = draw_one(load_model(model, dtype=other, device="cpu"), prompt, {**params, "seed": seed})
    return SeedCheck(loaded.dtype, other, first.image, again.image, other_pic)


def _diffusion_model(model: str):
    loaded = load_model(model)
    if loaded.spec.backend != "diffusers":
        raise BadInputError(f"{model!r} is not a diffusion model run here", "use an open image model, e.g. 'mini-sd'")
    return loaded


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
