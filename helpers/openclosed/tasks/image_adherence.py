"""Does the picture show what the prompt asked for? For prompts about drawn
shapes ("a red circle ..."), the shape + colour classifier
(:mod:`openclosed.catalog.shape_classifier`) reads every generated image and
the share whose shape AND colour match the prompt is reported with its 95%
Wilson interval and beside the chance rate (1 in 24 pairs), separately for
colour + shape pairs the mini Stable Diffusion saw in training and pairs held
out from it (notebook 03). A reading the classifier is unsure of (less than
even odds for its best shape or colour) is "unsure" and never a match."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog import shape_classifier, shapes
from ..core.errors import BadInputError
from ..engine.stats import wilson


WORDINGS = ("large, centred, background", "small, in a corner, background", "bare")
"""The three ways :func:`adherence_prompts` asks for a pair: size, place and background said; a small shape in a
corner; colour and shape alone."""

SPLITS = ("test", "validation")
HAND_LABELS = Path(__file__).resolve().parent.parent / "data" / "judge_check"
"""mini-sd pictures labelled by eye (``labels.csv``; how they were made: ``README.md`` there)."""


def adherence_prompts(per_pair: int = 3, split: str = "test") -> list[str]:
    """Prompts for every colour + shape pair (seen and held out), ``per_pair`` each, cycling the three
    :data:`WORDINGS` ("a large red circle in the centre on a grey background", "a small red circle at the top
    left on a black background", "a red circle"); backgrounds and corners rotate with the pair.

    ``split="validation"`` gives other backgrounds and corners for the same pairs: choose settings (guidance,
    steps) on those prompts with other seeds, and report once on the ``"test"`` ones."""
    if split not in SPLITS:
        raise BadInputError(f"split={split!r} is not one of {', '.join(SPLITS)}",
                            'use split="validation" to choose settings and split="test" to report')
    if int(per_pair) < 1:
        raise BadInputError(f"per_pair={per_pair} asks for no prompts", "use per_pair=3 (one per wording)")
    bgs = tuple(shapes.BACKGROUNDS)
    corners = tuple(p for p in shapes.PLACES if p != "in the centre")
    shift = 0 if split == "test" else 1
    out = []
    for j, (c, s) in enumerate((c, s) for c in shapes.COLOURS for s in shapes.SHAPES):
        for k in range(int(per_pair)):
            turn = j + k // len(WORDINGS)  # a second round of wordings gets other backgrounds and corners
            bg = bgs[(turn + shift) % len(bgs)]
            wording = k % len(WORDINGS)
            if wording == 0:
                out.append(f"a large {c} {s} in the centre on a {bg} background")
            elif wording == 1:
                out.append(f"a small {c} {s} {corners[(turn + 2 * shift) % len(corners)]} on a {bg} background")
            else:
                out.append(f"a {c} {s}" if k < len(WORDINGS) else f"a {c} {s} on a {bg} background")
    return out


@dataclass
class Adherence:
    """Per image: what was asked, what the classifier read (and how sure), whether it matches; ``summary`` per
    model and split, with Wilson intervals and the chance rate."""

    rows: Any  # DataFrame: model, prompt, seed, asked_colour, asked_shape, split, read_colour, read_shape,
    #            confidence, unsure, shape_ok, colour_ok, match, error

    chance: float = shape_classifier.CHANCE

    @property
    def summary(self) -> Any:
        """One row per (model, split): images, matches, share matching shape and colour with its 95% Wilson
        interval (``low``, ``high``), the chance rate, the share the judge was unsure of, and shape / colour alone."""
        import pandas as pd

        out = []
        for (model, split), g in self.rows.groupby(["model", "split"], sort=False):
            k, n = int(g["match"].sum()), len(g)
            low, high = wilson(k, n)
            out.append({"model": model, "split": split, "images": n, "matches": k,
                        "shape_and_colour": k / n if n else float("nan"), "low": low, "high": high,
                        "chance": self.chance, "unsure": float(g["unsure"].mean()),
                        "shape": float(g["shape_ok"].mean()), "colour": float(g["colour_ok"].mean())})
        return pd.DataFrame(out)

    def _subset(self, split: str, model: str | None) -> Any:
        df = self.rows[self.rows["split"] == split]
        return df[df["model"] == model] if model is not None else df

    def share(self, split: str, model: str | None = None) -> float:
        """Share of ``split`` ("seen" / "held-out") images whose shape and colour match (of ``model``, or all)."""
        df = self._subset(split, model)
        return float(df["match"].mean()) if len(df) else float("nan")

    def interval(self, split: str, model: str | None = None) -> tuple[float, float]:
        """The 95% Wilson interval of :meth:`share`."""
        df = self._subset(split, model)
        return wilson(int(df["match"].sum()), len(df))

    def _repr_html_(self) -> str:
        s = self.summary.copy()
        s["shape_and_colour"] = [f"{v:.0%} [{lo:.0%}, {hi:.0%}]"
                                 for v, lo, hi in zip(s["shape_and_colour"], s["low"], s["high"])]
        for c in ("chance", "unsure", "shape", "colour"):
            s[c] = s[c].map("{:.0%}".format)
        s = s.drop(columns=["low", "high"]).rename(columns={"shape_and_colour": "shape and colour [95% CI]"})
        return (s.to_html(index=False) + f"<p>chance: a judge guessing one of {len(shape_classifier.ALL_PAIRS)} "
                f"colour + shape pairs would match {self.chance:.0%} of the time; unsure readings never match.</p>")


def _rows(model: str, seed: Any, prompts: list[str], images: list[Any], errors: list[Any], net: Any,
          unsure_below: float) -> list[dict]:
    read = iter(shape_classifier.read(net, [im for im in images if im is not None], unsure_below))
    rows = []
    for prompt, image, error in zip(prompts, images, errors):
        colour, shape = shapes.parse_prompt(prompt)
        got_c, got_s, conf, unsure = next(read) if image is not None else (None, None, float("nan"), True)
        split = ("not judged" if colour is None or shape is None
                 else "held-out" if (colour, shape) in shapes.HELD_OUT else "seen")
        rows.append({"model": model, "prompt": prompt, "seed": seed, "asked_colour": colour, "asked_shape": shape,
                     "split": split, "read_colour": got_c, "read_shape": got_s, "confidence": conf,
                     "unsure": unsure, "shape_ok": not unsure and got_s == shape,
                     "colour_ok": not unsure and got_c == colour,
                     "match": not unsure and (got_c, got_s) == (colour, shape),
                     "error": str(error) if error else None})
    return rows


def _adherence(rows: list[dict]) -> Adherence:
    import pandas as pd

    df = pd.DataFrame(rows)
    judged = df["split"] != "not judged"
    return Adherence(df[judged].reset_index(drop=True) if judged.any() else df)


def judge(images: list[Any], prompts: list[str], classifier: Any = None, model: str = "",
          unsure_below: float = shape_classifier.UNSURE_BELOW) -> Adherence:
    """Judge PIL ``images`` against their captions ``prompts`` (a missing image, ``None``, never matches)."""
    if len(images) != len(prompts):
        raise BadInputError(f"{len(images)} images for {len(prompts)} prompts", "pass one prompt per image")
    net = classifier or shape_classifier.load()
    return _adherence(_rows(model, None, list(prompts), list(images), [None] * len(images), net, unsure_below))


def adherence(run: Any, classifier: Any = None, seed_of: dict[int, int] | None = None,
              unsure_below: float = shape_classifier.UNSURE_BELOW) -> Adherence:
    """Judge every image of an image-generation :class:`~openclosed.engine.results.Comparison` (or a list of them).

    Only prompts that name a colour and a shape are judged (others are listed with ``split`` "not judged").
    Failed results count as not matching: a missing image does not follow its prompt. Neither does a picture the
    classifier is unsure of (its best shape or colour below ``unsure_below``).
    """
    runs = run if isinstance(run, (list, tuple)) else [run]
    if not runs or any(getattr(r, "task", None) != "image-generation" for r in runs):
        raise BadInputError("adherence() needs image-generation runs",
                            'pass run = oc.compare("image-generation", ["mini-sd"], prompts)')
    net = classifier or shape_classifier.load()
    rows: list[dict] = []
    for one in runs:
        seed = one.manifest.get("params", {}).get("seed")
        by_model: dict[str, list[Any]] = {}
        for r in one.results:
            by_model.setdefault(r.model, []).append(r)
        for model, results in by_model.items():
            rows += _rows(model, seed, [r.input for r in results], [r.image for r in results],
                          [r.error for r in results], net, unsure_below)
    return _adherence(rows)


def hand_label_agreement(folder: str | Path = HAND_LABELS, classifier: Any = None,
                         unsure_below: float = shape_classifier.UNSURE_BELOW) -> dict[str, Any]:
    """How often the judge agrees with a person on generated pictures (``labels.csv`` in ``folder``: ``file``,
    ``colour``, ``shape``, each ``unreadable`` where the person could not tell; the prompt comes from each PNG's
    metadata).

    ``agree``: pictures where the judge's verdict (matches its prompt or not) is the person's, with its 95%
    Wilson interval; ``same_reading``: readable pictures where the judge reads the colour and shape the person
    saw (and is not unsure); ``unsure_on_unreadable``: unreadable pictures the judge was unsure of."""
    import pandas as pd
    from PIL import Image

    from ..engine.images import read_png_meta

    folder = Path(folder)
    table = folder / "labels.csv"
    if not table.exists():
        raise BadInputError(f"no labels.csv in {folder}", "label the pictures first (benchmarks/judge_sample.py)")
    labels = pd.read_csv(table, dtype=str).fillna("")
    prompts, images = [], []
    for f in labels["file"]:
        prompts.append(read_png_meta(folder / f)["prompt"])
        with Image.open(folder / f) as im:
            images.append(im.convert("RGB"))
    readings = shape_classifier.read(classifier or shape_classifier.load(), images, unsure_below)
    agree = same = readable = unreadable = unsure_unreadable = person_matches = judge_matches = 0
    disagreements = []
    for (_, row), prompt, (colour, shape, conf, unsure) in zip(labels.iterrows(), prompts, readings):
        asked = shapes.parse_prompt(prompt)
        seen = (row["colour"].strip().lower(), row["shape"].strip().lower())
        person = seen == asked
        judged = not unsure and (colour, shape) == asked
        person_matches += person
        judge_matches += judged
        agree += person == judged
        if "unreadable" in seen:
            unreadable += 1
            unsure_unreadable += unsure
        else:
            readable += 1
            same += not unsure and (colour, shape) == seen
        if person != judged:
            disagreements.append(f"{row['file']}: asked {' '.join(asked)}, person saw {' '.join(seen)}, judge read "
                                 f"{colour} {shape} ({conf:.2f}{', unsure' if unsure else ''})")
    n = len(labels)
    low, high = wilson(agree, n)
    s_low, s_high = wilson(same, readable)
    return {"images": n, "agree": agree, "share": agree / n if n else float("nan"), "low": low, "high": high,
            "person_matches": person_matches, "judge_matches": judge_matches,
            "readable": readable, "same_reading": same, "same_reading_low": s_low, "same_reading_high": s_high,
            "unreadable": unreadable, "unsure_on_unreadable": unsure_unreadable, "disagreements": disagreements}
