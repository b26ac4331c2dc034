"""Random-weight models built on this machine, for the plumbing: the tiny
Stable Diffusion of the offline profile, and the byte-level BPE learner its
tokenizer (and the test checkpoints in :mod:`openclosed.testing`) use.

Random weights from a fixed seed: the same folder on every machine. Every
folder holds an ``openclosed_asset.json`` with ``"random_weights": true`` and
every view labels such a model "random weights".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .asset_files import folder_size_mb, write_asset_info

SEED = 0
"""Torch seed used for every tiny model's random weights."""

TINY_MODELS_VERSION = 1
"""Written as ``asset_version``; bump when any builder's output changes (cached
copies, e.g. :func:`openclosed.catalog.assets.tiny_sd_folder`, are then rebuilt)."""

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
    write_asset_info(
        folder,
        {
            "random_weights": True,
            "asset_version": TINY_MODELS_VERSION,
            "seed": SEED,
            "note": RANDOM_NOTE,
            "size_mb": round(folder_size_mb(folder), 2),
            **info,
        },
    )
    return folder


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


def _tiny_clip_tokenizer(max_merges: int = 400, corpus: Sequence[str] = CORPUS, max_length: int = 77) -> Any:
    """A CLIPTokenizer whose vocab/merges are learnt here from ``corpus`` (CLIP layout, ~900 tokens)."""
    from transformers import CLIPTokenizer

    # Learn merges on words cut exactly as CLIP's normalizer + pre-tokenizer cut them.
    template = CLIPTokenizer().backend_tokenizer
    words = []
    for text in corpus:
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
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=max_length)


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
