"""Customising models on your own labelled texts, the open way and the closed
way, measured on the same data. (Introduced in ``04_customize.ipynb``.)

    run = oc.finetune_classifier()                    # MiniLM trained on the bundled texts + review lines; registered
    same = oc.fit_embedding_baseline(name="minilm-lr-same-texts")  # untouched MiniLM, head fitted on the same texts
    ev = oc.evaluate(oc.compare("sentiment", ["minilm-lr", run.name], test["text"]), test["label"],
                     groups=test["domain"])
    lora = oc.finetune_lora(limit=96)                 # a LoRA adapter on SmolLM2-135M-Instruct
    oc.lora_before_after(lora, test)                  # accuracy and format rate, base vs base + adapter
    oc.few_shot("gpt-6-luna", test, ks=(0, 4, 16))   # the closed way: examples in the prompt

Every run writes ``training.json`` (seed, data split, hyper-parameters,
losses, time, versions) next to what it saved.
"""

from __future__ import annotations

import time
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable

from ..backends.files import model_files
from ..catalog.registry import get_model, register
from ..catalog.vendors import LIFECYCLE, today_from
from ..core.errors import BadParameterError
from ..core.labelled_data import review_lines, sentiment_data
from ..core.labels import FEW_SHOT_TEMPLATE, LABELS, ZERO_SHOT_SYSTEM, ZERO_SHOT_TEMPLATE
from ..core.machine import give_back_memory
from ..engine.pricing import api_cost
from ..engine.trainedcache import data_hash, recipe_key, source_hash, trained_once
from ..tasks import finetune as finetune_module
from ..tasks import lora as lora_module
from ..tasks.finetune import TrainingRun, labelled, train_classifier, train_encoder, train_head_only
from ..tasks.lora import ask_labels, load_causal_lm, score_answers, train_lora
from .compare import compare
from .setup import get_settings


def _base_folder(base: str, task: str) -> tuple[Any, str]:
    spec = get_model(base, task)
    files = model_files(spec, get_settings())
    if files.random_weights or files.stand_in:
        raise BadParameterError(f"{base!r} here has random weights ({files.note or 'no trained weights'}): "
                                "fine-tuning it would teach nothing about the real model",
                                "pick a model with real weights, e.g. base='minilm-lr' or base='smollm2-135m'")
    return spec, files.where


def default_training_texts():
    """What :func:`finetune_classifier` trains on when given nothing: the
    bundled training split (three domains) and the review lines' training
    split (short lines from film reviews), with ``id, domain, text, label``."""
    import pandas as pd

    cols = ["id", "domain", "text", "label"]
    return pd.concat([sentiment_data("train")[cols], review_lines("train")[cols]], ignore_index=True)


TRAINING_PACKAGES = ("torch", "transformers", "sentence-transformers", "peft", "scikit-learn", "accelerate")
"""Libraries whose version is part of a training recipe (a new version may train other weights)."""

SHIPPED_RECIPE = {"epochs": 2, "learning_rate": 0.0001, "batch_size": 16, "freeze_embeddings": True}
"""The default recipe of ``method="encoder"``: the candidate that scored best on the review lines' validation split
(written by other writers than the training lines) in ``benchmarks/choose_finetune_recipe.py``; its scores, and
every other candidate's, are in ``benchmarks/results/finetune_recipe.json`` (a test checks the two agree)."""

_METHODS = {  # method: (trainer, its fixed keywords, its default epochs / learning rate / batch size / frozen table)
    "encoder": (train_encoder, {"objective": "labels"}, SHIPPED_RECIPE),
    "contrastive": (train_encoder, {"objective": "triplet"},
                    {"epochs": 2, "learning_rate": 2e-4, "batch_size": 32, "freeze_embeddings": True}),
    "head": (train_classifier, {}, {"epochs": 4, "learning_rate": 1e-4, "batch_size": 16, "freeze_embeddings": True}),
}


def finetune_classifier(train=None, *, method: str = "encoder", base: str = "minilm-lr",
                        name: str = "minilm-finetuned", out: str | Path = "runs/minilm-finetuned",
                        epochs: int | None = None, learning_rate: float | None = None, batch_size: int | None = None,
                        freeze_embeddings: bool | None = None, validation: float = 0.2, seed: int = 0,
                        retrain: bool = False,
                        on_log: Callable[[dict], None] | None = None) -> TrainingRun:
    """Fine-tune the encoder of ``base`` on ``train`` (default:
    :func:`default_training_texts`, the bundled training split and the review
    lines' training split), save it in ``out`` and register it as ``name`` so
    ``oc.compare`` / ``oc.evaluate`` can use it.

    ``method``: ``"encoder"`` (default; the encoder's mean-pooled embeddings
    through a linear head, trained with cross-entropy, then a
    logistic-regression head fitted on the new embeddings; its default
    epochs, learning rate, batch size and frozen word embeddings are
    :data:`SHIPPED_RECIPE`, chosen on the review lines' validation split),
    ``"contrastive"`` (a contrastive loss instead; 2 epochs, lr 2e-4, batch
    32) or ``"head"`` (a new classification head on the first token; 4 epochs,
    lr 1e-4, batch 16). ``freeze_embeddings`` keeps the word-embedding table
    as it is. ``validation`` is the share of ``train`` held out for the
    validation curve. ``on_log`` receives each logged row (e.g.
    ``oc.plots.LiveTraining().update``).

    The same recipe (method, settings, seed, base model, data, library
    versions) trained before in this cache is copied instead of trained again
    (``run.reused_from`` says from where; its curves are replayed to
    ``on_log``); ``retrain=True`` trains anyway."""
    if method not in _METHODS:
        raise BadParameterError(f"method={method!r} is not a fine-tuning method here",
                                f"use one of {', '.join(map(repr, _METHODS))}")
    trainer, fixed, default = _METHODS[method]
    spec, folder = _base_folder(base, "sentiment")
    data = default_training_texts() if train is None else labelled(train, "training data")
    settings = get_settings()
    given = {"epochs": epochs, "learning_rate": learning_rate, "batch_size": batch_size,
             "freeze_embeddings": freeze_embeddings}
    hyper = {**fixed, **{k: default[k] if v is None else v for k, v in given.items()}, "validation": validation,
             "seed": seed}

    def train_into(where: Path) -> TrainingRun:
        run = trainer(spec.name, folder, data, where, settings, **hyper, on_log=on_log)
        run.name = name
        run.save()
        return run

    run = _trained_once(f"classifier-{method}", spec, data, hyper, out, train_into, retrain, on_log)
    kind = {"arch": "classifier"} if method == "head" else {"backend": "embedding", "arch": "embedding"}
    register(name, task="sentiment", path=run.folder, license=spec.license, replace_existing=True,
             revision=f"recipe-{run.recipe}", params_m=round(run.total / 1e6, 1), size_mb=round(run.size_mb, 1),
             notes=f"{spec.name} fine-tuned here: {run.method}, {run.hyperparameters['epochs']} epochs on "
                   f"{run.data['train']} texts, seed {seed} (training.json in its folder).", **kind)
    run.name = name
    give_back_memory()  # the trainer's copies of the weights, freed, back to the system now
    return run


def fit_embedding_baseline(train=None, *, base: str = "minilm-lr", name: str = "minilm-lr-same-texts",
                           out: str | Path | None = None, seed: int = 0, retrain: bool = False,
                           on_log: Callable[[dict], None] | None = None) -> TrainingRun:
    """The like-for-like baseline of :func:`finetune_classifier`: the encoder
    of ``base`` left untouched and only its logistic-regression head fitted,
    on the same texts (default: :func:`default_training_texts`, as
    :func:`finetune_classifier`) and in the same way as the fine-tuned
    encoder's final head. Registered as ``name`` (saved in ``out``, default
    ``runs/<name>``). Compared with ``base`` (whose head saw the 180 bundled
    training texts) it measures what **more data** buys; the fine-tuned
    encoder compared with it measures what **changing the encoder** buys.
    Fitted once per recipe, as :func:`finetune_classifier` trains once."""
    spec, folder = _base_folder(base, "sentiment")
    data = default_training_texts() if train is None else labelled(train, "training data")
    settings = get_settings()

    def train_into(where: Path) -> TrainingRun:
        run = train_head_only(spec.name, folder, data, where, settings, seed=seed, on_log=on_log)
        run.name = name
        run.save()
        return run

    run = _trained_once("classifier-head-only", spec, data, {"seed": seed}, out or f"runs/{name}", train_into,
                        retrain, on_log)
    register(name, task="sentiment", path=run.folder, license=spec.license, replace_existing=True,
             revision=f"recipe-{run.recipe}", params_m=round(run.total / 1e6, 1), size_mb=round(run.size_mb, 1),
             backend="embedding", arch="embedding",
             notes=f"{spec.name} untouched, a logistic-regression head fitted here on {run.data['train']} texts, "
                   f"seed {seed} (training.json in its folder).")
    run.name = name
    return run


def finetune_lora(train=None, *, base: str = "smollm2-135m", out: str | Path = "runs/smollm2-lora",
                  epochs: int = 1, learning_rate: float = 2e-3, batch_size: int = 8, rank: int = 8,
                  limit: int | None = None, seed: int = 0, retrain: bool = False,
                  on_log: Callable[[dict], None] | None = None) -> TrainingRun:
    """Train a LoRA adapter on ``base`` (a chat model) so it answers the
    sentiment question with one label word; ``limit`` texts of ``train``
    (default: the bundled training split). Saves only the adapter in ``out``.
    A recipe trained before is copied, as in :func:`finetune_classifier`."""
    spec, folder = _base_folder(base, "text-generation")
    data = sentiment_data("train") if train is None else labelled(train, "training data")
    settings = get_settings()
    hyper = {"epochs": epochs, "learning_rate": learning_rate, "batch_size": batch_size, "rank": rank,
             "limit": limit, "seed": seed}

    def train_into(where: Path) -> TrainingRun:
        return train_lora(spec.name, folder, data, where, settings, **hyper, on_log=on_log)

    run = _trained_once("lora", spec, data, hyper, out, train_into, retrain, on_log)
    give_back_memory()  # the base model trained on, freed, back to the system now
    return run


def _trained_once(kind: str, spec, data, hyper: dict[str, Any], out: str | Path,
                  train_into: Callable[[Path], TrainingRun], retrain: bool,
                  on_log: Callable[[dict], None] | None) -> TrainingRun:
    """Train with ``train_into(out)``, or copy the folder an identical recipe trained before (see
    :mod:`openclosed.engine.trainedcache`); the returned run's ``folder`` is ``out`` either way, and its
    ``recipe`` the recipe's hash (registered as the model's revision, so the response cache never serves one
    recipe's answers as another's from the same folder)."""
    settings = get_settings()
    recipe = {"kind": kind, "hyperparameters": hyper, "base": spec.record(),
              "data": data_hash(data["text"].tolist(), data["label"].tolist()), "device": settings.device,
              "versions": {pkg: version(pkg) for pkg in TRAINING_PACKAGES},
              "code": source_hash(finetune_module.__file__, lora_module.__file__)}
    trained: dict[str, TrainingRun] = {}

    def train(where: Path) -> None:
        trained["run"] = train_into(where)

    where, kept = trained_once(settings.cache_dir, kind, recipe, Path(out).expanduser().resolve(), train,
                               retrain=retrain)
    if kept is None:
        run = trained["run"]
        run.recipe = recipe_key(recipe)
        run.save()
        return run
    run = TrainingRun.load(where)
    run.folder, run.reused_from, run.recipe = str(where), kept, recipe_key(recipe)
    run.save()
    for row in run.history if on_log else ():
        on_log(row)
    return run


def lora_before_after(run: TrainingRun | str | Path, test=None) -> dict[str, Any]:
    """The base model's answers to the sentiment question on ``test`` before
    and after loading the adapter of ``run`` (a TrainingRun or its folder)
    onto it: ``{"before": scores, "after": scores, "table": DataFrame}``,
    scores as in :func:`openclosed.tasks.lora.score_answers`."""
    import pandas as pd

    run = run if isinstance(run, TrainingRun) else TrainingRun.load(run)
    test = sentiment_data("test") if test is None else labelled(test, "test data")
    _, folder = _base_folder(run.base_model, "text-generation")
    from peft import PeftModel

    model, tok = load_causal_lm(folder)
    texts, gold = test["text"].tolist(), test["label"].tolist()
    out: dict[str, Any] = {}
    started = time.perf_counter()
    out["before"] = score_answers(ask_labels(model, tok, texts), gold)
    out["before"]["seconds"] = time.perf_counter() - started
    tuned = PeftModel.from_pretrained(model, run.folder)
    tuned.eval()
    started = time.perf_counter()
    out["after"] = score_answers(ask_labels(tuned, tok, texts), gold)
    out["after"]["seconds"] = time.perf_counter() - started
    rows = [{"model": f"{run.base_model}" + (" + LoRA adapter" if k == "after" else ""),
             "accuracy": out[k]["accuracy"], "format rate": out[k]["format rate"],
             "no label word": out[k]["no label"], "texts": len(texts), "seconds": round(out[k]["seconds"], 1)}
            for k in ("before", "after")]
    out["table"] = pd.DataFrame(rows)
    for k in ("before", "after"):
        if "domain" in test.columns:
            out[k]["answers"]["domain"] = test["domain"].tolist()
    run.results["lora_before_after"] = [{k: v for k, v in r.items()} for r in rows]
    run.save()
    del model, tuned
    give_back_memory()
    return out


def pick_examples(train, k: int, seed: int = 0) -> list[tuple[str, str]]:
    """``k`` (text, label) examples from ``train``, the labels taken in turn so
    they stay balanced, in a seeded random order."""
    if not isinstance(k, int) or k < 0:
        raise BadParameterError(f"k={k!r} must be a whole number >= 0", "e.g. ks=(0, 4, 16)")
    shuffled = train.sample(frac=1.0, random_state=seed)
    pools = {lab: list(shuffled[shuffled["label"] == lab]["text"]) for lab in LABELS}
    picked: list[tuple[str, str]] = []
    i = 0
    while len(picked) < k and any(pools.values()):
        lab = LABELS[i % len(LABELS)]
        if pools[lab]:
            picked.append((pools[lab].pop(0), lab))
        i += 1
    return picked


def few_shot(model: str, test=None, train=None, *, ks: tuple[int, ...] = (0, 4, 16), seed: int = 0,
             max_tokens: int = 4):
    """Prompt ``model`` (any catalog chat model: closed, served or open) with
    ``k`` labelled training examples before each test text, for each ``k`` in
    ``ks``, through ``oc.compare`` (so the openai client, the cache, costs and
    error handling are the usual ones). Returns a DataFrame, one row per k:
    accuracy, format rate, errors, mean input tokens, $ and seconds; the
    Comparisons are in ``.attrs["runs"]``."""
    import pandas as pd

    test = sentiment_data("test") if test is None else labelled(test, "test data")
    train = sentiment_data("train") if train is None else labelled(train, "training data")
    gold = test["label"].tolist()
    rows, runs = [], {}
    for k in ks:
        examples = pick_examples(train, k, seed)
        shots = "".join(f"Text: {t}\nSentiment: {lab}\n\n" for t, lab in examples)
        prompts = [FEW_SHOT_TEMPLATE.format(examples=shots, text=t) if k else ZERO_SHOT_TEMPLATE.format(text=t)
                   for t in test["text"]]
        started = time.perf_counter()
        run = compare("text-generation", [model], prompts, system=ZERO_SHOT_SYSTEM, max_tokens=max_tokens,
                      temperature=0.0, seed=seed, progress=False)
        seconds = time.perf_counter() - started
        results = sorted(run.results, key=lambda r: r.input_index)
        answers = [r.output if r.ok and isinstance(r.output, str) else "" for r in results]
        scores = score_answers(answers, gold)
        tokens = [r.input_tokens for r in results if r.input_tokens]
        costs = [r.cost_usd for r in results if r.cost_usd is not None]
        first = results[0] if results else None
        rows.append({"model": model, "family": first.family if first else "", "k": k,
                     "accuracy": scores["accuracy"], "format rate": scores["format rate"],
                     "errors": sum(not r.ok for r in results), "texts": len(results),
                     "mean input tokens": sum(tokens) / len(tokens) if tokens else None,
                     "$": sum(costs) if costs else None, "seconds": round(seconds, 1),
                     "answered by": first.answered_by if first else ""})
        runs[k] = run
    table = pd.DataFrame(rows)
    table.attrs["runs"] = runs
    return table


# A vendor's fine-tuning service, priced per training token (not run here). Dated, with its source: check the page
# for today's price and pass your own with vendor_fine_tuning_quote(..., price=...).
VENDOR_FINE_TUNING = {
    "vendor": "OpenAI", "model": "gpt-4o-mini-2024-07-18", "usd_per_1m_training_tokens": 3.00,
    "fine-tuned model, usd per 1M input / output tokens": (0.30, 1.20),
    "as of": "2025-06", "source": "https://openai.com/api/pricing/ (fine-tuning section)",
}


def fine_tuning_quote(run: TrainingRun | None = None, train=None, *, epochs: int = 3,
                      usd_per_1m_training_tokens: float | None = None):
    """What training on ``train`` (default: the bundled training split, asked
    as the zero-shot question with the label as the answer) would cost at the
    vendor's dated fine-tuning price for ``epochs`` epochs, next to what
    ``run`` cost on this machine (its training time at
    ``settings.local_usd_per_hour``). Tokens are counted with SmolLM2's
    tokenizer, a stand-in for the vendor's (the count differs somewhat).

    Training is not the only bill: the vendor's row also gives the fine-tuned
    model's price per 1M input tokens and how many times the base model's
    price (from the price table) that is — paid on every call, for as long as
    it is used — and the base model's announced retirement (``base model``,
    judged on ``oc.setup(today=...)`` or today): a vendor's fine-tuned copy
    ends with its base model."""
    import pandas as pd

    from ..core.labels import zero_shot_messages

    train = sentiment_data("train") if train is None else labelled(train, "training data")
    settings = get_settings()
    _, folder = _base_folder("smollm2-135m", "text-generation")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    chats = [tok.apply_chat_template(zero_shot_messages(t) + [{"role": "assistant", "content": lab}], tokenize=False)
             for t, lab in zip(train["text"], train["label"], strict=True)]
    tokens = sum(len(ids) for ids in tok(chats, add_special_tokens=False)["input_ids"])
    price = usd_per_1m_training_tokens or VENDOR_FINE_TUNING["usd_per_1m_training_tokens"]
    base_model = VENDOR_FINE_TUNING["model"].split("-20")[0]  # the dated snapshot's model name
    lc = LIFECYCLE.get(base_model)
    today = today_from(settings.today)
    base_status = ("no retirement announced" if lc is None or lc.status(today) == "active" else
                   f"{lc.status(today)}: shuts down {lc.shutdown}, {lc.days_left(today)} days from "
                   f"{today.isoformat()} (replacement: {lc.replacement}; {lc.source})")
    tuned_in, _ = VENDOR_FINE_TUNING["fine-tuned model, usd per 1M input / output tokens"]
    base_in, _ = api_cost(VENDOR_FINE_TUNING["model"], VENDOR_FINE_TUNING["vendor"].lower(), 1_000_000, 0)
    rows = [{"where": f"{VENDOR_FINE_TUNING['vendor']} fine-tuning ({VENDOR_FINE_TUNING['model']})",
             "training tokens": tokens * epochs, "epochs": epochs, "$": tokens * epochs * price / 1e6,
             "then $ per 1M input tokens": tuned_in,
             "x base model per call": tuned_in / base_in if base_in else None,
             "price basis": f"${price:g} per 1M training tokens, {VENDOR_FINE_TUNING['as of']}, "
                            f"{VENDOR_FINE_TUNING['source']}", "texts leave your machine": "yes",
             "base model": base_status}]
    if run is not None:
        rows.append({"where": f"this machine: {run.method} of {run.base_model}", "training tokens": None,
                     "epochs": run.hyperparameters.get("epochs"), "$": run.train_s / 3600 * settings.local_usd_per_hour,
                     "then $ per 1M input tokens": None, "x base model per call": None,
                     "price basis": f"{run.train_s:.0f} s at ${settings.local_usd_per_hour:g}/hour "
                                    "(oc.setup(local_usd_per_hour=...))", "texts leave your machine": "no",
                     "base model": "yours: it does not retire"})
    return pd.DataFrame(rows)
