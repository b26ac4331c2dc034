"""Check the adherence judge against a person: a sample of mini-sd pictures labelled by eye.

``--draw`` makes the sample: every colour + shape pair (seen and held out) drawn twice by mini-sd, once with the
preset's settings (seed 7, wordings rotating as in ``oc.adherence_prompts``) and once as a rough draft (5 steps,
seed 8, so some pictures are poor), saved as PNGs that carry their parameters, and a contact sheet that shows them
numbered and enlarged with **no caption** (the labeller does not see what was asked)::

    python benchmarks/judge_sample.py --draw

Then a person fills ``labels.csv`` (colour and shape seen, or ``unreadable``) from the contact sheet, and::

    python benchmarks/judge_sample.py --score

compares the judge with the hand labels (``openclosed.tasks.image_adherence.hand_label_agreement``) and writes
``benchmarks/results/judge_agreement.json`` through the shared writer (``results_file.write_results``: the
agreement under ``"results"``; commit, machine, the judge's dtype, date and command beside it).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from results_file import write_results  # benchmarks/ is the script's own folder

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "results" / "judge_agreement.json"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENCLOSED_CACHE_DIR", str(ROOT / ".cache" / "openclosed"))

DRAWS = ({"seed": 7}, {"seed": 8, "steps": 5})
"""The two draws per pair: the preset's settings, and a rough draft."""
JUDGE_DTYPE = "float32"
"""The shape classifier judges in float32 on every machine (``openclosed.catalog.shape_classifier``)."""


def draw(folder: Path) -> None:
    import openclosed as oc
    from openclosed.catalog import shapes
    from openclosed.engine.images import save_png

    oc.setup(verbose=False)
    test = oc.adherence_prompts(3, split="test")
    pairs = [(c, s) for c in shapes.COLOURS for s in shapes.SHAPES]
    folder.mkdir(parents=True, exist_ok=True)
    files, n = [], 0
    for d, params in enumerate(DRAWS):
        prompts = [test[3 * j + (j + d) % 3] for j in range(len(pairs))]
        run = oc.compare("image-generation", ["mini-sd"], prompts, cache="off", **params)
        for r in run.results:
            if r.error:
                raise SystemExit(f"mini-sd failed: {r.error}")
            path = folder / f"{n:02d}.png"
            save_png(r.image, path, run.image_meta(r))
            files.append(path)
            n += 1
    contact_sheet(files).save(folder / "contact_sheet.png")
    print(f"{n} pictures and contact_sheet.png in {folder}")


def contact_sheet(files: list[Path], px: int = 128, per_row: int = 8):
    """The pictures enlarged (nearest neighbour: no smoothing invented) and numbered, with no caption."""
    from PIL import Image, ImageDraw

    rows = (len(files) + per_row - 1) // per_row
    sheet = Image.new("RGB", (per_row * (px + 8), rows * (px + 24)), (255, 255, 255))
    pen = ImageDraw.Draw(sheet)
    for i, f in enumerate(files):
        x, y = (i % per_row) * (px + 8), (i // per_row) * (px + 24)
        with Image.open(f) as im:
            sheet.paste(im.convert("RGB").resize((px, px), Image.Resampling.NEAREST), (x + 4, y + 20))
        pen.text((x + 4, y + 4), f"{i:02d}", fill=(0, 0, 0))
    return sheet


def score(folder: Path, out: Path) -> dict:
    import openclosed as oc
    from openclosed.engine.images import read_png_meta
    from openclosed.tasks.image_adherence import hand_label_agreement

    settings = oc.setup(verbose=False)
    agreement = hand_label_agreement(folder)
    drawn = sorted({read_png_meta(f).get("dtype", "unknown") for f in folder.glob("[0-9][0-9].png")})
    result = {**agreement, "folder": str(folder.relative_to(ROOT)), "pictures_dtype": ", ".join(drawn),
              "drawn_in": "see each PNG's metadata (dtype, device, seed, steps)", "device": settings.device}
    path = write_results(out.stem, result, dtype=JUDGE_DTYPE, folder=out.parent)
    print(json.dumps({k: v for k, v in result.items() if k != "disagreements"}, indent=2))
    for d in result["disagreements"]:
        print("  disagree:", d)
    return json.loads(path.read_text(encoding="utf-8"))


def main() -> None:
    from openclosed.tasks.image_adherence import HAND_LABELS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draw", action="store_true", help="draw the sample and its contact sheet")
    ap.add_argument("--score", action="store_true", help="compare the judge with the hand labels")
    ap.add_argument("--folder", default=str(HAND_LABELS))
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    if not (args.draw or args.score):
        ap.error("pass --draw, --score or both")
    if args.draw:
        draw(Path(args.folder))
    if args.score:
        score(Path(args.folder).resolve(), Path(args.out))


if __name__ == "__main__":
    main()
