"""A small CNN that says which shape and which colour a 32x32 picture shows:
the judge of prompt adherence for the mini Stable Diffusion (notebook 03).

It is trained on freshly drawn pictures of *every* colour + shape pair (the
pairs held out from the image model's training included), drawn from seeds the
image model never saw, with blur and noise so slightly soft generated pictures
still read. Seeded: the same weights on every machine (float32, one thread).
The committed weights (``data/shape_classifier.safetensors``) came from::

    python -m openclosed.catalog.shape_classifier --out helpers/openclosed/data/shape_classifier.safetensors
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

from . import shapes

TRAIN_SEED = 1001
TEST_SEED = 2002
WEIGHTS = Path(__file__).resolve().parent.parent / "data" / "shape_classifier.safetensors"
SHAPE_NAMES = shapes.SHAPES
COLOUR_NAMES = tuple(shapes.COLOURS)
ALL_PAIRS = tuple((c, s) for c in COLOUR_NAMES for s in SHAPE_NAMES)
CHANCE = 1 / len(ALL_PAIRS)
"""The share a judge guessing uniformly would call a match: one colour + shape pair in 24."""
UNSURE_BELOW = 0.5
"""A reading is "unsure" when the classifier gives its best shape or its best colour less than even odds
(softmax probability below this). Fixed in advance, not tuned on generated pictures; on fresh clean drawings
fewer than 1% fall below it. The softmax of a network never trained on garbage can still be confident about
garbage: "unsure" catches ambiguous pictures, not every unreadable one."""


def build(seed: int = 0) -> Any:
    """The network: three conv blocks, then one head for the shape and one for the colour."""
    import torch
    from torch import nn

    torch.manual_seed(seed)

    class ShapeColourNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
            )
            self.shape = nn.Linear(64, len(SHAPE_NAMES))
            self.colour = nn.Linear(64, len(COLOUR_NAMES))

        def forward(self, x):
            h = self.body(x)
            return self.shape(h), self.colour(h)

    return ShapeColourNet()


def _tensor(images: list[Any]) -> Any:
    import numpy as np
    import torch

    arr = np.stack([np.asarray(im.convert("RGB").resize((shapes.SIZE, shapes.SIZE)), dtype=np.float32)
                    for im in images]) / 255.0
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def _soften(images: list[Any], rng: random.Random) -> list[Any]:
    """Blur some pictures a little, as a decoder's output is."""
    from PIL import ImageFilter

    return [im.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0))) if rng.random() < 0.5 else im for im in images]


def labelled(n: int, seed: int, pairs=ALL_PAIRS) -> tuple[Any, Any, Any, list[shapes.Drawing]]:
    """``n`` drawn pictures from ``seed`` as (pixels, shape ids, colour ids, drawings)."""
    import torch

    images, drawings = shapes.dataset(n, seed, pairs)
    images = _soften(images, random.Random(seed))
    return (_tensor(images), torch.tensor([SHAPE_NAMES.index(d.shape) for d in drawings]),
            torch.tensor([COLOUR_NAMES.index(d.colour) for d in drawings]), drawings)


def train(n: int = 3000, steps: int = 600, seed: int = 0, progress: bool = True) -> tuple[Any, list[float]]:
    """Train on ``n`` pictures drawn from :data:`TRAIN_SEED` (+``seed``); returns (network, losses)."""
    import torch
    from tqdm.auto import tqdm

    x, ys, yc, _ = labelled(n, TRAIN_SEED + seed)
    net = build(seed)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    losses = []
    net.train()
    for _ in tqdm(range(steps), desc="shape classifier", disable=not progress, mininterval=2):
        idx = torch.randint(0, n, (64,), generator=g)
        xb = x[idx] + 0.03 * torch.randn(x[idx].shape, generator=g)
        s, c = net(xb)
        loss = torch.nn.functional.cross_entropy(s, ys[idx]) + torch.nn.functional.cross_entropy(c, yc[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return net.eval(), losses


def load(path: Path = WEIGHTS) -> Any:
    """The committed classifier (or the one saved at ``path``)."""
    from safetensors.torch import load_file

    net = build()
    net.load_state_dict(load_file(str(path)))
    return net.eval()


def predict(net: Any, images: list[Any]) -> list[tuple[str, str]]:
    """(colour, shape) the classifier reads in each PIL picture (any size: resized to 32x32)."""
    import torch

    if not images:
        return []
    with torch.no_grad():
        s, c = net(_tensor(images))
    return [(COLOUR_NAMES[int(ci)], SHAPE_NAMES[int(si)]) for si, ci in zip(s.argmax(1), c.argmax(1))]


def read(net: Any, images: list[Any], unsure_below: float = UNSURE_BELOW) -> list[tuple[str, str, float, bool]]:
    """Per PIL picture: (colour, shape, confidence, unsure). ``confidence`` is the smaller of the best shape's and
    the best colour's softmax probability; ``unsure`` is ``confidence < unsure_below``."""
    import torch

    if not images:
        return []
    with torch.no_grad():
        s, c = net(_tensor(images))
    ps, pc = s.softmax(1), c.softmax(1)
    out = []
    for i in range(len(images)):
        si, ci = int(ps[i].argmax()), int(pc[i].argmax())
        conf = float(min(ps[i, si], pc[i, ci]))
        out.append((COLOUR_NAMES[ci], SHAPE_NAMES[si], conf, conf < unsure_below))
    return out


def accuracy(net: Any, n: int = 600, seed: int = TEST_SEED) -> dict[str, float]:
    """Share of freshly drawn pictures (every pair, seed ``seed``) whose shape, colour, and both are read right."""
    import torch

    x, ys, yc, _ = labelled(n, seed)
    with torch.no_grad():
        s, c = net(x)
    shape_ok, colour_ok = s.argmax(1) == ys, c.argmax(1) == yc
    return {"shape": shape_ok.float().mean().item(), "colour": colour_ok.float().mean().item(),
            "both": (shape_ok & colour_ok).float().mean().item()}


def main(argv: list[str] | None = None) -> None:
    from safetensors.torch import save_file

    ap = argparse.ArgumentParser(description="Train the shape + colour classifier that judges prompt adherence.")
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    net, losses = train(seed=args.seed)
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}; on fresh drawings: {accuracy(net)}")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(args.out))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
