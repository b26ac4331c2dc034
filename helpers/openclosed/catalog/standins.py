"""Random-weight stand-ins for hub models: a rehearsal of the ``workshop`` and
``gpu`` profiles where the Hugging Face Hub cannot be reached.

A stand-in has the model's **real published configuration** (the same
architecture and parameter count, from ``standin_configs/<name>/``; see
``SOURCES.md`` there for where each file came from) and **random weights**
drawn from a fixed seed, saved as bfloat16 safetensors under the weight file
names the real download has (the model's record in :mod:`~openclosed.catalog.hub_files`:
one ``model.safetensors``, or as many shards, or one file per pipeline
component; checked after every build). It is written into the
Hugging Face hub cache exactly where ``snapshot_download(spec.ref,
revision=spec.revision)`` would put the download
(``models--org--name/snapshots/<commit>/``, plus ``refs/<revision>`` when the
revision is a branch name), so the session finds it like a real download:
the ``workshop`` profile is chosen, memory budgets and dtypes are decided on
the real sizes, and loading, running and reporting go through the same code.

Every stand-in folder holds an ``openclosed_asset.json`` with
``"stand_in": true`` and ``"random_weights": true``; every result of such a
model carries a "STAND-IN: random weights" note and is labelled
"random weights" in tables and reports. Its answers are meaningless.

Tokenizers are built in code (no download): small vocabularies learnt from a
short corpus, with the model's real special tokens at their real ids where
that matters (ChatML ``<|im_start|>``/``<|im_end|>`` for the chat models) and,
for causal LMs, filler tokens up to the real vocabulary size so every id the
model can emit decodes to something visible.

Build the stand-ins of a profile (skips models already on disk, never touches
a real download)::

    python -m openclosed.catalog.standins --profile workshop [--hub-cache DIR]
    python -m openclosed.catalog.standins --profile workshop --remove   # before a real download

A real download of a pinned (40-hex) revision lands in the same snapshot
folder, and ``huggingface_hub`` keeps files that are already there: remove the
stand-ins first (``--remove``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import OpenClosedError
from ..core.labels import LABELS, zero_shot_messages
from .asset_files import build_atomically, folder_size_mb, read_asset_info, write_asset_info
from .hub import hub_models, is_pinned
from .hub_files import hub_files
from .random_weights import CORPUS, SEED, _bytes_to_unicode, _tiny_clip_tokenizer, learn_bpe_merges
from .registry import get_model
from .specs import ModelSpec

STANDIN_VERSION = 2
"""Written as ``asset_version``; bump when the builder's output changes (older stand-ins are then rebuilt)."""

CONFIG_ROOT = Path(__file__).resolve().parent / "standin_configs"
"""``<catalog name>/`` folders with the real configuration files (see ``SOURCES.md`` there)."""

DTYPE = "bfloat16"
"""The dtype the random weights are stored in (the session picks its own dtype when loading)."""

_SHARD = re.compile(r"^model-\d{5}-of-\d{5}\.safetensors$")

NOTE = ("STAND-IN: random weights with this model's real configuration (a rehearsal without the Hub); "
        "its outputs are meaningless")

# Chat models: the real special tokens at their real ids (so the ids in the real config.json are right),
# and the default system prompt of their ChatML templates.
_CHAT = {
    "smollm2-360m": {
        "specials": {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2},
        "bos": "<|im_start|>", "eos": "<|im_end|>", "pad": "<|im_end|>", "unk": "<|endoftext|>",
        "system": "You are a helpful AI assistant named SmolLM, trained by Hugging Face",
    },
    "qwen2.5-3b": {
        "specials": {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645},
        "bos": None, "eos": "<|im_end|>", "pad": "<|endoftext|>", "unk": None,
        "system": "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    },
}

CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if loop.first and message['role'] != 'system' %}"
    "{{- '<|im_start|>system\\n' + default_system + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] }}"
    "{%- else %}{%- for part in message['content'] %}"
    "{%- if part['type'] == 'text' %}{{- part['text'] }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
"""ChatML, the layout of SmolLM2's and Qwen2.5's templates (``<|im_start|>role\\n...<|im_end|>``),
without their tool-calling parts; ``default_system`` is filled in per model."""


@dataclass
class StandinStatus:
    """What :func:`build_standins` did for one model."""

    name: str
    ref: str
    revision: str
    folder: Path
    status: str  # built | stand-in already there | real download present (left alone)
    parameters: int | None = None
    size_mb: float | None = None
    seconds: float = 0.0


# --------------------------------------------------------------------------- where


def has_standin_config(name: str) -> bool:
    """Whether a real configuration for ``name`` is bundled (so a stand-in can be built)."""
    return (CONFIG_ROOT / name).is_dir()


def config_folder(spec: ModelSpec | str) -> Path:
    """The bundled real configuration files of ``spec``."""
    spec = get_model(spec)
    folder = CONFIG_ROOT / spec.name
    if not folder.is_dir():
        known = sorted(p.name for p in CONFIG_ROOT.iterdir() if p.is_dir())
        raise OpenClosedError(f"no stand-in configuration for {spec.name!r}",
                              f"stand-ins exist for: {', '.join(known)}")
    return folder


def hub_cache_dir(hub_cache: str | Path | None = None) -> Path:
    """``hub_cache``, else the folder ``huggingface_hub`` downloads into (``HF_HUB_CACHE`` / ``HF_HOME``)."""
    if hub_cache is not None:
        return Path(hub_cache).expanduser()
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE).expanduser()


def _revision(spec: ModelSpec) -> str:
    return spec.revision or "main"


def standin_commit(spec: ModelSpec) -> str:
    """The snapshot folder name: the pinned commit itself, or for a branch name a
    fixed made-up commit (recorded in ``refs/<branch>``, as a download would)."""
    rev = _revision(spec)
    if is_pinned(rev):
        return rev
    return hashlib.sha1(f"openclosed stand-in {spec.ref}@{rev}".encode()).hexdigest()


def _storage(spec: ModelSpec, hub_cache: str | Path | None) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    return hub_cache_dir(hub_cache) / repo_folder_name(repo_id=spec.ref, repo_type="model")


def _resolve(spec: ModelSpec, hub_cache: str | Path | None) -> tuple[Path, str | None]:
    """(snapshot folder that ``snapshot_download`` would return, the commit in ``refs/`` if one is written there)."""
    storage = _storage(spec, hub_cache)
    rev = _revision(spec)
    if is_pinned(rev):
        return storage / "snapshots" / rev, None
    ref_file = storage / "refs" / rev
    commit = ref_file.read_text().strip() if ref_file.is_file() else None
    return storage / "snapshots" / (commit or standin_commit(spec)), commit


def snapshot_folder(spec: ModelSpec | str, hub_cache: str | Path | None = None) -> Path:
    """Where ``snapshot_download(spec.ref, revision=spec.revision)`` finds (or would put) the files."""
    return _resolve(get_model(spec), hub_cache)[0]


def standin_info(spec: ModelSpec | str, hub_cache: str | Path | None = None) -> dict[str, Any] | None:
    """The marker of ``spec``'s snapshot when it is a stand-in, else None (missing, or a real download)."""
    folder = snapshot_folder(spec, hub_cache)
    info = read_asset_info(folder) if folder.is_dir() else None
    return info if info and info.get("stand_in") else None


def on_disk(spec: ModelSpec | str, hub_cache: str | Path | None = None) -> str:
    """``"stand-in"``, ``"real"`` (a download: files without the stand-in marker) or ``"missing"``."""
    spec = get_model(spec)
    folder, commit = _resolve(spec, hub_cache)
    if standin_info(spec, hub_cache):
        return "stand-in"
    if folder.is_dir() and any(folder.iterdir()):
        return "real"
    if commit is not None and commit != standin_commit(spec):
        return "real"  # refs/ written by a download (its snapshot may be gone): not ours to replace
    return "missing"


# --------------------------------------------------------------------------- parameter counts


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _components(spec: ModelSpec, device: str) -> dict[str, Any]:
    """The torch modules of ``spec`` built from its real configuration on ``device`` (``meta``: no memory)."""
    import torch

    folder = config_folder(spec)
    with torch.device(device):
        if (folder / "model_index.json").is_file():
            from diffusers import AutoencoderKL, UNet2DConditionModel
            from transformers import CLIPTextConfig, CLIPTextModel

            return {
                "unet": UNet2DConditionModel.from_config(_read_json(folder / "unet" / "config.json")),
                "vae": AutoencoderKL.from_config(_read_json(folder / "vae" / "config.json")),
                "text_encoder": CLIPTextModel(CLIPTextConfig.from_pretrained(folder / "text_encoder")),
            }
        import transformers

        config = transformers.AutoConfig.from_pretrained(folder)
        arch = (config.architectures or [""])[0]
        auto = (transformers.AutoModelForSequenceClassification if arch.endswith("ForSequenceClassification")
                else transformers.AutoModelForCausalLM)
        return {"model": auto.from_config(config)}


def count_parameters(spec: ModelSpec | str) -> dict[str, int]:
    """Parameters of each component of ``spec`` as its real configuration defines them (tied weights
    counted once), computed on the ``meta`` device: no weights are made."""
    spec = get_model(spec)
    return {name: sum(p.numel() for p in module.parameters()) for name, module in _components(spec, "meta").items()}


# --------------------------------------------------------------------------- random weights


def _randomize(module: Any, generator: Any, std: float) -> None:
    """Fill ``module``'s (uninitialised) weights from ``generator``: normal(0, std) for weight
    matrices and convolutions, 1 for norm scales, 0 for biases. Faster than the libraries'
    own initialisation (which runs twice) and the same on every machine."""
    import torch

    with torch.no_grad():
        for mod_name, mod in module.named_modules():
            is_norm = "Norm" in type(mod).__name__
            for p_name, p in mod.named_parameters(recurse=False):
                if is_norm or p.ndim == 1:
                    p.fill_(1.0 if is_norm and p_name == "weight" else 0.0)
                else:
                    p.normal_(0.0, std, generator=generator)
    params = {n for n, _ in module.named_parameters(remove_duplicate=False)}
    persistent = [k for k in module.state_dict() if k not in params]
    if persistent:  # none in the bundled configs; a new one must be filled here before it is saved
        raise OpenClosedError(f"internal error: persistent buffers {persistent} of {type(module).__name__} "
                              "would be saved uninitialised", "teach catalog.standins._randomize to fill them")


def _random_components(spec: ModelSpec) -> dict[str, Any]:
    """The components with random weights in :data:`DTYPE` (built on the meta device, then filled)."""
    import torch

    modules = _components(spec, "meta")
    generator = torch.Generator().manual_seed(SEED)
    for module in modules.values():
        module.to(getattr(torch, DTYPE))  # still on meta: nothing allocated yet
        module.to_empty(device="cpu")
        if hasattr(module, "tie_weights"):
            module.tie_weights()
        std = float(getattr(getattr(module, "config", None), "initializer_range", 0.02) or 0.02)
        _randomize(module, generator, std)
        module.eval()
    return modules


# --------------------------------------------------------------------------- tokenizers


def _chat_corpus() -> list[str]:
    """Texts the chat tokenizers learn merges from: the shared corpus, the zero-shot prompt and
    the label words (twice each, so every one of them becomes a single token)."""
    prompt = [m["content"] for m in zero_shot_messages("")]
    labels = [w for lab in LABELS for w in (lab, lab.capitalize(), " " + lab, " " + lab.capitalize())]
    return list(CORPUS) + prompt * 2 + labels * 2


def _chat_tokenizer(spec: ModelSpec, vocab_size: int, max_length: int) -> tuple[Any, int]:
    """(tokenizer, number of learnt tokens): byte-level BPE with the real special tokens at their
    real ids, filler tokens up to ``vocab_size`` and a ChatML template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chat = _CHAT[spec.name]
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    words = [tuple(piece) for text in _chat_corpus() for piece, _ in byte_level.pre_tokenize_str(text)]
    merges = learn_bpe_merges(words, max_merges=4000)
    specials: dict[str, int] = chat["specials"]
    regular = list(dict.fromkeys(list(_bytes_to_unicode().values()) + [a + b for a, b in merges]))
    regular = [t for t in regular if t not in specials]
    n_fill = vocab_size - len(specials) - len(regular)
    if n_fill < 0 or max(specials.values()) >= vocab_size:
        raise OpenClosedError(f"internal error: the {spec.name} tokenizer does not fit its vocabulary of {vocab_size}")
    # Filler ids decode to " #<id>": what a random model says is visible noise, never an unknown id.
    taken = set(regular)
    fillers, i = [], 0
    while len(fillers) < n_fill:
        token = f"\u0120#{i}"
        if token not in taken:
            fillers.append(token)
        i += 1
    queue = iter(regular + fillers)
    by_id = {v: k for k, v in specials.items()}
    vocab = {(by_id[i] if i in by_id else next(queue)): i for i in range(vocab_size)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    backend.pre_tokenizer = byte_level
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(list(specials))
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=chat["bos"], eos_token=chat["eos"], pad_token=chat["pad"], unk_token=chat["unk"],
        additional_special_tokens=[t for t in specials if t not in (chat["bos"], chat["eos"], chat["pad"], chat["unk"])],
        model_max_length=max_length,
        padding_side="left",
    )
    tok.chat_template = CHATML_TEMPLATE.replace("default_system", json.dumps(chat["system"]))
    return tok, len(regular)


def _wordpiece_tokenizer(max_length: int) -> Any:
    """Lower-cased WordPiece in BERT's layout ([PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103):
    characters, ``##`` characters and the words of the corpus and the bundled sentiment texts."""
    from importlib import resources

    from tokenizers import normalizers, pre_tokenizers
    from transformers import DistilBertTokenizer

    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    texts = list(CORPUS)
    try:
        import csv

        with resources.files("openclosed").joinpath("data/sentiment.csv").open("r", encoding="utf-8") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    except (OSError, KeyError):
        pass
    words = sorted({w for t in texts for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(t))})
    chars = sorted({c for w in words for c in w})
    tokens = (["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
              + chars + ["##" + c for c in chars] + [w for w in words if len(w) > 1])
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    return DistilBertTokenizer(vocab=vocab, model_max_length=max_length)


def _roberta_tokenizer(max_length: int) -> Any:
    """Byte-level BPE in RoBERTa's layout (<s> 0, <pad> 1, </s> 2, <unk> 3, ..., <mask> last)."""
    from tokenizers import pre_tokenizers
    from transformers import RobertaTokenizer

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    words = [tuple(piece) for text in CORPUS for piece, _ in byte_level.pre_tokenize_str(text)]
    merges = learn_bpe_merges(words, max_merges=4000)
    tokens = ["<s>", "<pad>", "</s>", "<unk>"] + list(_bytes_to_unicode().values()) + [a + b for a, b in merges]
    tokens = list(dict.fromkeys(tokens)) + ["<mask>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    return RobertaTokenizer(vocab=vocab, merges=[f"{a} {b}" for a, b in merges], model_max_length=max_length)


# --------------------------------------------------------------------------- building


def _finish(folder: Path, spec: ModelSpec, counts: dict[str, int], tokenizer_note: str) -> None:
    write_asset_info(folder, {
        "stand_in": True,
        "random_weights": True,
        "name": spec.name,
        "ref": spec.ref,
        "revision": _revision(spec),
        "commit": standin_commit(spec),
        "config_source": f"openclosed/catalog/standin_configs/{spec.name}/ (sources: SOURCES.md there)",
        "parameters": sum(counts.values()),
        "parameters_by_component": counts,
        "dtype": DTYPE,
        "seed": SEED,
        "asset_version": STANDIN_VERSION,
        "tokenizer": tokenizer_note,
        "size_mb": round(folder_size_mb(folder), 1),
        "note": NOTE,
    })


def _build_transformers(folder: Path, spec: ModelSpec) -> None:
    from transformers import GenerationConfig

    src = config_folder(spec)
    real = _read_json(src / "config.json")
    model = _random_components(spec)["model"]
    counts = {"model": sum(p.numel() for p in model.parameters())}
    max_length = min(int(real.get("max_position_embeddings") or 512), 131072)
    if real["model_type"] == "roberta":
        max_length -= 2  # RoBERTa's positions start after the padding index
    if spec.name in _CHAT:
        tok, learnt = _chat_tokenizer(spec, int(real["vocab_size"]), max_length)
        ids = tok.convert_tokens_to_ids
        model.generation_config = GenerationConfig(
            bos_token_id=real.get("bos_token_id"), eos_token_id=[ids("<|im_end|>"), ids("<|endoftext|>")],
            pad_token_id=tok.pad_token_id, do_sample=False)
        note = (f"byte-level BPE built in code: the real special tokens at their real ids, {learnt} bytes and "
                f"learnt tokens, and fillers (decoding to ' #<n>') up to the real {len(tok)} ids; ChatML template")
    elif real["model_type"] == "roberta":
        tok = _roberta_tokenizer(max_length)
        note = f"byte-level BPE in RoBERTa's layout built in code ({len(tok)} of the real {real['vocab_size']} ids)"
    else:
        tok = _wordpiece_tokenizer(max_length)
        note = f"lower-cased WordPiece in BERT's layout built in code ({len(tok)} of the real {real['vocab_size']} ids)"
    model.save_pretrained(folder, safe_serialization=True, max_shard_size=_shard_size(spec, model))
    tok.save_pretrained(folder)
    # the real configuration itself, not the library's re-serialisation of it
    (folder / "config.json").write_text(json.dumps(real, indent=2) + "\n", encoding="utf-8")
    _check_weights(folder, spec)
    _finish(folder, spec, counts, note)


def _shard_size(spec: ModelSpec, model: Any) -> int:
    """``max_shard_size`` that gives as many weight files as the real repository holds (its file record
    in :mod:`~openclosed.catalog.hub_files`): one file, or ``n`` shards ``model-0000k-of-0000n.safetensors``."""
    record = hub_files(spec)
    n = sum(1 for w in record.weights if _SHARD.match(w)) if record else 0
    seen, total = set(), 0
    for tensor in model.state_dict().values():
        if tensor.data_ptr() not in seen:  # tied weights are saved once
            seen.add(tensor.data_ptr())
            total += tensor.numel() * tensor.element_size()
    return int(total / (n - 0.5)) if n > 1 else 2 * total + 2**30


def _check_weights(folder: Path, spec: ModelSpec) -> None:
    """The stand-in holds the weight files the real download holds (its file record), by name."""
    record = hub_files(spec)
    if record is None:
        return
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.safetensors"))
    if written != sorted(record.weights):
        raise OpenClosedError(f"internal error: the stand-in of {spec.name} wrote {written}, but the real download "
                              f"holds {sorted(record.weights)} (catalog/hub_files.py)",
                              "make the stand-in builder write the recorded weight files")


def _build_diffusers(folder: Path, spec: ModelSpec) -> None:
    from diffusers import StableDiffusionPipeline
    from diffusers.schedulers import EulerDiscreteScheduler, PNDMScheduler

    src = config_folder(spec)
    parts = _random_components(spec)
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in parts.items()}
    scheduler_cfg = _read_json(src / "scheduler" / "scheduler_config.json")
    scheduler_cls = {"PNDMScheduler": PNDMScheduler, "EulerDiscreteScheduler": EulerDiscreteScheduler}[
        scheduler_cfg["_class_name"]]
    tokenizer = _tiny_clip_tokenizer()
    pipe = StableDiffusionPipeline(
        vae=parts["vae"], text_encoder=parts["text_encoder"], tokenizer=tokenizer, unet=parts["unet"],
        scheduler=scheduler_cls.from_config(scheduler_cfg), safety_checker=None, feature_extractor=None,
        image_encoder=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    for sub in ("unet", "vae", "text_encoder"):  # the real configurations, not the libraries' re-serialisations
        (folder / sub / "config.json").write_text((src / sub / "config.json").read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "scheduler" / "scheduler_config.json").write_text(
        (src / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"), encoding="utf-8")
    _check_weights(folder, spec)
    _finish(folder, spec, counts,
            f"CLIP byte-level BPE built in code ({len(tokenizer)} of the real "
            f"{parts['text_encoder'].config.vocab_size} ids); no safety checker or feature extractor")


def build_standin(spec: ModelSpec | str, hub_cache: str | Path | None = None) -> Path:
    """Write ``spec``'s stand-in where ``snapshot_download`` looks for it and return the snapshot folder.

    A stand-in that is already there is kept; a real download is never touched
    (its folder is returned as it is). ``hub_cache`` defaults to the Hugging
    Face hub cache of this process (``HF_HUB_CACHE`` / ``HF_HOME``). Needs no network.
    """
    return _build(get_model(spec), hub_cache)[0]


def _build(spec: ModelSpec, hub_cache: str | Path | None) -> tuple[Path, str]:
    if spec.source != "hub":
        raise OpenClosedError(f"{spec.name!r} is not a hub model (source {spec.source!r}): it needs no stand-in")
    config_folder(spec)
    state = on_disk(spec, hub_cache)
    folder, _ = _resolve(spec, hub_cache)
    if state == "real":
        return folder, "real download present (left alone)"
    builder = _build_diffusers if (config_folder(spec) / "model_index.json").is_file() else _build_transformers

    def build(tmp: Path) -> None:
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            builder(tmp, spec)
        finally:
            if bar:
                hf_logging.enable_progress_bar()

    built = build_atomically(folder, build, version=STANDIN_VERSION)
    if not is_pinned(_revision(spec)):
        ref_file = _storage(spec, hub_cache) / "refs" / _revision(spec)
        ref_file.parent.mkdir(parents=True, exist_ok=True)
        ref_file.write_text(standin_commit(spec))  # no newline: like huggingface_hub's own refs files
    return folder, "built" if built else "stand-in already there"


def remove_standin(spec: ModelSpec | str, hub_cache: str | Path | None = None) -> bool:
    """Delete ``spec``'s stand-in (its snapshot and the ref pointing at it); a real download is kept.
    Returns whether something was removed."""
    spec = get_model(spec)
    if not standin_info(spec, hub_cache):
        return False
    folder, commit = _resolve(spec, hub_cache)
    shutil.rmtree(folder)
    if commit is not None and commit == standin_commit(spec):
        (_storage(spec, hub_cache) / "refs" / _revision(spec)).unlink(missing_ok=True)
    storage = _storage(spec, hub_cache)
    for sub in (storage / "snapshots", storage / "refs", storage):
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
    return True


def profile_standins(profile: str) -> list[ModelSpec]:
    """The open hub models of ``profile`` that have a bundled real configuration."""
    return [m for m in hub_models(profile) if has_standin_config(m.name)]


def build_standins(profile: str | None = None, names: list[str] | None = None,
                   hub_cache: str | Path | None = None, log: Any = None) -> list[StandinStatus]:
    """Build the stand-ins of ``profile``'s hub models (or of ``names``) that are not on disk."""
    specs = [get_model(n) for n in names] if names else profile_standins(profile or "workshop")
    out = []
    for spec in specs:
        started = time.perf_counter()
        folder, status = _build(spec, hub_cache)
        info = (read_asset_info(folder) if folder.is_dir() else None) or {}
        row = StandinStatus(spec.name, spec.ref, _revision(spec), folder, status, info.get("parameters"),
                            round(folder_size_mb(folder), 1) if folder.is_dir() else None,
                            round(time.perf_counter() - started, 1))
        out.append(row)
        if log:
            log(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=["workshop", "gpu"], default="workshop")
    parser.add_argument("--models", nargs="+", metavar="NAME", help="these catalog names instead of the profile's")
    parser.add_argument("--hub-cache", help="Hugging Face hub cache folder (default: HF_HUB_CACHE / HF_HOME)")
    parser.add_argument("--remove", action="store_true", help="remove the stand-ins instead (real downloads are kept)")
    args = parser.parse_args(argv)
    specs = [get_model(n) for n in args.models] if args.models else profile_standins(args.profile)
    cache = hub_cache_dir(args.hub_cache)
    print(f"hub cache: {cache}")
    if args.remove:
        for spec in specs:
            print(f"{spec.name:16} {'removed' if remove_standin(spec, cache) else 'no stand-in there'}")
        return 0

    def log(row: StandinStatus) -> None:
        params = f"{row.parameters / 1e6:,.1f}M params" if row.parameters else "?"
        size = f"{row.size_mb:,.0f} MB" if row.size_mb is not None else "-"
        print(f"{row.name:16} {params:>18} {size:>9} {row.seconds:6.1f} s  {row.status}", flush=True)

    print(f"{'model':16} {'parameters':>18} {'size':>9} {'time':>8}  status  (STAND-INS: random weights, {DTYPE})")
    build_standins(names=[s.name for s in specs], hub_cache=cache, log=log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
