"""Trained folders kept by their recipe, so training with the same recipe twice
costs one training: a rerun of notebook 04, or a second kernel (another
notebook, the test suite's second pass) that asks for the same fine-tuned
model, copies the folder the first one trained instead of training again.

The recipe is everything that decides the weights: the method and its
hyper-parameters, the seed, the base model's identity, a hash of the training
texts and labels, the device, the versions of the libraries that train, and a
hash of the training code itself (so a change to it trains afresh). Threads
are left out: they change the last bits of the floats, not the recipe. The
folder kept says when and how it was trained (its ``training.json``).

Two processes asking for the same recipe at once train it once: the second
waits on a file lock and then copies. ``retrain=True`` always trains.
(Introduced in ``04_customize.ipynb``.)
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

KEEP_DIR = "trained"


def recipe_key(recipe: dict[str, Any]) -> str:
    """A short, stable hash of ``recipe`` (JSON-serialisable, key order ignored)."""
    text = json.dumps(recipe, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def data_hash(texts: list[str], labels: list[str]) -> str:
    """A hash of the training pairs, in order (order decides the batches a seed makes)."""
    h = hashlib.sha256()
    for t, y in zip(texts, labels, strict=True):
        h.update(t.encode("utf-8") + b"\x1f" + str(y).encode("utf-8") + b"\x1e")
    return h.hexdigest()[:16]


def source_hash(*files: str | Path) -> str:
    """A hash of the training code (module files), so editing it invalidates what it trained."""
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


def trained_once(cache_dir: Path, kind: str, recipe: dict[str, Any], out: str | Path,
                 train: Callable[[Path], Any], *, retrain: bool = False) -> tuple[Path, str | None]:
    """Make ``out`` hold what ``train(out)`` trains for ``recipe``.

    Returns ``(out, kept)``: ``kept`` is the folder the result was copied from when the same recipe had been
    trained before (nothing trained now), else None (``train`` ran and its folder was kept for next time).
    """
    from filelock import FileLock

    key = f"{kind}-{recipe_key(recipe)}"
    root = Path(cache_dir) / KEEP_DIR
    root.mkdir(parents=True, exist_ok=True)
    kept = root / key
    out = Path(out)
    with FileLock(str(root / f"{key}.lock")):
        if kept.is_dir() and not retrain:
            _replace(kept, out)
            return out, str(kept)
        train(out)
        (out / "recipe.json").write_text(json.dumps(recipe, indent=1, sort_keys=True, default=str), encoding="utf-8")
        _replace(out, kept)
    return out, None


def _replace(src: Path, dst: Path) -> None:
    """``dst`` becomes a copy of ``src`` (written beside it, then renamed into place)."""
    if src.resolve() == dst.resolve():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
