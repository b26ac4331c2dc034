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
  :func:`openclosed.assets.tiny_sd_folder` caches one.

Serving notes
-------------
Checked with transformers 5.23.0 ``transformers serve`` (``transformers[serving]``)
and the ``openai`` 3.51 client, on CPU (2 cores), with a
:func:`build_tiny_causal_lm` folder and with the converted SmolLM2 folder of
:func:`openclosed.assets.smollm2_folder`; both work the same way.

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

from .assets import write_asset_info

__all__ = [
    "CHAT_TEMPLATE",
    "SEED",
    "TINY_MODELS_VERSION",
    "build_tiny_causal_lm",
    "build_tiny_sd",
    "build_tiny_sequence_classifier",
    "import_diffusers_sd",
    "learn_bpe_merges",
]

SEED = 0
"""Torch seed used for every tiny model's random weights."""

TINY_MODELS_VERSION = 1
"""Written as ``asset_version``; bump when any builder's output changes (cached
copies, e.g. :func:`openclosed.assets.tiny_sd_folder`, are then rebuilt)."""

RANDOM_NOTE = "random weights: proves the plumbing, the outputs are meaningless"

# A small corpus the tokenizers are trained on (any English text would do).
CORPUS: tuple[str, ...] = (
    "What is the capital of France? The capital of France is Paris.",
    "Open models can be downloaded and run on your own computer.",
    "Closed models are reached through an API and billed per token.",
    "The quick brown fox jumps over the lazy dog.",
    "I loved this movie, it was wonderful, great and fun.",
    "I hated this film, it was terrible, boring and bad.",
    "The food was excellent and the service was friendly.",
    "The room was dirty and the staff were rude. Never again!",
    "A red apple, a green pear and a yellow banana sit on the table.",
    "Hello! How are you today? I am fine, thank you.",
    "Please summarise this text in one short sentence.",
    "Translate to French: good morning, good night, thank you.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 3.14",
    "Write a short poem about the sea, the sky and the stars.",
    "The model answered quickly, but the answer was wrong.",
    "Latency, throughput, cost and quality are compared side by side.",
    "system user assistant: You are a helpful assistant.",
    "Tokens, embeddings, attention, layers, weights and logits.",
    "It's not bad, it's actually pretty good; I'd watch it again.",
    "Punctuation: commas, periods. Questions? Exclamations! (Parentheses) [brackets] {braces}",
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


def learn_bpe_merges(words: Sequence[tuple[str, ...]], max_merges: int, min_count: int = 2) -> list[tuple[str, str]]:
    """Learn BPE merges from pre-split ``words`` (tuples of symbols), deterministically.

    Plain BPE: repeatedly merge the most frequent adjacent pair; ties go to the
    alphabetically smallest pair. (The ``tokenizers`` trainers break ties by
    internal ids that change from one process to the next, so their output is
    not reproducible; on a corpus this small ties are everywhere.)
    """
    counts: dict[tuple[str, ...], int] = {}
    for w in words:
        if w:
            counts[w] = counts.get(w, 0) + 1
    merges: list[tuple[str, str]] = []
    while len(merges) < max_merges:
        pairs: dict[tuple[str, str], int] = {}
        for w, c in counts.items():
            for pair in zip(w, w[1:]):
                pairs[pair] = pairs.get(pair, 0) + c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < min_count:
            break
        merges.append(best)
        a, b = best
        merged: dict[tuple[str, ...], int] = {}
        for w, c in counts.items():
            out: list[str] = []
            i = 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            key = tuple(out)
            merged[key] = merged.get(key, 0) + c
        counts = merged
    return merges


def _seed() -> None:
    import torch

    torch.manual_seed(SEED)


def _finish(folder: Path, info: dict[str, Any]) -> Path:
    from . import assets

    write_asset_info(
        folder,
        {
            "random_weights": True,
            "asset_version": TINY_MODELS_VERSION,
            "seed": SEED,
            "note": RANDOM_NOTE,
            "size_mb": round(assets.folder_size_mb(folder), 2),
            **info,
        },
    )
    return folder


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


# --------------------------------------------------------------------------- Stable Diffusion


def import_diffusers_sd() -> tuple[Any, Any, Any, Any]:
    """Import ``(AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel)``.

    Importing diffusers' Stable Diffusion pipeline touches transformers'
    ``CLIPImageProcessor``, which logs "requires torchvision (not installed);
    falling back to CLIPImageProcessorPil" when torchvision is absent (it is not
    needed: these pipelines run without a feature extractor). That one-time
    warning is silenced here; everything else is logged as usual.
    """
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    finally:
        hf_logging.set_verbosity(before)
    return AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def _non_ascii_byte_ids(vocab: dict[str, int]) -> list[int]:
    """Ids of byte-level tokens holding a byte that is not printable ASCII (or newline)."""
    byte_of = {c: b for b, c in _bytes_to_unicode().items()}
    ok = set(range(0x20, 0x7F)) | {0x0A}
    return sorted(
        i for t, i in vocab.items() if all(c in byte_of for c in t) and any(byte_of[c] not in ok for c in t)
    )


def _tiny_clip_tokenizer(max_merges: int = 400) -> Any:
    """A CLIPTokenizer whose vocab/merges are built here (CLIP layout, ~900 tokens)."""
    from transformers import CLIPTokenizer

    # Learn merges on words cut exactly as CLIP's normalizer + pre-tokenizer cut them.
    template = CLIPTokenizer().backend_tokenizer
    words = []
    for text in CORPUS:
        for piece, _ in template.pre_tokenizer.pre_tokenize_str(template.normalizer.normalize_str(text)):
            words.append(tuple(piece[:-1]) + (piece[-1] + "</w>",))
    merges = learn_bpe_merges(words, max_merges=max_merges)

    # CLIP layout: 256 byte chars, the same with "</w>", then merge results, then the two specials.
    chars = list(_bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars]
    seen = set(tokens)
    for a, b in merges:
        if a + b not in seen:
            seen.add(a + b)
            tokens.append(a + b)
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def build_tiny_sd(folder: Path) -> Path:
    """Write a tiny random Stable Diffusion pipeline into ``folder`` and return it.

    ``StableDiffusionPipeline`` with a tiny ``UNet2DConditionModel`` (32x32
    latents), ``AutoencoderKL`` (scale factor 2, so 64x64 images), 2-layer
    ``CLIPTextModel`` with a ``CLIPTokenizer`` built in code, and a
    ``PNDMScheduler`` with ``steps_offset=1``; no safety checker / feature
    extractor. Random weights from a fixed seed: the same folder every time,
    and its images are noise. Use::

        pipe = StableDiffusionPipeline.from_pretrained(folder)
        pipe("a red apple", num_inference_steps=2,
             generator=torch.Generator("cpu").manual_seed(0)).images[0]
    """
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel = import_diffusers_sd()

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    tokenizer = _tiny_clip_tokenizer()
    _seed()
    unet = UNet2DConditionModel(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    _seed()
    vae = AutoencoderKL(
        sample_size=64,
        in_channels=3,
        out_channels=3,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=32,
    )
    _seed()
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            projection_dim=32,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    scheduler = PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        skip_prk_steps=True,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    n_params = sum(p.numel() for m in (unet, vae, text_encoder) for p in m.parameters())
    return _finish(
        folder,
        {
            "name": "tiny-sd-random",
            "architecture": "StableDiffusionPipeline",
            "image_size": [64, 64],
            "parameters": n_params,
            "dtype": str(torch.float32),
            "note": "random weights: proves the plumbing, the images are noise",
        },
    )
