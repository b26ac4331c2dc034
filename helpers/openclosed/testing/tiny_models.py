"""Tiny random-weight checkpoints for tests and plumbing checks.

Each ``build_*`` function writes an ordinary Hugging Face folder with
``save_pretrained`` (safetensors) into ``folder`` and returns it. The folders
are a few MB at most, build in about a second on 2 CPU cores, need no network,
and are byte-for-byte deterministic (fixed seed; tokenizers built from a small in-code
corpus with a deterministic merge learner). Every folder holds an ``openclosed_asset.json`` with
``"random_weights": true``: the models *run* but say nothing meaningful - they
prove the plumbing (loading, chat templates, generation, serving, pipelines),
not quality.

* :func:`build_tiny_causal_lm` - 2-layer Llama chat model (byte-level BPE
  tokenizer, chat template, eos/pad set); works with ``AutoModelForCausalLM``,
  ``apply_chat_template`` + ``generate``, and ``transformers serve``.
* :func:`build_tiny_sequence_classifier` - 2-layer DistilBERT classifier with
  ``id2label``/``label2id`` (WordPiece tokenizer).
* :func:`build_tiny_sd` - tiny Stable Diffusion pipeline (64x64 noise images);
  :func:`openclosed.catalog.assets.tiny_sd_folder` caches one.

Serving notes
-------------
Checked with transformers 5.23.0 ``transformers serve`` (``transformers[serving]``)
and the ``openai`` 3.51 client, on CPU (2 cores), with a
:func:`build_tiny_causal_lm` folder and with the converted SmolLM2 folder of
:func:`openclosed.catalog.assets.smollm2_folder`; both work the same way.

* Command: ``transformers serve FOLDER --host 127.0.0.1 --port 8765 --device cpu``.
  ``FOLDER`` is the positional ``FORCE_MODEL`` argument: the model is loaded at
  start-up and the server is *pinned* to it (never unloaded). Without it the
  server loads models by name on demand (Hub ids: useless offline). Defaults:
  ``--host localhost``, ``--port 8000``, ``--device auto``, ``--dtype auto``
  (the dtype stored in the folder), ``--log-level warning``. Run it with
  ``HF_HUB_OFFLINE=1``.
* Start-up: 9-18 s until ``GET /health`` answers 200 (``{"status":"ok"}``),
  almost all of it importing torch/transformers/fastapi; poll ``/health``
  before the first request. Stop it with SIGTERM (clean uvicorn shutdown).
* The ``model`` string in a request must be **exactly** the string given on the
  command line, i.e. ``str(folder)`` - not ``folder + "/"``, not
  ``folder + "@main"``, not a short name; anything else gets HTTP 400
  ("Server is pinned to '...'; requested '...'"). The server appends ``@main``
  internally and splits ids on ``@`` and on ``:<file>.gguf``, so folder paths
  must not contain ``@``. The answer's ``model`` field comes back as
  ``"<folder>@main"``.
* ``GET /v1/models`` does not list the forced folder (it scans the Hub cache) and
  answers HTTP 500 (``CacheNotFound``) when ``~/.cache/huggingface/hub`` does not
  exist: do not use it to discover the model name.
* Client: ``OpenAI(base_url="http://127.0.0.1:8765/v1", api_key="x")`` (any key),
  ``client.chat.completions.create(model=str(folder), messages=[...],
  max_tokens=8)`` -> ``choices[0].message.content``, ``finish_reason``
  (``"length"`` at ``max_tokens``) and ``usage`` (prompt/completion/total).
  ``stream=True`` works: the first chunk carries only the role (content None),
  then one text delta per token, then a last chunk with ``finish_reason``; the
  last chunk also carries ``usage``. Tiny model: ~0.2-0.5 s per 8-token request.
* Messages reach the chat template with ``content`` collapsed to one string
  (text parts joined by spaces) for text-only models; list-of-parts content
  from the client works.
* Streaming holds back tokens that are not complete UTF-8 characters; a random
  model emitting lone bytes would stream *no* text at all (and ``"\ufffd"``
  when not streamed). That is why the tiny LM's generation config suppresses
  non-ASCII byte tokens and role markers (``suppress_tokens``, which the server
  honours).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..catalog.random_weights import (  # noqa: F401 - re-exported for tests
    CORPUS,
    RANDOM_NOTE,
    SEED,
    TINY_MODELS_VERSION,
    _bytes_to_unicode,
    _finish,
    _seed,
    build_tiny_sd,
    import_diffusers_sd,
    learn_bpe_merges,
)

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "<|{{ message['role'] }}|>"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "<|end|>\n"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>{%- endif -%}"
)
"""Chat template of the tiny causal LM: ``<|role|>text<|end|>`` per message."""

_CHAT_SPECIALS = ["<|pad|>", "<|endoftext|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]


# --------------------------------------------------------------------------- causal LM


def build_tiny_causal_lm(folder: Path) -> Path:
    """Write a tiny random 2-layer Llama chat model into ``folder`` and return it.

    Byte-level BPE tokenizer (vocab <= 512; merges learnt from :data:`CORPUS` with
    :func:`learn_bpe_merges`, the model is a ``tokenizers`` BPE), wrapped as a
    ``PreTrainedTokenizerFast``, with :data:`CHAT_TEMPLATE`, ``eos_token``
    ``<|end|>`` (end of turn) and ``pad_token`` ``<|pad|>``. Works with::

        tok = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder)
        enc = tok.apply_chat_template(messages, add_generation_prompt=True,
                                      return_dict=True, return_tensors="pt")
        model.generate(**enc, max_new_tokens=8)

    and with ``transformers serve`` (see "Serving notes" in this module).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    words = [tuple(piece) for text in CORPUS for piece, _ in byte_level.pre_tokenize_str(text)]
    merges = learn_bpe_merges(words, max_merges=512 - len(_CHAT_SPECIALS) - 256)
    tokens = _CHAT_SPECIALS + list(_bytes_to_unicode().values()) + [a + b for a, b in merges]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    backend.pre_tokenizer = byte_level
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(_CHAT_SPECIALS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|endoftext|>",
        eos_token="<|end|>",
        pad_token="<|pad|>",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>"],
        model_max_length=256,
        padding_side="left",  # decoder-only: left padding for batched generate
    )
    tokenizer.chat_template = CHAT_TEMPLATE

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<|pad|>", "<|endoftext|>", "<|end|>")}
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|end|>"],
        pad_token_id=ids["<|pad|>"],
    )
    _seed()
    model = LlamaForCausalLM(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|pad|>"],
        do_sample=False,
        # Random weights would happily emit role markers (which decode to "") and
        # lone non-ASCII bytes (invalid UTF-8: "\ufffd" when decoded, nothing at
        # all when streamed). Keep both out so answers are visible ASCII gibberish.
        suppress_tokens=[vocab[t] for t in _CHAT_SPECIALS if t != "<|end|>"] + _non_ascii_byte_ids(vocab),
    )
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    n_params = sum(p.numel() for p in model.parameters())
    return _finish(
        folder,
        {"name": "tiny-causal-lm", "architecture": "LlamaForCausalLM", "parameters": n_params, "dtype": str(torch.float32)},
    )


# --------------------------------------------------------------------------- classifier


def build_tiny_sequence_classifier(folder: Path, labels: Sequence[str] = ("negative", "positive")) -> Path:
    """Write a tiny random 2-layer DistilBERT sequence classifier into ``folder`` and return it.

    ``config.id2label`` / ``label2id`` come from ``labels`` (in order). The
    WordPiece tokenizer (lower-cased; vocab = characters, ``##`` characters and
    the words of :data:`CORPUS`, ~250 tokens) is wrapped as a ``DistilBertTokenizer``. Works with
    ``AutoModelForSequenceClassification`` / ``AutoTokenizer`` and
    ``pipeline("text-classification", model=str(folder))``. The predictions are
    random (but deterministic).
    """
    import torch
    from tokenizers import normalizers, pre_tokenizers
    from transformers import DistilBertConfig, DistilBertForSequenceClassification, DistilBertTokenizer

    labels = [str(x) for x in labels]
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"labels must be at least two distinct names, got {labels!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    # Deterministic WordPiece vocab: specials, every character (alone and as a
    # "##" continuation), then every corpus word, each group sorted.
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    corpus_words = sorted({w for text in CORPUS for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(text))})
    chars = sorted({c for w in corpus_words for c in w})
    tokens = specials + chars + ["##" + c for c in chars] + [w for w in corpus_words if len(w) > 1]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    tokenizer = DistilBertTokenizer(vocab=vocab, model_max_length=128)

    config = DistilBertConfig(
        vocab_size=len(vocab),
        dim=32,
        hidden_dim=64,
        n_layers=2,
        n_heads=2,
        max_position_embeddings=128,
        pad_token_id=vocab["[PAD]"],
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    _seed()
    model = DistilBertForSequenceClassification(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    n_params = sum(p.numel() for p in model.parameters())
    return _finish(
        folder,
        {
            "name": "tiny-sequence-classifier",
            "architecture": "DistilBertForSequenceClassification",
            "labels": labels,
            "parameters": n_params,
            "dtype": str(torch.float32),
        },
    )


def _non_ascii_byte_ids(vocab: dict[str, int]) -> list[int]:
    """Ids of byte-level tokens holding a byte that is not printable ASCII (or newline)."""
    byte_of = {c: b for b, c in _bytes_to_unicode().items()}
    ok = set(range(0x20, 0x7F)) | {0x0A}
    return sorted(
        i for t, i in vocab.items() if all(c in byte_of for c in t) and any(byte_of[c] not in ok for c in t)
    )


