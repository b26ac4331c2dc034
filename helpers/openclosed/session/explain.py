"""What you can see inside a model: which words drove a sentiment
prediction (leave-one-word-out occlusion, for any model that returns label
scores), and, per model, what its catalog entry and its kind of access let
you inspect. (Introduced in ``05_cost_privacy_transparency.ipynb``.)

Occlusion is a black-box method: it removes one word at a time, runs the
model again through :func:`openclosed.compare` on every variant, and reports
how much the predicted label's score falls without that word. It works the
same for VADER, MiniLM + logistic regression, a fine-tuned classifier or a
prompted LLM, needs no gradients, and measures the model's behaviour rather
than its internals; words that only matter together (``not good``) show up
weaker than they are. It costs one run per word (a closed model is billed for
each; keep texts short).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from ..catalog.registry import get_model
from ..core.errors import BadInputError, OpenClosedError
from .compare import compare

WORD = re.compile(r"\w+(?:['’]\w+)*")
MAX_WORDS = 60
METHOD = ("leave-one-word-out occlusion: the score of the predicted label with the whole text, minus its score "
          "with that one word removed (positive: the word supported the prediction)")


@dataclass
class Explanation:
    """Word importances for one model's prediction on one text."""

    model: str
    text: str
    label: str
    score: float
    spans: list[tuple[int, int]]  # (start, end) of each word in ``text``
    importance: list[float]
    method: str = METHOD
    notes: list[str] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        return [self.text[a:b] for a, b in self.spans]

    def top(self, k: int = 5):
        """The ``k`` words that moved the prediction most, as a DataFrame."""
        import pandas as pd

        df = pd.DataFrame({"word": self.words, "importance": self.importance})
        return df.reindex(df["importance"].abs().sort_values(ascending=False).index).head(k).reset_index(drop=True)

    def _repr_html_(self) -> str:
        peak = max((abs(v) for v in self.importance), default=0.0) or 1.0
        parts, last = [], 0
        for (a, b), v in zip(self.spans, self.importance):
            parts.append(html.escape(self.text[last:a]))
            alpha = min(1.0, abs(v) / peak) * 0.75
            colour = f"rgba(16,150,72,{alpha:.2f})" if v > 0 else f"rgba(214,39,40,{alpha:.2f})"
            parts.append(f"<span title='{v:+.3f}' style='background:{colour};padding:1px 2px;border-radius:3px'>"
                         f"{html.escape(self.text[a:b])}</span>")
            last = b
        parts.append(html.escape(self.text[last:]))
        notes = "".join(f"<br><i>{html.escape(n)}</i>" for n in self.notes)
        return (f"<div style='margin:4px 0'><b>{html.escape(self.model)}</b> says <b>{html.escape(self.label)}</b> "
                f"(score {self.score:.2f})<div style='font-size:1.1em;line-height:1.9;margin:4px 0'>{''.join(parts)}"
                f"</div><small>green: supported <b>{html.escape(self.label)}</b>, red: spoke against it "
                f"(hover a word for its number). Method: {html.escape(self.method)}.</small>{notes}</div>")

    def __repr__(self) -> str:
        pairs = ", ".join(f"{w}:{v:+.2f}" for w, v in zip(self.words, self.importance))
        return f"<Explanation {self.model} -> {self.label}: {pairs}>"


def explain(model: str, text: str, *, progress: bool = False) -> Explanation:
    """Which words of ``text`` drove ``model``'s sentiment prediction (occlusion).

    Runs ``model`` on ``text`` and on each variant with one word removed (one
    :func:`openclosed.compare` call, cache off so every score is measured now).
    """
    if not isinstance(text, str) or not text.strip():
        raise BadInputError("explain() needs a non-empty text", 'e.g. oc.explain("minilm-lr", "The food was great")')
    spec = get_model(model, "sentiment")
    spans = [m.span() for m in WORD.finditer(text)]
    if not spans:
        raise BadInputError(f"no words in {text!r}", "pass a text with at least one word")
    if len(spans) > MAX_WORDS:
        raise BadInputError(f"the text has {len(spans)} words; occlusion runs the model once per word",
                            f"pass a text of at most {MAX_WORDS} words (one sentence or two)")
    variants = [text] + [_without(text, a, b) for a, b in spans]
    run = compare("sentiment", [spec.name], variants, cache="off", progress=progress)
    full = run.result(spec.name, 0)
    if not full.ok:
        raise OpenClosedError(f"{spec.name!r} could not classify the text: {full.error}", full.error.hint)
    if not full.scores or full.output not in full.scores:
        raise OpenClosedError(f"{spec.name!r} returns a label without per-label scores, so occlusion has nothing "
                              "to measure", "explain a model that reports scores (VADER, minilm-lr, a classifier, "
                              "an open LLM)")
    label, base = full.output, float(full.scores[full.output])
    importance, notes, failed = [], [], 0
    for i in range(1, len(variants)):
        r = run.result(spec.name, i)
        if r.ok and r.scores and label in r.scores:
            importance.append(base - float(r.scores[label]))
        else:
            importance.append(0.0)
            failed += 1
    if failed:
        notes.append(f"{failed} of {len(spans)} variants failed and are shown as 0 (see the run's errors)")
    if full.random_weights or full.stand_in:
        notes.append("random weights: the importances show the method, not what a trained model learned")
    if spec.name == "vader" or spec.backend == "vader":
        notes.append("VADER's scores are the shares of negative / neutral / positive words, not probabilities")
    return Explanation(spec.name, text, label, base, spans, importance, notes=notes)


def _without(text: str, a: int, b: int) -> str:
    out = (text[:a].rstrip() + " " + text[b:].lstrip()).strip()
    return out or "."


ACCESS = {
    "open": ("weights on this machine", "every layer, attention and token probability (oc.load_model, 02b); "
             "gradients; retraining"),
    "served": ("an OpenAI-compatible endpoint you run", "what the server returns (answer, token counts; "
               "token log-probabilities on servers that support them); the weights too, since you host them"),
    "closed": ("the vendor's API only", "answer, token counts, model version string and system_fingerprint; "
               "top log-probabilities of output tokens (chat models, when asked); no weights, no training data"),
}


def transparency(models: list[str]):
    """One row per model: family, licence, revision, size, where it runs and
    what you can inspect (from the catalog entry and its kind of access)."""
    import pandas as pd

    rows = []
    for name in models:
        spec = get_model(name)
        rec = spec.record()
        where, see = ACCESS.get(spec.family, ("", ""))
        rows.append({"model": spec.name, "family": spec.family, "license": rec.get("license") or "-",
                     "revision": spec.revision or "not pinned", "params (M)": rec.get("params_m"),
                     "size (MB)": rec.get("size_mb"), "runs as": where, "what you can inspect": see})
    return pd.DataFrame(rows)


__all__ = ["Explanation", "explain", "transparency"]
