"""Fine-tuning on a toy task with tiny models built here (seconds): the
training converges, what is saved reloads and predicts the same, a LoRA
adapter loads back onto its base model, bad input is refused before any
training, and few-shot prompts are built as documented."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import openclosed as oc
from openclosed.core.errors import BadInputError, BadParameterError
from openclosed.core.labels import exact_label, few_shot_messages, first_label, zero_shot_messages
from openclosed.core.settings import current
from openclosed.session.customize import pick_examples
from openclosed.tasks.finetune import TrainingRun, labelled, train_classifier, train_encoder
from openclosed.tasks.lora import ask_labels, load_causal_lm, score_answers, train_lora
from openclosed.testing.tiny_models import build_tiny_causal_lm, build_tiny_sequence_classifier

POS = ["I loved this movie, it was wonderful.", "The food was excellent and the service was friendly.",
       "It was great and fun.", "wonderful, great and fun", "The service was excellent.", "I loved the food."]
NEG = ["I hated this film, it was terrible.", "The room was dirty and the staff were rude.", "boring and bad",
       "It was terrible, boring and bad.", "The staff were rude. Never again!", "I hated the room."]
NEU = ["What is the capital of France?", "The capital of France is Paris.", "The quick brown fox jumps.",
       "Open models can be downloaded.", "Closed models are reached through an API.", "billed per token"]


def toy(n_copies: int = 2) -> pd.DataFrame:
    rows = [(t, lab) for lab, texts in (("positive", POS), ("negative", NEG), ("neutral", NEU)) for t in texts]
    return pd.DataFrame(rows * n_copies, columns=["text", "label"])


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    return build_tiny_sequence_classifier(tmp_path_factory.mktemp("tiny-enc"), labels=("negative", "positive"))


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.mark.parametrize("objective", ["labels", "triplet"])
def test_encoder_training_converges_and_the_saved_model_predicts_the_same(tiny_encoder, tmp_path, objective):
    data = toy()
    run = train_encoder("tiny", str(tiny_encoder), data, tmp_path / "ft", current(), objective=objective, epochs=6,
                        learning_rate=5e-3, batch_size=12, validation=0.0, seed=0)
    losses = [r["loss"] for r in run.history if "loss" in r]
    accs = [r["train accuracy"] for r in run.history if "train accuracy" in r]
    assert len(accs) == 7 and losses, run.history  # before training + one per epoch
    assert losses[-1] < losses[0]
    assert accs[-1] >= 0.9 and accs[-1] >= accs[0]
    saved = json.loads((tmp_path / "ft" / "training.json").read_text())
    assert saved["seed"] == 0 and saved["hyperparameters"]["epochs"] == 6 and saved["data"]["train"] == len(data)
    assert saved["hyperparameters"]["objective"] == objective
    assert saved["hyperparameters"]["word_embeddings"] == "frozen" and 0 < run.trainable < run.total
    assert TrainingRun.load(tmp_path / "ft").history == run.history

    # reload through the catalog + the embedding backend: the saved head is used, predictions match the numbers
    oc.register("tiny-ft", task="sentiment", path=run.folder, backend="embedding", arch="embedding",
                replace_existing=True)
    cmp = oc.compare("sentiment", ["tiny-ft"], data["text"].tolist(), progress=False, cache="off")
    got = [r.output for r in sorted(cmp.results, key=lambda r: r.input_index)]
    assert np.mean([g == y for g, y in zip(got, data["label"], strict=True)]) == pytest.approx(accs[-1])
    head = json.loads((tmp_path / "ft" / "sentiment_head.json").read_text())
    from sentence_transformers import SentenceTransformer

    x = SentenceTransformer(run.folder, device="cpu").encode(data["text"].tolist(), normalize_embeddings=True)
    manual = np.array(head["classes"])[np.argmax(x @ np.array(head["coef"]).T + np.array(head["intercept"]), axis=1)]
    assert got == manual.tolist()
    assert any("saved with the fine-tuned encoder" in n for r in cmp.results for n in r.notes)


@pytest.mark.parametrize("freeze", [True, False])
def test_classification_head_training_converges_and_reloads(tiny_encoder, tmp_path, freeze):
    from safetensors.torch import load_file

    data = toy(3)
    run = train_classifier("tiny", str(tiny_encoder), data, tmp_path / "head", current(), epochs=20,
                           learning_rate=5e-3, batch_size=8, validation=0.0, freeze_embeddings=freeze, seed=0)
    losses = [r["loss"] for r in run.history if "loss" in r]
    assert losses[-1] < losses[0] * 0.5, losses
    assert run.hyperparameters["word_embeddings"] == ("frozen" if freeze else "trained")
    key = "distilbert.embeddings.word_embeddings.weight"
    before, after = load_file(tiny_encoder / "model.safetensors")[key], load_file(tmp_path / "head" / "model.safetensors")[key]
    assert (before.equal(after)) is freeze  # frozen: the word-embedding table is saved exactly as it was
    assert run.trainable == run.total - (before.numel() if freeze else 0)
    oc.register("tiny-head", task="sentiment", path=run.folder, replace_existing=True)
    cmp = oc.compare("sentiment", ["tiny-head"], data["text"].tolist(), progress=False, cache="off")
    got = [r.output for r in sorted(cmp.results, key=lambda r: r.input_index)]
    assert np.mean([g == y for g, y in zip(got, data["label"], strict=True)]) >= 0.9


def _answer_loss(model, tok, data) -> float:
    """Mean loss of the label answer tokens after the sentiment question (teacher-forced)."""
    import torch

    from openclosed.core.labels import few_shot_messages
    from openclosed.tasks.lora import end_of_turn

    losses = []
    with torch.inference_mode():
        for text, label in zip(data["text"], data["label"], strict=True):
            prompt = tok(tok.apply_chat_template(few_shot_messages(text), add_generation_prompt=True, tokenize=False),
                         add_special_tokens=False)["input_ids"]
            answer = tok(label + end_of_turn(tok), add_special_tokens=False)["input_ids"]
            ids = torch.tensor([prompt + answer])
            labels = torch.tensor([[-100] * len(prompt) + answer])
            losses.append(float(model(input_ids=ids, labels=labels).loss))
    return sum(losses) / len(losses)


def test_lora_adapter_trains_few_parameters_and_loads_onto_the_base_model(tiny_lm, tmp_path):
    import torch

    data = toy(1)
    run = train_lora("tiny-lm", str(tiny_lm), data, tmp_path / "lora", current(), epochs=8, learning_rate=1e-2,
                     batch_size=6, rank=8, alpha=16, dropout=0.0, seed=0)
    assert 0 < run.trainable < run.total * 0.2
    assert (tmp_path / "lora" / "adapter_config.json").is_file() and run.size_mb > 0
    losses = [r["loss"] for r in run.history if "loss" in r]
    assert losses[-1] < losses[0], losses
    base, tok = load_causal_lm(str(tiny_lm))
    tuned, _ = load_causal_lm(str(tiny_lm), adapter=tmp_path / "lora")
    enc = tok(["The capital of France"], return_tensors="pt")
    with torch.inference_mode():
        assert not torch.allclose(base(**enc).logits, tuned(**enc).logits)  # the adapter changed the outputs
    # the reloaded adapter carries what was learned: the label answers are more likely than with the base alone
    assert _answer_loss(tuned, tok, data) < _answer_loss(base, tok, data) - 0.1
    answers = ask_labels(tuned, tok, data["text"].tolist(), max_new_tokens=16)
    assert len(answers) == len(data) and all(isinstance(a, str) for a in answers)


def test_answers_are_scored_for_accuracy_and_format():
    s = score_answers(["positive", "Negative.", "I think it is positive", "no idea"],
                      ["positive", "negative", "negative", "neutral"])
    assert s["accuracy"] == 0.5 and s["format rate"] == 0.5 and s["no label"] == 1
    assert exact_label(" Neutral. ") == "neutral" and exact_label("neutral-ish") is None
    assert first_label("It is mixed") == "neutral"


def test_few_shot_prompts_are_balanced_and_k0_is_the_zero_shot_question():
    train = oc.sentiment_data("train")
    ex = pick_examples(train, 4, seed=1)
    assert [lab for _, lab in ex] == ["negative", "neutral", "positive", "negative"]
    assert pick_examples(train, 4, seed=1) == ex and pick_examples(train, 4, seed=2) != ex
    msgs = few_shot_messages("new text", ex)
    assert all(t in msgs[1]["content"] for t, _ in ex) and msgs[1]["content"].endswith("Text: new text\nSentiment:")
    assert few_shot_messages("x") == zero_shot_messages("x")


def test_bad_training_data_is_refused_with_the_fix(tmp_path):
    with pytest.raises(BadInputError, match="'text' and 'label'"):
        labelled(pd.DataFrame({"sentence": ["a"], "label": ["positive"]}))
    with pytest.raises(BadInputError, match="unknown training data labels"):
        labelled(pd.DataFrame({"text": ["a"], "label": ["great"]}), "training data")
    with pytest.raises(BadInputError, match="empty"):
        labelled(pd.DataFrame({"text": ["a", " "], "label": ["positive", "negative"]}))
    with pytest.raises(BadInputError, match="no CSV file"):
        labelled(tmp_path / "missing.csv")
    (tmp_path / "mine.csv").write_text("text,label\nlovely,Positive\n")
    assert labelled(tmp_path / "mine.csv")["label"].tolist() == ["positive"]
    with pytest.raises(BadParameterError, match="epochs"):
        oc.finetune_classifier(epochs=0)
    with pytest.raises(BadParameterError, match="method"):
        oc.finetune_classifier(method="magic")


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_answer_only_loss_equals_the_full_causal_lm_loss_and_its_gradients(tiny_lm, dtype):
    """The LoRA trainer projects only the answer positions onto the vocabulary (memory); the loss and the
    gradients must be those of the library's own causal-LM loss over all positions, with padding in the batch."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq

    from openclosed.tasks.lora import answer_loss_trainer

    torch_dtype = getattr(torch, dtype)
    tok = AutoTokenizer.from_pretrained(str(tiny_lm))
    tok.pad_token = tok.pad_token or tok.eos_token
    tok.padding_side = "right"
    model = AutoModelForCausalLM.from_pretrained(str(tiny_lm), dtype=torch_dtype)
    rows = []
    for text, answer in [("good film", "positive"), ("a much longer and rather boring film overall", "negative"),
                         ("ok", "neutral")]:
        p, a = tok(text, add_special_tokens=False)["input_ids"], tok(answer, add_special_tokens=False)["input_ids"]
        rows.append({"input_ids": p + a, "attention_mask": [1] * (len(p) + len(a)), "labels": [-100] * len(p) + a})
    batch = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)(rows)
    assert (batch["attention_mask"] == 0).any()  # the batch really is padded

    def loss_and_grads(compute):
        model.zero_grad()
        loss = compute()
        loss.backward()
        return loss.detach().float(), [p.grad.detach().float().clone() for p in model.parameters() if p.grad is not None]

    full, full_grads = loss_and_grads(lambda: model(**{k: v.clone() for k, v in batch.items()}).loss)
    trainer = answer_loss_trainer().__new__(answer_loss_trainer())  # compute_loss needs no Trainer state
    mine, my_grads = loss_and_grads(lambda: trainer.compute_loss(model, {k: v.clone() for k, v in batch.items()}))
    tol = 1e-5 if dtype == "float32" else 2e-2
    assert torch.allclose(mine, full, rtol=tol, atol=tol), (float(mine), float(full))
    assert len(my_grads) == len(full_grads) > 0
    for a, b in zip(my_grads, full_grads, strict=True):
        assert torch.allclose(a, b, rtol=tol * 10, atol=tol), float((a - b).abs().max())


def test_bundled_data_files_are_disjoint_and_labelled_as_documented():
    """The review lines (``review_lines.csv``) and the three-domain texts: ids unique and stable, labels valid, the
    review lines' validation and test splits two-way and balanced per writer, and no held-out text (after case,
    spacing and punctuation are ignored) in any training split, nor a test line among the validation lines: a
    held-out line seen before would inflate every accuracy measured on it."""
    import re

    def norm(s: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9 ]", " ", s.lower().replace(" n't", "n't").replace(" '", "'")).split())

    lines, texts = oc.review_lines(), oc.sentiment_data()
    assert lines["id"].is_unique and set(lines["domain"]) == {"review line"} and lines["writer"].notna().all()
    assert set(lines["label"]) == {"negative", "neutral", "positive"}
    assert set(lines["split"]) == {"train", "validation", "test"}
    assert lines["id"].head(1999).tolist() == [f"line-{i:04d}" for i in range(1, 2000)]  # ids kept as first written
    val, test = oc.review_lines("validation"), oc.review_lines("test")
    for held_out in (val, test):  # two-way, balanced within each writer
        counts = held_out.groupby("writer")["label"].value_counts().unstack()
        assert set(counts.columns) == {"negative", "positive"} and (counts["negative"] == counts["positive"]).all()
    assert len(oc.review_lines("train")) + len(val) + len(test) == len(lines)
    train_texts = {norm(t) for t in pd.concat([oc.review_lines("train"), oc.sentiment_data("train")])["text"]}
    held_out_texts = [norm(t) for t in pd.concat([val, test, oc.sentiment_data("test")])["text"]]
    assert not [t for t in held_out_texts if t in train_texts]
    assert not set(map(norm, val["text"])) & set(map(norm, test["text"]))
    assert not set(map(norm, lines["text"])) & set(map(norm, texts["text"]))
    with pytest.raises(oc.OpenClosedError, match="unknown split"):
        oc.review_lines("dev")
    with pytest.raises(oc.OpenClosedError, match="unknown split"):
        oc.sentiment_data("validation")


def test_the_same_recipe_trains_once_and_another_recipe_trains_again(tmp_path, monkeypatch):
    """Notebook 04 run twice (or by two kernels) trains its model once: the second call copies the kept folder,
    replays its curves and predicts exactly as the first; a different seed trains afresh."""
    import uuid

    from openclosed.engine import trainedcache

    monkeypatch.setattr(trainedcache, "KEEP_DIR", str(tmp_path / "kept"))  # absolute: replaces <cache>/trained
    data = oc.sentiment_data("train").groupby("label").head(4)[["text", "label"]]
    data = pd.concat([data, pd.DataFrame({"text": [f"unique line {uuid.uuid4()} was great"], "label": ["positive"]})])
    first = oc.finetune_classifier(data, epochs=1, validation=0.25, out=tmp_path / "a", name="tiny-a", seed=0)
    assert first.reused_from is None and first.train_s > 0
    replayed = []
    second = oc.finetune_classifier(data, epochs=1, validation=0.25, out=tmp_path / "b", name="tiny-b", seed=0,
                                    on_log=replayed.append)
    assert second.reused_from and Path(second.folder) == (tmp_path / "b").resolve()
    assert replayed == second.history == first.history and "Reused" in second.summary()
    assert oc.get_model("tiny-b").ref == second.folder  # registered at its own folder, not the kept one
    texts = ["What a wonderful day", "This is broken again", "It arrived on Monday"]
    run = oc.compare("sentiment", ["tiny-a", "tiny-b"], texts, cache="off", progress=False)
    by_model = {m: [r.scores for r in run.results if r.model == m] for m in ("tiny-a", "tiny-b")}
    assert all(by_model["tiny-a"]) and by_model["tiny-a"] == by_model["tiny-b"]
    third = oc.finetune_classifier(data, epochs=1, validation=0.25, out=tmp_path / "c", name="tiny-c", seed=1)
    assert third.reused_from is None  # another seed is another recipe
    again = oc.finetune_classifier(data, epochs=1, validation=0.25, out=tmp_path / "d", name="tiny-d", seed=0,
                                   retrain=True)
    assert again.reused_from is None  # retrain=True trains even when the recipe is kept


def test_the_embedding_baseline_fits_only_a_head_on_the_same_texts(tiny_encoder, tmp_path, monkeypatch):
    """The like-for-like baseline of a fine-tuned encoder: no encoder weight changes (the saved files are the base's,
    byte for byte), the head is the logistic regression fitted on the base's embeddings of exactly the given texts,
    and the registered model predicts with that head."""
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

    from openclosed.engine import trainedcache
    from openclosed.tasks.finetune import train_head_only

    data = toy()
    rows = []
    run = train_head_only("tiny", str(tiny_encoder), data, tmp_path / "head", current(), seed=0, on_log=rows.append)
    assert run.hyperparameters["encoder"] == "frozen" and run.data["train"] == len(data) and rows == run.history
    assert run.trainable == 3 * SentenceTransformer(str(tiny_encoder)).get_embedding_dimension() + 3
    for f in Path(tiny_encoder).rglob("*.safetensors"):
        assert (tmp_path / "head" / f.relative_to(tiny_encoder)).read_bytes() == f.read_bytes()
    x = SentenceTransformer(str(tiny_encoder), device="cpu").encode(data["text"].tolist(), normalize_embeddings=True)
    expected = LogisticRegression(max_iter=2000, C=4.0, random_state=0).fit(x, data["label"])
    head = json.loads((tmp_path / "head" / "sentiment_head.json").read_text())
    assert np.allclose(head["coef"], expected.coef_) and head["n_train"] == len(data)

    # through the session: registered, fitted once per recipe, and it answers with the head fitted here
    monkeypatch.setattr(trainedcache, "KEEP_DIR", str(tmp_path / "kept"))
    small = oc.sentiment_data("train").groupby(["domain", "label"]).head(2)[["text", "label"]]
    base = oc.fit_embedding_baseline(small, name="minilm-lr-small", out=tmp_path / "small")
    assert base.reused_from is None and base.data["head_fitted_on"] == len(small) == 18
    again = oc.fit_embedding_baseline(small, name="minilm-lr-small", out=tmp_path / "small2")
    assert again.reused_from
    texts = ["What a wonderful day", "This is broken again"]
    got = oc.compare("sentiment", ["minilm-lr-small"], texts, cache="off", progress=False)
    assert len(got.results) == 2
    assert all(any("logistic regression trained on 18 texts" in n for n in r.notes) for r in got.results)


def test_fine_tuning_quote_prices_the_tokens_and_names_the_base_models_retirement():
    import openclosed as oc
    from openclosed.session.customize import VENDOR_FINE_TUNING

    oc.setup("offline", verbose=False, today="2026-12-06")
    texts = oc.sentiment_data("train").head(6)
    quote = oc.fine_tuning_quote(None, texts, epochs=2)
    row = quote.iloc[0]
    assert len(quote) == 1 and row["epochs"] == 2 and row["training tokens"] > 6 * 10
    assert row["$"] == pytest.approx(row["training tokens"] * VENDOR_FINE_TUNING["usd_per_1m_training_tokens"] / 1e6)
    assert row["x base model per call"] > 1   # the tuned copy costs more per call than its base
    assert "shuts down 2027-01-14, 39 days" in row["base model"] and "gpt-6-luna" in row["base model"]
    oc.setup("offline", verbose=False, today="2027-02-01")
    assert oc.fine_tuning_quote(None, texts).iloc[0]["base model"].startswith("retired")
