"""Fine-tuning an open encoder on labelled texts, on the CPU, in minutes,
two ways, each with train and validation accuracy after every epoch so
overfitting shows, and a run record (seeds, data split, hyper-parameters,
losses, time) saved next to the weights:

* :func:`train_encoder`: the sentence-transformers encoder
  (mean pooling, as it was pre-trained) is trained with sentence-transformers'
  own trainer, by cross-entropy through a linear head (``objective="labels"``)
  or a contrastive loss (``"triplet"``), then a logistic-regression head is
  fitted on the new embeddings and saved with it (``sentiment_head.json``,
  read by the ``embedding`` backend). Only the contrastive objective is close
  to SetFit (which trains the encoder on pairs, then fits a head); the
  default, cross-entropy through a head, is plain supervised fine-tuning.
* :func:`train_classifier`: a new classification head on the encoder's
  first-token output (``AutoModelForSequenceClassification``) trained with
  cross-entropy (``transformers.Trainer``).

:func:`train_head_only` is their like-for-like baseline: the same head fitted
on the same texts, the encoder untouched.

Both can keep the word-embedding table frozen (``freeze_embeddings``): half
of MiniLM's weights, whose gradients and optimizer updates are most of the
training time. Whether to, and the epochs and learning rate, are the
recipe ``oc.finetune_classifier`` ships: chosen on review lines written
separately from the training lines (their ``validation`` split) by
``benchmarks/choose_finetune_recipe.py``, which records every candidate's
score in ``benchmarks/results/finetune_recipe.json``. (Introduced in
``04_customize.ipynb``; ``oc.finetune_classifier`` calls them.)

The curves' validation texts are carved out of the training texts
(stratified, with the seed): the test split is never looked at while
training, so reading epochs off the curve does not leak the test set into
the model.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..backends.embedding import HEAD_FILE
from ..core.errors import BadInputError, BadParameterError
from ..core.labels import LABELS
from ..core.settings import Settings, package_versions
from .sentiment_eval import _gold

RECORD_FILE = "training.json"
HEAD_LR_FACTOR = 10  # the new linear head learns this much faster than the pre-trained encoder
LOGIT_SCALE = 20.0  # normalised embeddings: the head's logits scaled as a cosine classifier's
TRAIN_SCORED = 256  # training texts scored after each epoch for the train curve (a seeded sample when more)


@dataclass
class TrainingRun:
    """What a fine-tuning run did, saved as ``training.json`` in its folder.

    ``history``: one row per logged step (``loss``) and per epoch
    (``train accuracy``, ``validation accuracy``), as
    :meth:`curves` shows; ``trainable`` / ``total``: parameter counts;
    ``train_s``: seconds spent in the training loop (evaluation included).
    """

    method: str
    base_model: str
    base_files: str
    folder: str
    seed: int
    hyperparameters: dict[str, Any]
    data: dict[str, Any]
    trainable: int = 0
    total: int = 0
    train_s: float = 0.0
    size_mb: float = 0.0
    device: str = "cpu"
    dtype: str = "float32"
    threads: int = 1
    versions: dict[str, str] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    reused_from: str | None = None  # the kept folder this was copied from, when the same recipe was trained before
    recipe: str | None = None  # the hash of the recipe (engine.trainedcache.recipe_key): same recipe, same weights

    def save(self) -> Path:
        """Write ``training.json`` into the run's folder (the run manifest)."""
        path = Path(self.folder) / RECORD_FILE
        path.write_text(json.dumps(asdict(self), indent=1, default=str), encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> TrainingRun:
        """The record saved in ``folder``."""
        return cls(**json.loads((Path(folder) / RECORD_FILE).read_text(encoding="utf-8")))

    def curves(self):
        """The history as a DataFrame: ``step, epoch, loss, train accuracy, validation accuracy``."""
        import pandas as pd

        return pd.DataFrame(self.history)

    def summary(self) -> str:
        """One paragraph for people: what was trained, how long, how well."""
        last = {}
        for row in self.history:
            last.update({k: v for k, v in row.items() if v is not None})
        acc = ", ".join(f"{k} {last[k]:.2f}" for k in ("train accuracy", "validation accuracy") if k in last)
        share = self.trainable / self.total if self.total else 0
        reused = (" Reused: the same recipe was trained before and kept; oc.finetune_*(..., retrain=True) trains "
                  "it again. " if self.reused_from else "")
        return (reused + f"{self.method} of {self.base_model}: {self.hyperparameters.get('epochs')} epochs on "
                f"{self.data.get('train')} texts in {self.train_s:.0f} s ({self.threads} CPU threads, {self.device}); "
                f"{self.trainable:,} of {self.total:,} parameters trained ({share:.1%}); saved {self.size_mb:.1f} MB"
                + (f"; {acc}" if acc else ""))

    def _repr_markdown_(self) -> str:
        return self.summary()


def labelled(data: Any, what: str = "data"):
    """``data`` (a DataFrame with ``text`` and ``label`` columns, or a path to
    such a CSV) checked and cleaned: labels lower-cased, empty texts refused."""
    import pandas as pd

    if isinstance(data, (str, Path)):
        path = Path(data).expanduser()
        if not path.is_file():
            raise BadInputError(f"no CSV file at {path}", "pass a CSV with 'text' and 'label' columns, or a DataFrame")
        data = pd.read_csv(path)
    if not isinstance(data, pd.DataFrame) or not {"text", "label"} <= set(data.columns):
        cols = list(data.columns) if isinstance(data, pd.DataFrame) else type(data).__name__
        raise BadInputError(f"{what} needs 'text' and 'label' columns (got {cols})",
                            "e.g. oc.sentiment_data('train'), or a CSV with a text column and a label column")
    if len(data) == 0:
        raise BadInputError(f"{what} has no rows", "pass at least a few labelled texts per label")
    texts = data["text"]
    empty = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if empty:
        raise BadInputError(f"{what} has {len(empty)} empty or non-text rows (first at row {empty[0]})",
                            "drop them first, e.g. data = data[data['text'].str.strip() != '']")
    out = data.reset_index(drop=True).copy()
    out["label"] = _gold(out["label"], len(out), f"{what} labels")
    return out


def check_training_settings(whole: tuple[tuple[str, Any, int], ...], learning_rate: Any, lr_hint: str,
                            example_factor: int = 4) -> None:
    """Refuse bad hyper-parameters before any training: each ``(name, value, lowest)`` of ``whole`` must be a
    whole number >= lowest, and ``learning_rate`` a number in (0, 1)."""
    for pname, value, low in whole:
        if not isinstance(value, int) or value < low:
            raise BadParameterError(f"{pname}={value!r} must be a whole number >= {low}",
                                    f"e.g. {pname}={low * example_factor}")
    if not (isinstance(learning_rate, (int, float)) and 0 < learning_rate < 1):
        raise BadParameterError(f"learning_rate={learning_rate!r} is not a learning rate", lr_hint)


def split_validation(train, share: float, seed: int):
    """(train, validation): ``share`` of the training texts held out, stratified by label (and domain if given)."""
    from sklearn.model_selection import train_test_split

    if not 0 <= share < 0.9:
        raise BadParameterError(f"validation={share!r} must be a share of the training texts in [0, 0.9)",
                                "e.g. validation=0.2 holds out a fifth for the curves; 0 turns the curve off")
    if share == 0:
        return train, train.iloc[0:0]
    strata = train["label"] + ("/" + train["domain"] if "domain" in train.columns else "")
    if strata.value_counts().min() < 2:
        strata = train["label"]
    tr, va = train_test_split(train, test_size=share, random_state=seed, stratify=strata)
    return tr.reset_index(drop=True), va.reset_index(drop=True)


def folder_size_mb(folder: str | Path) -> float:
    """Size of the weight files in ``folder`` (safetensors / bin), MB."""
    files = [p for p in Path(folder).rglob("*") if p.suffix in (".safetensors", ".bin")]
    return sum(p.stat().st_size for p in files) / 1e6


class _Recorder:
    """A ``TrainerCallback`` that keeps the losses and accuracies, and hands each row to ``on_log``."""

    def __new__(cls, history: list, on_log: Callable | None):
        from transformers import TrainerCallback

        class Recorder(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ARG002
                logs = logs or {}
                row = {"step": state.global_step, "epoch": round(float(state.epoch or 0), 3)}
                if "loss" in logs:
                    row["loss"] = float(logs["loss"])
                for split in ("train", "validation"):
                    if f"eval_{split}_accuracy" in logs:
                        row[f"{split} accuracy"] = float(logs[f"eval_{split}_accuracy"])
                        row[f"{split} loss"] = float(logs[f"eval_{split}_loss"])
                if len(row) > 2:
                    history.append(row)
                    if on_log is not None:
                        on_log(row)

        return Recorder()


def _accuracy(pred) -> dict[str, float]:
    import numpy as np

    return {"accuracy": float((np.argmax(pred.predictions, axis=-1) == pred.label_ids).mean())}


def train_classifier(
    base_name: str,
    base_folder: str,
    train,
    out: str | Path,
    settings: Settings,
    *,
    epochs: int = 4,
    learning_rate: float = 1e-4,
    batch_size: int = 16,
    max_length: int = 128,
    validation: float = 0.2,
    freeze_embeddings: bool = True,
    seed: int = 0,
    on_log: Callable[[dict], None] | None = None,
) -> TrainingRun:
    """Put a fresh 3-label classification head on the encoder in
    ``base_folder`` and train its weights (all but the word embeddings when
    ``freeze_embeddings``) on ``train`` (``text``, ``label``). The train
    curve scores at most :data:`TRAIN_SCORED` training texts (a seeded
    sample). Saves the model, its tokenizer and ``training.json`` in ``out``
    (replaced if it exists) and returns the :class:`TrainingRun`."""
    import datasets
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments, set_seed)
    from transformers.utils import logging as hf_logging

    check_training_settings((("epochs", epochs, 1), ("batch_size", batch_size, 1), ("max_length", max_length, 8)),
                            learning_rate, "use a small positive number, e.g. learning_rate=1e-4")
    train = labelled(train, "training data")
    tr, va = split_validation(train, validation, seed)
    set_seed(seed)
    ids = {lab: i for i, lab in enumerate(LABELS)}
    tok = AutoTokenizer.from_pretrained(base_folder)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "some weights were newly initialised": the head, on purpose
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            base_folder, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id=ids,
            ignore_mismatched_sizes=True)  # a base that already has a head gets a new 3-label one
    finally:
        hf_logging.set_verbosity(verbosity)

    def encode(df):
        ds = datasets.Dataset.from_dict({"text": df["text"].tolist(), "label": [ids[v] for v in df["label"]]})
        return ds.map(lambda b: tok(b["text"], truncation=True, max_length=max_length), batched=True,
                      remove_columns=["text"])

    out = Path(out).expanduser().resolve()
    work = out.with_name(out.name + ".trainer")
    train_ds = encode(tr)
    scored = train_ds if len(tr) <= TRAIN_SCORED else train_ds.shuffle(seed=seed).select(range(TRAIN_SCORED))
    evals = {"train": scored} | ({"validation": encode(va)} if len(va) else {})
    if freeze_embeddings:
        model.base_model.get_input_embeddings().weight.requires_grad_(False)
    args = TrainingArguments(
        output_dir=str(work), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=64, learning_rate=learning_rate, weight_decay=0.01, warmup_steps=0.1,
        logging_steps=max(1, len(tr) // batch_size // 4), eval_strategy="epoch", save_strategy="no",
        report_to="none", seed=seed, data_seed=seed, use_cpu=settings.device == "cpu", dataloader_num_workers=0,
        train_sampling_strategy="group_by_length", disable_tqdm=False)
    history: list[dict] = []
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=evals,
                      data_collator=DataCollatorWithPadding(tok), compute_metrics=_accuracy,
                      callbacks=[_Recorder(history, on_log)])
    started = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - started
    if out.exists():
        shutil.rmtree(out)
    trainer.save_model(str(out))
    tok.save_pretrained(str(out))
    shutil.rmtree(work, ignore_errors=True)
    n_params = sum(p.numel() for p in model.parameters())
    run = TrainingRun(
        method="fine-tuning with a new classification head", base_model=base_name, base_files=str(base_folder),
        folder=str(out), seed=seed,
        hyperparameters={"epochs": epochs, "learning_rate": learning_rate, "batch_size": batch_size,
                         "max_length": max_length, "weight_decay": 0.01, "warmup": 0.1, "optimizer": "adamw_torch",
                         "word_embeddings": "frozen" if freeze_embeddings else "trained"},
        data={"train": len(tr), "validation": len(va), "validation_share": validation, "split_seed": seed,
              "train_accuracy_on": len(scored),
              "labels": {k: int(v) for k, v in tr["label"].value_counts().sort_index().items()},
              "validation_ids": va["id"].tolist() if "id" in va.columns else None},
        trainable=sum(p.numel() for p in model.parameters() if p.requires_grad), total=n_params, train_s=train_s,
        size_mb=folder_size_mb(out), device=settings.device, dtype="float32", threads=torch.get_num_threads(),
        versions=package_versions(), history=history)
    run.save()
    return run



def save_head(clf, folder: str | Path, n_train: int) -> None:
    """Write a fitted LogisticRegression as JSON (classes, coefficients, intercepts): no pickle."""
    data = {"classes": [str(c) for c in clf.classes_], "coef": clf.coef_.tolist(), "intercept": clf.intercept_.tolist(),
            "normalize_embeddings": True, "n_train": n_train}
    (Path(folder) / HEAD_FILE).write_text(json.dumps(data), encoding="utf-8")


def _embed(encoder, texts: list[str]):
    return encoder.encode(list(texts), batch_size=64, show_progress_bar=False, normalize_embeddings=True)


def fit_head(encoder, texts: list[str], labels: list[str], seed: int = 0, x=None):
    """A logistic regression on the normalised embeddings of ``texts``; ``x``: those
    embeddings when already computed."""
    from sklearn.linear_model import LogisticRegression

    x = _embed(encoder, texts) if x is None else x
    return LogisticRegression(max_iter=2000, C=4.0, random_state=seed).fit(x, list(labels))


def train_head_only(base_name: str, base_folder: str, train, out: str | Path, settings: Settings, *, seed: int = 0,
                    on_log: Callable[[dict], None] | None = None) -> TrainingRun:
    """The like-for-like baseline of :func:`train_encoder`: the encoder in
    ``base_folder`` left as it is (frozen: no weight of it changes) and only a
    logistic-regression head fitted on its embeddings of ``train`` (``text``,
    ``label``), exactly as :func:`train_encoder` fits its final head. Trained
    on the same texts as a fine-tuned encoder, it separates what more labelled
    data buys from what changing the encoder buys. Saves a copy of the
    encoder's files, ``sentiment_head.json`` and ``training.json`` in ``out``
    (replaced if it exists); ``on_log`` gets one row with the training accuracy."""
    import torch
    from sentence_transformers import SentenceTransformer

    train = labelled(train, "training data")
    out = Path(out).expanduser().resolve()
    started = time.perf_counter()
    encoder = SentenceTransformer(base_folder, device=settings.device, trust_remote_code=False)
    encoder.eval()
    x = _embed(encoder, train["text"].tolist())
    clf = fit_head(encoder, train["text"].tolist(), train["label"].tolist(), seed, x=x)
    train_s = time.perf_counter() - started
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base_folder, out)
    save_head(clf, out, len(train))
    row = {"step": 0, "epoch": 0.0, "train accuracy": float((clf.predict(x) == train["label"].to_numpy()).mean())}
    if on_log is not None:
        on_log(row)
    n_params = sum(p.numel() for p in encoder.parameters())
    run = TrainingRun(
        method="frozen encoder + logistic-regression head (no weight of the encoder changes)",
        base_model=base_name, base_files=str(base_folder), folder=str(out), seed=seed,
        hyperparameters={"epochs": 0, "head": "LogisticRegression(C=4.0)", "encoder": "frozen"},
        data={"train": len(train), "validation": 0, "head_fitted_on": len(train),
              "labels": {k: int(v) for k, v in train["label"].value_counts().sort_index().items()}},
        trainable=int(clf.coef_.size + clf.intercept_.size), total=n_params + int(clf.coef_.size + clf.intercept_.size),
        train_s=train_s, size_mb=folder_size_mb(out), device=settings.device, dtype="float32",
        threads=torch.get_num_threads(), versions=package_versions(), history=[row])
    run.save()
    return run


OBJECTIVES = {
    "labels": "cross-entropy through a linear head on the normalised sentence embeddings",
    "triplet": "contrastive BatchAllTripletLoss (texts with the same label pulled together, others pushed apart)",
}


def _label_head_loss(encoder, n_labels: int, scale: float):
    """A sentence-transformers loss module: a linear head on the encoder's
    normalised embeddings, cross-entropy against the label ids. Its head is a
    parameter of the loss, so the trainer trains it with the encoder."""
    import torch
    import torch.nn.functional as F

    class LabelHeadLoss(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = encoder
            self.head = torch.nn.Linear(encoder.get_embedding_dimension(), n_labels)

        def forward(self, sentence_features, labels):
            emb = F.normalize(self.model(sentence_features[0])["sentence_embedding"], dim=-1)
            return F.cross_entropy(self.head(emb) * scale, labels)

    return LabelHeadLoss()


def train_encoder(
    base_name: str,
    base_folder: str,
    train,
    out: str | Path,
    settings: Settings,
    *,
    objective: str = "labels",
    epochs: int = 4,
    learning_rate: float = 1e-4,
    batch_size: int = 16,
    max_length: int = 64,
    validation: float = 0.2,
    freeze_embeddings: bool = True,
    seed: int = 0,
    on_log: Callable[[dict], None] | None = None,
) -> TrainingRun:
    """Train the sentence-transformers encoder in ``base_folder`` (mean
    pooling, as it was pre-trained) on ``train`` (``text``, ``label``), then
    fit a logistic-regression head on its embeddings.

    ``objective="labels"``: cross-entropy through a linear head on the
    normalised embeddings (the head is trained with the encoder, then replaced
    by the logistic regression); ``"triplet"``: a contrastive loss, no head
    while training. ``freeze_embeddings`` keeps the word-embedding table (half
    of MiniLM's weights) as it is (the module's docstring says why). After
    each epoch (and before the first) a head is fitted on the training texts
    and scored on them and on the validation texts, giving the train /
    validation curves. Saves the encoder,
    ``sentiment_head.json`` (fitted on all of ``train``) and ``training.json``
    in ``out`` (replaced if it exists)."""
    import datasets
    import torch
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.sentence_transformer.losses import BatchAllTripletLoss
    from transformers import TrainerCallback, set_seed

    if objective not in OBJECTIVES:
        raise BadParameterError(f"objective={objective!r} is not a training objective here",
                                f"use one of {', '.join(map(repr, OBJECTIVES))}")
    check_training_settings((("epochs", epochs, 1), ("batch_size", batch_size, 4), ("max_length", max_length, 8)),
                            learning_rate, "use a small positive number, e.g. learning_rate=1e-4")
    train = labelled(train, "training data")
    tr, va = split_validation(train, validation, seed)
    set_seed(seed)
    encoder = SentenceTransformer(base_folder, device=settings.device, trust_remote_code=False)
    encoder.max_seq_length = max_length
    if freeze_embeddings:
        encoder[0].auto_model.get_input_embeddings().weight.requires_grad_(False)
    ids = {lab: i for i, lab in enumerate(LABELS)}
    history: list[dict] = []

    def score(epoch: float, step: int) -> None:
        x_tr = _embed(encoder, tr["text"].tolist())
        clf = fit_head(encoder, tr["text"].tolist(), tr["label"].tolist(), seed, x=x_tr)
        row = {"step": step, "epoch": epoch, "train accuracy": float((clf.predict(x_tr) == tr["label"].to_numpy()).mean())}
        if len(va):
            row["validation accuracy"] = float((clf.predict(_embed(encoder, va["text"].tolist())) == va["label"].to_numpy()).mean())
        history.append(row)
        if on_log is not None:
            on_log(row)

    class EpochScores(TrainerCallback):
        def on_epoch_end(self, args, state, control, **kwargs):  # noqa: ARG002
            was_training = encoder.training
            encoder.eval()
            score(round(float(state.epoch or 0), 3), state.global_step)
            encoder.train(was_training)

    out = Path(out).expanduser().resolve()
    work = out.with_name(out.name + ".trainer")
    ds = datasets.Dataset.from_dict({"text": tr["text"].tolist(), "label": [ids[v] for v in tr["label"]]})
    steps = max(1, -(-len(tr) // batch_size))
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, weight_decay=0.01, warmup_steps=0.1, logging_steps=max(1, steps // 3),
        save_strategy="no", report_to="none", seed=seed, data_seed=seed, use_cpu=settings.device == "cpu",
        dataloader_num_workers=0, disable_tqdm=False,
        learning_rate_mapping={r"^head\.": learning_rate * HEAD_LR_FACTOR} if objective == "labels" else {})
    loss = (_label_head_loss(encoder, len(LABELS), LOGIT_SCALE) if objective == "labels"
            else BatchAllTripletLoss(encoder))
    score(0.0, 0)
    trainer = SentenceTransformerTrainer(model=encoder, args=args, train_dataset=ds, loss=loss,
                                         callbacks=[_Recorder(history, on_log), EpochScores()])
    started = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - started
    encoder.eval()
    if out.exists():
        shutil.rmtree(out)
    encoder.save(str(out))
    save_head(fit_head(encoder, train["text"].tolist(), train["label"].tolist(), seed), out, len(train))
    shutil.rmtree(work, ignore_errors=True)
    n_params = sum(p.numel() for p in encoder.parameters())
    run = TrainingRun(
        method=f"fine-tuning of the encoder ({OBJECTIVES[objective]}) + logistic-regression head",
        base_model=base_name, base_files=str(base_folder), folder=str(out), seed=seed,
        hyperparameters={"objective": objective, "epochs": epochs, "learning_rate": learning_rate,
                         "batch_size": batch_size, "max_length": max_length, "weight_decay": 0.01, "warmup": 0.1,
                         "optimizer": "adamw_torch", "word_embeddings": "frozen" if freeze_embeddings else "trained",
                         "head": "LogisticRegression(C=4.0)"}
        | ({"head_learning_rate": learning_rate * HEAD_LR_FACTOR, "logit_scale": LOGIT_SCALE}
           if objective == "labels" else {"loss": "BatchAllTripletLoss"}),
        data={"train": len(tr), "validation": len(va), "validation_share": validation, "split_seed": seed,
              "head_fitted_on": len(train),
              "labels": {k: int(v) for k, v in tr["label"].value_counts().sort_index().items()},
              "validation_ids": va["id"].tolist() if "id" in va.columns else None},
        trainable=sum(p.numel() for p in encoder.parameters() if p.requires_grad), total=n_params, train_s=train_s,
        size_mb=folder_size_mb(out), device=settings.device, dtype="float32", threads=torch.get_num_threads(),
        versions=package_versions(), history=history)
    run.save()
    return run
