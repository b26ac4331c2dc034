"""The bundled labelled sentiment data (``sentiment.csv``: three domains,
three labels; ``review_lines.csv``: short lines from film reviews), and public
datasets through Hugging Face ``datasets`` when the Hub can be reached. (Used
in ``01_sentiment.ipynb`` and ``04_customize.ipynb``.)"""

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


def _bundled(file: str, split: str | None, splits: tuple[str, ...] = ("train", "test")):
    import pandas as pd

    if split is not None and split not in splits:
        raise OpenClosedError(f"unknown split {split!r}",
                              f"use {' or '.join(map(repr, splits))} (or no split for all of them)")
    with resources.files("openclosed").joinpath(f"data/{file}").open("r", encoding="utf-8") as f:
        df = pd.read_csv(f)
    return df if split is None else df[df["split"] == split]


def sentiment_data(split: str | None = None, domain: str | None = None):
    """The project's own labelled texts (see ``data/DATA_CARD.md``) as a
    DataFrame with ``id, domain, text, label, split``."""
    df = _bundled("sentiment.csv", split)
    if domain is not None:
        domains = sorted(df["domain"].unique())
        if domain not in domains:
            raise OpenClosedError(f"unknown domain {domain!r}", f"use one of {', '.join(domains)}")
        df = df[df["domain"] == domain]
    return df.reset_index(drop=True)


REVIEW_LINE_SPLITS = ("train", "validation", "test")


def review_lines(split: str | None = None):
    """Short lines from film reviews, written for the project (see
    ``data/DATA_CARD.md``), as a DataFrame with ``id, domain, text, label,
    split, writer`` (``domain`` is ``"review line"``; ``writer`` names who
    wrote the line, and no writer is in two splits). The training split has
    all three labels; the validation split (for choosing a recipe) and the
    test split (scored once) only ``positive`` and ``negative``, for two-way
    accuracy (``Evaluation.two_way``) like public movie-review benchmarks."""
    return _bundled("review_lines.csv", split, REVIEW_LINE_SPLITS).reset_index(drop=True)


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
