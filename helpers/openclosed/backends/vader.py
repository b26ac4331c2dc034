"""VADER, a rule-based lexicon: no training, no weights, microseconds a text."""

from __future__ import annotations

import time

from ..core.settings import Settings
from ..engine.context import Item, RunContext, emit_batch
from ..engine.loaded import Loaded

LOCAL = True
THRESHOLD = 0.05  # the thresholds recommended by VADER's authors
LONG = 2000  # characters: past this, the result says VADER read the whole text (the neural models truncate)


def load(spec, settings: Settings) -> Loaded:  # noqa: ARG001 - same interface as every backend
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    started = time.perf_counter()
    return Loaded(spec, SentimentIntensityAnalyzer(), folder="vaderSentiment package",
                  load_s=time.perf_counter() - started)


def run(loaded: Loaded, items: list[Item], ctx: RunContext) -> None:
    analyzer = loaded.model
    started = time.time()
    outs = []
    for _, text in items:
        s = analyzer.polarity_scores(text)
        c = s["compound"]
        label = "positive" if c >= THRESHOLD else "negative" if c <= -THRESHOLD else "neutral"
        outs.append({"output": label, "confidence": round(abs(c) if label != "neutral" else 1 - abs(c), 4),
                     "scores": {"negative": s["neg"], "neutral": s["neu"], "positive": s["pos"]},
                     "notes": [f"no truncation: VADER reads all {len(text)} characters"] if len(text) > LONG else []})
    ctx.label_map = {f"compound >= {THRESHOLD}": "positive", f"-{THRESHOLD} < compound < {THRESHOLD}": "neutral",
                     f"compound <= -{THRESHOLD}": "negative"}
    emit_batch(ctx, items, outs, started, time.time(), None,
               note=f"compound >= {THRESHOLD} positive, <= -{THRESHOLD} negative")
