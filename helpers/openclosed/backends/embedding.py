"""Sentence embeddings + logistic regression trained in the kernel on the
bundled training split (a few seconds on CPU). A folder saved by fine-tuning
(``oc.finetune_classifier``) carries its own head in ``sentiment_head.json``,
which is used as it is."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from ..core.settings import Settings
from ..engine.context import Item, RunContext, emit_batch, peak_memory
from ..engine.loaded import Loaded
from .files import model_files

LOCAL = True
_lock = threading.Lock()
HEAD_FILE = "sentiment_head.json"  # a fitted head saved with a fine-tuned encoder: classes, coef, intercept


def load(spec, settings: Settings) -> Loaded:
    """The sentence-transformers encoder (float32: small, and the classifier was fitted on float32 embeddings)."""
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    files = model_files(spec, settings)
    model = SentenceTransformer(files.where, device=settings.device, trust_remote_code=False, **files.kwargs)
    return Loaded(spec, model, folder=files.where, dtype="float32", device=settings.device,
                  load_s=time.perf_counter() - started, random_weights=files.random_weights,
                  stand_in=files.stand_in, notes=[files.note] if files.note else [])


def classifier(loaded: Loaded):
    """The trained (encoder, LogisticRegression) pair; trained once per loaded encoder."""
    with _lock:
        saved = Path(loaded.folder or "") / HEAD_FILE
        if "clf" not in loaded.extra and loaded.folder and saved.is_file():
            loaded.extra["clf"], loaded.extra["n_train"] = _saved_head(saved)
            loaded.extra["head"] = str(saved)
        if "clf" not in loaded.extra:
            from sklearn.linear_model import LogisticRegression

            from ..core.labelled_data import sentiment_data

            train = sentiment_data("train")
            x = loaded.model.encode(train["text"].tolist(), batch_size=64, show_progress_bar=False,
                                    normalize_embeddings=True)
            clf = LogisticRegression(max_iter=2000, C=4.0, random_state=0).fit(x, train["label"])
            loaded.extra["clf"] = clf
            loaded.extra["n_train"] = len(train)
    return loaded.model, loaded.extra["clf"], loaded.extra["n_train"]


def _saved_head(path: Path):
    """(LogisticRegression, texts it was fitted on) from a head saved as JSON."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    data = json.loads(path.read_text(encoding="utf-8"))
    clf = LogisticRegression()
    clf.classes_ = np.array(data["classes"])
    clf.coef_ = np.array(data["coef"], dtype=float)
    clf.intercept_ = np.array(data["intercept"], dtype=float)
    return clf, int(data.get("n_train", 0))


def run(loaded: Loaded, items: list[Item], ctx: RunContext) -> None:
    encoder, clf, n_train = classifier(loaded)
    texts = [t for _, t in items]
    limit = encoder.max_seq_length
    with peak_memory(loaded.device) as mem:
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
    ctx.label_map = {f"class {lab!r} (trained on our labels)": lab for lab in labels}
    emit_batch(ctx, items, outs, started, ended, mem["mb"],
               note=f"logistic regression trained on {n_train} "
               + ("texts, saved with the fine-tuned encoder" if "head" in loaded.extra else "bundled training texts"))
