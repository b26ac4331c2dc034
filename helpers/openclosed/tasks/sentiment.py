"""Sentiment analysis: one label (negative / neutral / positive) per text,
with a probability where the model gives one. Evaluation against gold labels
is in :mod:`.sentiment_eval`. (Introduced in ``01_sentiment.ipynb``.)"""

from __future__ import annotations

from .base import SEED, Task

TASK = Task(
    name="sentiment",
    defaults={},
    checks={"seed": SEED},
    input_help="one text per line",
    example="The battery lasts all day, but the screen scratches far too easily.",
    billed_output_tokens=lambda params: 40,
)
