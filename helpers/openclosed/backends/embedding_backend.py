"""Sentence embeddings + logistic regression trained in the kernel on the
bundled training split (a few seconds on CPU)."""

from __future__ import annotations

import threading
import time

from ..loading import load_model
from .base import Item, RunContext, emit_batch, peak_rss

_lock = threading.Lock()


def classifier(spec):
    """The trained (encoder, LogisticRegression) pair for ``spec``; trained once per kernel."""
    loaded = load_model(spec)
    with _lock:
        if "clf" not in loaded.extra:
            from sklearn.linear_model import LogisticRegression

            from ..labelled_data import sentiment_data

            train = sentiment_data("train")
            x = loaded.model.encode(train["text"].tolist(), batch_size=64, show_progress_bar=False,
                                    normalize_embeddings=True)
            clf = LogisticRegression(max_iter=2000, C=4.0, random_state=0).fit(x, train["label"])
            loaded.extra["clf"] = clf
            loaded.extra["n_train"] = len(train)
    return loaded.model, loaded.extra["clf"], loaded.extra["n_train"]


def run(spec, items: list[Item], ctx: RunContext) -> None:
    encoder, clf, n_train = classifier(spec)
    texts = [t for _, t in items]
    limit = encoder.max_seq_length
    with peak_rss() as mem:
        started = time.time()
        # one call with the whole list: encode() sorts by length inside
        x = encoder.encode(texts, batch_size=64, show_progress_bar=False, normalize_embeddings=True)
        probs = clf.predict_proba(x)
        ended = time.time()
    labels = list(clf.classes_)
    outs = []
    tok = encoder.tokenizer
    for (_, text), p in zip(items, probs, strict=True):
        scores = {lab: round(float(v), 4) for lab, v in zip(labels, p, strict=True)}
        best = max(scores, key=scores.get)
        out = {"output": best, "confidence": scores[best], "scores": scores}
        if len(text) > limit * 2 and len(tok(text, verbose=False)["input_ids"]) > limit:
            out["notes"] = [f"truncated to the first {limit} tokens"]
        outs.append(out)
    ctx.extras.setdefault("label_maps", {})[spec.name] = {f"class {lab!r} (trained on our labels)": lab
                                                          for lab in labels}
    emit_batch(spec, ctx, items, outs, started, ended, mem["mb"],
               note=f"logistic regression trained on {n_train} bundled training texts")
