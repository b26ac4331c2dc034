"""Does the picture show what the prompt asked for? For prompts about drawn
shapes ("a red circle ..."), the shape + colour classifier
(:mod:`openclosed.catalog.shape_classifier`) reads every generated image and
the share whose shape AND colour match the prompt is reported, separately for
colour + shape pairs the mini Stable Diffusion saw in training and pairs held
out from it (notebook 03)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..catalog import shape_classifier, shapes
from ..core.errors import BadInputError


def adherence_prompts(per_pair: int = 3) -> list[str]:
    """Prompts for every colour + shape pair (seen and held out), ``per_pair`` wordings each (backgrounds vary)."""
    bgs = tuple(shapes.BACKGROUNDS)
    return [f"a large {c} {s} on a {bgs[k % len(bgs)]} background" if k < len(bgs) else f"a {c} {s}"
            for c in shapes.COLOURS for s in shapes.SHAPES for k in range(per_pair)]


@dataclass
class Adherence:
    """Per image: what was asked, what the classifier read, whether it matches; ``summary`` per model and split."""

    rows: Any  # DataFrame: model, prompt, seed, asked_colour, asked_shape, split, read_colour, read_shape, match

    @property
    def summary(self) -> Any:
        """One row per (model, split): images, share matching shape and colour (and each alone)."""
        df = self.rows
        g = df.groupby(["model", "split"], sort=False)
        out = g.agg(images=("match", "size"), shape_and_colour=("match", "mean"), shape=("shape_ok", "mean"),
                    colour=("colour_ok", "mean"))
        return out.reset_index()

    def share(self, split: str, model: str | None = None) -> float:
        """Share of ``split`` ("seen" / "held-out") images whose shape and colour match (of ``model``, or all)."""
        df = self.rows[self.rows["split"] == split]
        if model is not None:
            df = df[df["model"] == model]
        return float(df["match"].mean()) if len(df) else float("nan")

    def _repr_html_(self) -> str:
        s = self.summary.copy()
        for c in ("shape_and_colour", "shape", "colour"):
            s[c] = (s[c] * 100).map("{:.0f}%".format)
        return s.to_html(index=False)


def adherence(run: Any, classifier: Any = None, seed_of: dict[int, int] | None = None) -> Adherence:
    """Judge every image of an image-generation :class:`~openclosed.engine.results.Comparison` (or a list of them).

    Only prompts that name a colour and a shape are judged (others are listed with ``split`` "not judged").
    Failed results count as not matching: a missing image does not follow its prompt.
    """
    import pandas as pd

    runs = run if isinstance(run, (list, tuple)) else [run]
    if not runs or any(getattr(r, "task", None) != "image-generation" for r in runs):
        raise BadInputError("adherence() needs image-generation runs",
                            'pass run = oc.compare("image-generation", ["mini-sd"], prompts)')
    net = classifier or shape_classifier.load()
    rows = []
    for one in runs:
        seed = one.manifest.get("params", {}).get("seed")
        results = list(one.results)
        read = iter(shape_classifier.predict(net, [r.image for r in results if r.image is not None]))
        for r in results:
            colour, shape = shapes.parse_prompt(r.input)
            got = next(read) if r.image is not None else (None, None)
            split = ("not judged" if colour is None or shape is None
                     else "held-out" if (colour, shape) in shapes.HELD_OUT else "seen")
            rows.append({"model": r.model, "prompt": r.input, "seed": seed, "asked_colour": colour,
                         "asked_shape": shape, "split": split, "read_colour": got[0], "read_shape": got[1],
                         "shape_ok": got[1] == shape, "colour_ok": got[0] == colour,
                         "match": got == (colour, shape), "error": str(r.error) if r.error else None})
    df = pd.DataFrame(rows)
    return Adherence(df[df["split"] != "not judged"].reset_index(drop=True) if (df["split"] != "not judged").any()
                     else df)
