"""LoRA (``peft``) on a small chat model: teach it to answer the sentiment
question with one label word. Only the low-rank adapter matrices are
trained; the base weights stay as they are, and the adapter is a small file
that loads back onto the base model. (Introduced in ``04_customize.ipynb``;
``oc.finetune_lora`` and ``oc.ask_labels`` call it.)

The prompt is the zero-shot question every LLM in the project gets
(:func:`openclosed.core.labels.zero_shot_messages`); the target is the label
word and the end-of-turn token, and the loss counts only those tokens.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from ..core.errors import BadParameterError
from ..core.labels import exact_label, few_shot_messages, first_label
from ..core.settings import Settings, package_versions
from .finetune import TrainingRun, _Recorder, check_training_settings, folder_size_mb, labelled, split_validation

TARGET_MODULES = ("q_proj", "v_proj")


def load_causal_lm(folder: str, adapter: str | Path | None = None):
    """(model, tokenizer) from ``folder`` in float32 (training and scoring on a CPU), with the LoRA
    adapter saved in ``adapter`` loaded on top when given."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    model.eval()
    return model, tok


def end_of_turn(tok) -> str:
    """The text the chat template puts after a message (e.g. ``<|im_end|>``), without the line break."""
    return tok.apply_chat_template([{"role": "assistant", "content": "X"}], tokenize=False).split("X", 1)[1].rstrip("\n")


def ask_labels(model, tok, texts: list[str], *, examples: list[tuple[str, str]] = (), max_new_tokens: int = 4,
               batch_size: int = 16, text_tokens: int = 96) -> list[str]:
    """The model's greedy answers to the sentiment question for ``texts`` (raw text, not yet mapped)."""
    import torch

    prompts = [tok.apply_chat_template(few_shot_messages(_cut(tok, t, text_tokens), list(examples)),
                                       add_generation_prompt=True, tokenize=False) for t in texts]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    stop = [i for i in {tok.eos_token_id, tok.convert_tokens_to_ids(end_of_turn(tok))} if isinstance(i, int) and i >= 0]
    answers: dict[int, str] = {}
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id,
                                 eos_token_id=stop or None)
            for i, row in zip(idx, out[:, enc["input_ids"].shape[1]:], strict=True):
                answers[i] = tok.decode(row, skip_special_tokens=True)
    return [answers[i] for i in range(len(texts))]


def score_answers(answers: list[str], gold: list[str]) -> dict[str, Any]:
    """Accuracy (the first label word in the answer is the gold label) and format rate (the answer is
    exactly one label word), with the answers themselves."""
    import pandas as pd

    table = pd.DataFrame({"answer": answers, "gold": gold, "label": [first_label(a) for a in answers],
                          "right format": [exact_label(a) is not None for a in answers]})
    n = max(len(table), 1)
    return {"accuracy": float((table["label"] == table["gold"]).sum() / n),
            "format rate": float(table["right format"].sum() / n),
            "no label": int(table["label"].isna().sum()), "answers": table}


def _cut(tok, text: str, limit: int) -> str:
    ids = tok(text, add_special_tokens=False)["input_ids"]
    return text if len(ids) <= limit else tok.decode(ids[:limit])


def answer_loss_trainer():
    """A ``transformers.Trainer`` whose loss projects only the answer tokens onto the vocabulary.

    The default causal-LM loss computes logits for every position (batch x
    length x 49,152 words for SmolLM2, several hundred MB with their
    gradient) and then ignores all but the two or three answer tokens. Here
    the language-model head runs on the answer positions only: the same loss,
    the same gradients, a small fraction of the memory."""
    import torch
    from transformers import Trainer

    class AnswerLossTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            causal = model.get_base_model() if hasattr(model, "get_base_model") else model
            hidden = causal.model(input_ids=inputs["input_ids"],
                                  attention_mask=inputs["attention_mask"]).last_hidden_state
            target = labels[:, 1:]  # position t predicts token t + 1
            keep = target != -100
            logits = causal.lm_head(hidden[:, :-1][keep]).float()
            loss = torch.nn.functional.cross_entropy(logits, target[keep], reduction="sum")
            loss = loss / (num_items_in_batch if num_items_in_batch is not None else keep.sum())
            return (loss, {"loss": loss}) if return_outputs else loss

    return AnswerLossTrainer


def train_lora(
    base_name: str,
    base_folder: str,
    train,
    out: str | Path,
    settings: Settings,
    *,
    epochs: int = 1,
    learning_rate: float = 2e-3,
    batch_size: int = 8,
    rank: int = 8,
    alpha: int = 16,
    dropout: float = 0.05,
    limit: int | None = None,
    text_tokens: int = 96,
    validation: float = 0.0,
    target_modules: tuple[str, ...] = TARGET_MODULES,
    seed: int = 0,
    on_log: Callable[[dict], None] | None = None,
) -> TrainingRun:
    """Train a LoRA adapter (rank ``rank`` on ``target_modules``, by default the attention's query and value
    projections) so the model answers the zero-shot question with the label
    word. ``limit`` trains on that many texts (stratified) to keep it short.
    Saves only the adapter (and ``training.json``) in ``out``."""
    import datasets
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForSeq2Seq, TrainingArguments, set_seed

    check_training_settings((("epochs", epochs, 1), ("batch_size", batch_size, 1), ("rank", rank, 1),
                             ("alpha", alpha, 1)), learning_rate, "e.g. learning_rate=2e-3", example_factor=8)
    train = labelled(train, "training data")
    tr, va = split_validation(train, validation, seed)
    if limit is not None:
        if not isinstance(limit, int) or limit < 3:
            raise BadParameterError(f"limit={limit!r} must be a whole number >= 3", "e.g. limit=96, or None for all")
        if limit < len(tr):
            from sklearn.model_selection import train_test_split

            tr = train_test_split(tr, train_size=limit, random_state=seed, stratify=tr["label"])[0].reset_index(drop=True)
    set_seed(seed)
    model, tok = load_causal_lm(base_folder)
    tok.padding_side = "right"
    end = end_of_turn(tok)

    def encode(df):
        rows = {"input_ids": [], "attention_mask": [], "labels": []}
        for text, label in zip(df["text"], df["label"], strict=True):
            prompt = tok.apply_chat_template(few_shot_messages(_cut(tok, text, text_tokens)),
                                             add_generation_prompt=True, tokenize=False)
            p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
            a_ids = tok(label + end, add_special_tokens=False)["input_ids"]
            rows["input_ids"].append(p_ids + a_ids)
            rows["attention_mask"].append([1] * (len(p_ids) + len(a_ids)))
            rows["labels"].append([-100] * len(p_ids) + a_ids)
        return datasets.Dataset.from_dict(rows)

    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(target_modules),
                        task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    model.train()
    trainable, total = model.get_nb_trainable_parameters()
    out = Path(out).expanduser().resolve()
    work = out.with_name(out.name + ".trainer")
    evals = {"validation": encode(va)} if len(va) else None
    steps = max(1, -(-len(tr) // batch_size))
    args = TrainingArguments(
        output_dir=str(work), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size, learning_rate=learning_rate, warmup_steps=0.1,
        logging_steps=max(1, steps // 6), eval_strategy="epoch" if evals else "no", save_strategy="no",
        report_to="none", seed=seed, data_seed=seed, use_cpu=settings.device == "cpu", dataloader_num_workers=0,
        train_sampling_strategy="group_by_length", disable_tqdm=False, prediction_loss_only=True,
        # the layers' activations are recomputed in the backward pass instead of kept (about 1.5 GB for SmolLM2 at
        # batch 8): a LoRA run then fits a 2 GB pod beside the kernel (measured: 33 s -> 37 s of training)
        activation_checkpointing=True, activation_checkpointing_kwargs={"use_reentrant": False})
    history: list[dict] = []
    trainer = answer_loss_trainer()(model=model, args=args, train_dataset=encode(tr), eval_dataset=evals,
                                    data_collator=DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100),
                                    callbacks=[_Recorder(history, on_log)])
    started = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - started
    model.save_pretrained(str(out))
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    run = TrainingRun(
        method="LoRA adapter", base_model=base_name, base_files=str(base_folder), folder=str(out), seed=seed,
        hyperparameters={"epochs": epochs, "learning_rate": learning_rate, "batch_size": batch_size, "rank": rank,
                         "alpha": alpha, "dropout": dropout, "target_modules": list(target_modules),
                         "text_tokens": text_tokens, "warmup": 0.1, "optimizer": "adamw_torch",
                         "loss": "answer tokens only", "activation_checkpointing": True},
        data={"train": len(tr), "validation": len(va), "limit": limit, "split_seed": seed,
              "labels": {k: int(v) for k, v in tr["label"].value_counts().sort_index().items()},
              "train_ids": tr["id"].tolist() if "id" in tr.columns else None},
        trainable=int(trainable), total=int(total), train_s=train_s, size_mb=folder_size_mb(out),
        device=settings.device, dtype="float32", threads=torch.get_num_threads(), versions=package_versions(),
        history=history)
    run.save()
    return run
