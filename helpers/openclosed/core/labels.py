"""Sentiment labels: every model's own label set maps onto
negative / neutral / positive, and the mapping is recorded in the manifest.
The zero-shot prompt is shared by open LLMs and closed APIs, so both are asked
exactly the same question. (Introduced in ``01_sentiment.ipynb``.)"""

from __future__ import annotations

import re

LABELS = ("negative", "neutral", "positive")

_ALIASES = {
    "negative": "negative", "neg": "negative", "bad": "negative", "1 star": "negative", "2 stars": "negative",
    "neutral": "neutral", "neu": "neutral", "mixed": "neutral", "3 stars": "neutral",
    "positive": "positive", "pos": "positive", "good": "positive", "4 stars": "positive", "5 stars": "positive",
}

ZERO_SHOT_SYSTEM = "You are a careful annotator. You label the sentiment of texts."
ZERO_SHOT_TEMPLATE = (
    "What is the sentiment of the following text? Answer with exactly one word: negative, neutral or positive.\n\n"
    "Text: {text}"
)


def zero_shot_messages(text: str) -> list[dict[str, str]]:
    """The chat messages used to ask any LLM for a sentiment label."""
    return [{"role": "system", "content": ZERO_SHOT_SYSTEM},
            {"role": "user", "content": ZERO_SHOT_TEMPLATE.format(text=text)}]


def map_label(raw: str, n_labels: int | None = None, index: int | None = None) -> str:
    """Map a model's label (``POSITIVE``, ``LABEL_0``, ``4 stars``...) onto
    negative/neutral/positive. ``LABEL_i`` uses the label count: 2 -> neg/pos,
    3 -> neg/neu/pos."""
    key = str(raw).strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    m = re.fullmatch(r"label_(\d+)", key)
    if m and n_labels in (2, 3):
        i = int(m.group(1))
        return ("negative", "positive")[i] if n_labels == 2 else LABELS[i]
    raise ValueError(f"cannot map label {raw!r} onto {LABELS}; register the model with a label_map")


def label_map(id2label: dict[int, str]) -> dict[str, str]:
    """``{model label: our label}`` for a classifier's ``id2label``."""
    return {lab: map_label(lab, len(id2label)) for _, lab in sorted(id2label.items())}


_LABEL_WORD = re.compile(r"\b(negative|neutral|positive|mixed|neg|neu|pos)\b", re.IGNORECASE)


def first_label(text: str) -> str | None:
    """The first label word in a free-text answer (``"Positive."`` -> positive), or None."""
    m = _LABEL_WORD.search(text or "")
    return map_label(m.group(1)) if m else None


def exact_label(text: str) -> str | None:
    """The label when the answer is exactly one label word (case, spaces and a final full stop forgiven), else None:
    what "answered in the right format" means."""
    key = (text or "").strip().rstrip(".").strip().lower()
    return key if key in LABELS else None


FEW_SHOT_TEMPLATE = (
    "Label the sentiment of the last text. Answer with exactly one word: negative, neutral or positive.\n\n"
    "{examples}Text: {text}\nSentiment:"
)


def few_shot_messages(text: str, examples: list[tuple[str, str]] = ()) -> list[dict[str, str]]:
    """The chat messages asking for a sentiment label after ``examples`` ((text, label) pairs); with no
    examples this is :func:`zero_shot_messages`, so k = 0 is exactly the zero-shot question."""
    if not examples:
        return zero_shot_messages(text)
    shots = "".join(f"Text: {t}\nSentiment: {lab}\n\n" for t, lab in examples)
    return [{"role": "system", "content": ZERO_SHOT_SYSTEM},
            {"role": "user", "content": FEW_SHOT_TEMPLATE.format(examples=shots, text=text)}]
