"""Drawn pictures with captions: the data the mini Stable Diffusion learns from
and the adherence classifier is trained and tested on (notebook 03).

Every picture is one flat-coloured shape (circle, square, triangle, star) of
one of six colours, small or large, at one of five places, on a white, black or
grey background, drawn with PIL at 4x and shrunk (smooth edges). Captions say
what is drawn, sometimes leaving out the size, place or background::

    "a small blue square at the top left on a white background"
    "a red circle"

Some colour + shape combinations are never drawn for training
(:data:`HELD_OUT`): every colour and every shape is seen, only the pairing is
new. Asking the model for those pairs measures generalisation.

Everything is drawn from a seeded ``random.Random``: the same seed gives the
same pictures and captions on every machine.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

SIZE = 32
"""Side of the drawn pictures in pixels (the mini Stable Diffusion draws this size)."""

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (250, 140, 0),
    "yellow": (240, 220, 20),
    "green": (30, 170, 50),
    "blue": (30, 70, 230),
    "purple": (140, 40, 180),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128)}
PLACES: dict[str, tuple[float, float]] = {
    "in the centre": (0.5, 0.5),
    "at the top left": (0.3, 0.3),
    "at the top right": (0.7, 0.3),
    "at the bottom left": (0.3, 0.7),
    "at the bottom right": (0.7, 0.7),
}
SIZES: dict[str, float] = {"small": 0.22, "large": 0.40}
"""Radius of the shape as a share of the picture side."""

HELD_OUT: tuple[tuple[str, str], ...] = (
    ("green", "star"),
    ("blue", "triangle"),
    ("yellow", "square"),
    ("purple", "circle"),
)
"""(colour, shape) pairs never drawn for training: each colour and shape is seen with the others."""

SEEN: tuple[tuple[str, str], ...] = tuple((c, s) for c in COLOURS for s in SHAPES if (c, s) not in HELD_OUT)


@dataclass(frozen=True)
class Drawing:
    """What one picture shows; :meth:`caption` words it, :func:`draw` draws it."""

    shape: str
    colour: str
    size: str = "large"
    place: str = "in the centre"
    background: str = "white"
    say_size: bool = True
    say_place: bool = True
    say_background: bool = True

    def caption(self) -> str:
        words = ["a"]
        if self.say_size:
            words.append(self.size)
        words += [self.colour, self.shape]
        if self.say_place:
            words.append(self.place)
        if self.say_background:
            words.append(f"on a {self.background} background")
        return " ".join(words)


def random_drawing(rng: random.Random, pairs: tuple[tuple[str, str], ...] = SEEN) -> Drawing:
    """A random :class:`Drawing` whose (colour, shape) is one of ``pairs``."""
    colour, shape = rng.choice(pairs)
    size = rng.choice(tuple(SIZES))
    place = "in the centre" if size == "large" else rng.choice(tuple(PLACES))
    return Drawing(shape, colour, size, place, rng.choice(tuple(BACKGROUNDS)),
                   say_size=rng.random() < 0.7, say_place=rng.random() < 0.7, say_background=rng.random() < 0.7)


def _polygon(shape: str, cx: float, cy: float, r: float, turn: float) -> list[tuple[float, float]]:
    if shape == "square":
        k, radii, start = 4, (r * 0.9 * math.sqrt(2),), math.pi / 4
    elif shape == "triangle":
        k, radii, start = 3, (r * 1.1,), -math.pi / 2
    else:  # star: five points, inner radius 0.45
        k, radii, start = 10, (r * 1.1, r * 0.45), -math.pi / 2
    return [(cx + radii[i % len(radii)] * math.cos(start + turn + 2 * math.pi * i / k),
             cy + radii[i % len(radii)] * math.sin(start + turn + 2 * math.pi * i / k)) for i in range(k)]


def draw(d: Drawing, rng: random.Random | None = None, size: int = SIZE) -> Any:
    """Draw ``d`` as a ``size`` x ``size`` RGB PIL image; ``rng`` jitters place, size and angle a little."""
    from PIL import Image, ImageDraw

    rng = rng or random.Random(0)
    big = size * 4
    img = Image.new("RGB", (big, big), BACKGROUNDS[d.background])
    pen = ImageDraw.Draw(img)
    fx, fy = PLACES[d.place]
    r = SIZES[d.size] * big * rng.uniform(0.9, 1.1)
    cx = (fx + rng.uniform(-0.04, 0.04)) * big
    cy = (fy + rng.uniform(-0.04, 0.04)) * big
    colour = COLOURS[d.colour]
    if d.shape == "circle":
        pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    else:
        pen.polygon(_polygon(d.shape, cx, cy, r, rng.uniform(-0.15, 0.15)), fill=colour)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def dataset(n: int, seed: int, pairs: tuple[tuple[str, str], ...] = SEEN) -> tuple[list[Any], list[Drawing]]:
    """``n`` drawn pictures and their drawings from ``seed`` (captions: ``[d.caption() for d in drawings]``)."""
    rng = random.Random(seed)
    drawings = [random_drawing(rng, pairs) for _ in range(n)]
    return [draw(d, rng) for d in drawings], drawings


def parse_prompt(prompt: str) -> tuple[str | None, str | None]:
    """(colour, shape) named in ``prompt`` (``None`` for any it does not name)."""
    words = prompt.lower().replace(",", " ").split()
    colour = next((w for w in words if w in COLOURS), None)
    shape = next((w for w in words if w in SHAPES), None)
    return colour, shape
