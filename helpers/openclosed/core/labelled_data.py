"""The bundled labelled sentiment data, and public datasets through Hugging
Face ``datasets`` when the Hub can be reached. (Used in ``01_sentiment.ipynb``.)"""

from __future__ import annotations

from importlib import resources

from .errors import OpenClosedError
from .machine import hub_reachable

_PUBLIC = {
    # name: (hub dataset, config, split, text column, label column, label names)
    "sst2": ("stanfordnlp/sst2", None, "validation", "sentence", "label", ("negative", "positive")),
    "imdb": ("stanfordnlp/imdb", None, "test", "text", "label", ("negative", "positive")),
    "tweet_eval": ("cardiffnlp/tweet_eval", "sentiment", "test", "text", "label", ("negative", "neutral", "positive")),
}


def sentiment_data(split: str | None = None, domain: str | None = None):
    """The project's own labelled texts (see ``data/DATA_CARD.md``) as a
    DataFrame with ``id, domain, text, label, split``."""
    import pandas as pd

    with resources.files("openclosed").joinpath("data/sentiment.csv").open("r", encoding="utf-8") as f:
        df = pd.read_csv(f)
    if split is not None:
        if split not in ("train", "test"):
            raise OpenClosedError(f"unknown split {split!r}", "use 'train' or 'test'")
        df = df[df["split"] == split]
    if domain is not None:
        domains = sorted(df["domain"].unique())
        if domain not in domains:
            raise OpenClosedError(f"unknown domain {domain!r}", f"use one of {', '.join(domains)}")
        df = df[df["domain"] == domain]
    return df.reset_index(drop=True)


def load_dataset(name: str, limit: int | None = 500, seed: int = 0):
    """A public sentiment dataset (``sst2``, ``imdb``, ``tweet_eval``) as a
    DataFrame with ``text`` and ``label`` (negative/neutral/positive).
    ``"bundled"`` returns the project's own test split, offline."""
    if name == "bundled":
        return sentiment_data("test")[["text", "label", "domain"]]
    if name not in _PUBLIC:
        raise OpenClosedError(f"unknown dataset {name!r}", f"use 'bundled' or one of {', '.join(_PUBLIC)}")
    repo, config, split, text_col, label_col, names = _PUBLIC[name]
    try:
        import datasets
    except ImportError as exc:
        raise OpenClosedError("the 'datasets' package is not installed", "pip install datasets") from exc
    try:
        ds = datasets.load_dataset(repo, config, split=split)
    except Exception as exc:
        reach = "" if hub_reachable() else " (the Hugging Face Hub cannot be reached from here)"
        raise OpenClosedError(
            f"could not load {repo!r}{reach}: {type(exc).__name__}",
            "use oc.load_dataset('bundled') for the offline data, or download it once where the Hub is reachable",
        ) from exc
    if limit is not None and len(ds) > limit:
        ds = ds.shuffle(seed=seed).select(range(limit))
    df = ds.to_pandas()
    return df.assign(text=df[text_col], label=[names[i] for i in df[label_col]])[["text", "label"]]
