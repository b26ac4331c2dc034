"""What is in each pinned hub repository: for every built-in hub model, the
files at its pinned commit that loading reads (weights, configuration,
tokenizer; for a diffusers pipeline the per-component files), and where that
list was found.

The catalog entry (:mod:`openclosed.catalog.builtin`) holds the revision; a
record here is keyed by the same ``(ref, revision)``, so a new pin without a
new record is caught by the tests. The downloader fetches exactly the weight
files named here (a repository may hold other safetensors the pipeline never
reads: a single-file checkpoint, fp16 variants, a safety checker), the
stand-in builder writes the same weight file names, and the loader names the
missing file when a snapshot lacks one.

The lists come from public code and documents that pin or list the same
commits, not from the Hub itself; ``verified`` says how far each one is
confirmed for the exact pinned commit, ``found`` what its source shows.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".ot", ".gguf", ".onnx")
"""File endings of model weights (any format: the loader reads safetensors only)."""


@dataclass(frozen=True)
class HubFiles:
    """The files of ``ref`` at commit ``revision`` that loading needs."""

    ref: str
    revision: str
    files: tuple[str, ...]  # paths inside the repository, "/"-separated
    source: str  # URL where the list (or its decisive part) was found
    verified: str  # how far the list is confirmed for this exact commit
    found: str  # what the source shows

    @property
    def weights(self) -> tuple[str, ...]:
        """The weight files among :attr:`files`."""
        return tuple(f for f in self.files if f.endswith(WEIGHT_SUFFIXES))

    def folders(self) -> list[str]:
        """Folders holding a model configuration (``config.json``): each needs its own weights."""
        return sorted({posixpath.dirname(f) for f in self.files if posixpath.basename(f) == "config.json"})


_SD_PIPELINE = (
    "model_index.json",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
)
"""A Stable Diffusion pipeline in the diffusers layout, float32 safetensors (no variant)."""

HUB_FILES: tuple[HubFiles, ...] = (
    HubFiles(
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "714eb0fa89d2f80546fda750413ed43d93601a13",
        ("config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"),
        source="https://github.com/farach/huggingfaceR/blob/bdea4d7083fb340d58657d803ff3c9ef959f2e65/"
               "scripts/test-local-models.R",
        verified="weights: this exact commit; config and tokenizer names: a listing at main",
        found="Public test code downloads this repository at this commit, asserts that model.safetensors exists in "
              "the snapshot and loads the classifier from it offline. The same commit is transformers' "
              "text-classification default (https://github.com/huggingface/transformers/blob/"
              "003512fc18f7c5d26a52460807b6df98d3a61c79/src/transformers/pipelines/__init__.py); the safetensors "
              "project lists the repository as single-file safetensors of 66,955,010 F32 parameters "
              "(https://github.com/huggingface/safetensors/blob/01b9ce07e953c323c79777b883b136cb03bed14b/temp.md). "
              "config.json, tokenizer_config.json and vocab.txt: public Dockerfiles that fetch them (with "
              "model.safetensors) from main."),
    HubFiles(
        "HuggingFaceTB/SmolLM2-360M-Instruct", "a10cc1512eabd3dde888204e902eca88bddb4951",
        ("config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json",
         "tokenizer_config.json"),
        source="https://github.com/search?type=code&q=a10cc1512eabd3dde888204e902eca88bddb4951",
        verified="not confirmed for this exact commit: the names are those pinned public code lists for the "
                 "sibling SmolLM2-135M-Instruct checkpoint",
        found="Public provisioning code pins SmolLM2-360M-Instruct at this commit and checks the size and sha256 "
              "of each file it downloads (the 360M list itself is not printed there; it notes the repository has "
              "no LICENSE file). For the sibling SmolLM2-135M-Instruct pin it lists config.json, "
              "generation_config.json, model.safetensors, special_tokens_map.json, tokenizer.json, "
              "tokenizer_config.json (and LICENSE, README.md). The model card carries the safetensors tag."),
    HubFiles(
        "Qwen/Qwen2.5-3B-Instruct", "aa8e72537993ba99e69dfaafa59ed015b17504d1",
        ("config.json", "generation_config.json", "merges.txt", "model-00001-of-00002.safetensors",
         "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.json",
         "tokenizer_config.json", "vocab.json"),
        source="https://github.com/search?type=code&q=aa8e72537993ba99e69dfaafa59ed015b17504d1",
        verified="config.json and generation_config.json: this exact commit; weight shard and tokenizer names: "
                 "a listing whose commit is not stated",
        found="Public code links config.json at this commit (huggingface.co/Qwen/Qwen2.5-3B-Instruct/resolve/"
              "aa8e725.../config.json) and records the sha256 of generation_config.json at this commit; other "
              "public code downloads every file at this commit from a pinned identity file (names not shown). A "
              "public copy of the model folder (commit not stated) holds model-00001-of-00002.safetensors and "
              "model-00002-of-00002.safetensors; the index and tokenizer files are those of every sharded Qwen2.5 "
              "checkpoint."),
    HubFiles(
        "nota-ai/bk-sdm-tiny", "0364108e53b7f7f4d2585e817a0b7a83dc261cfa", _SD_PIPELINE,
        source="https://github.com/QuaanNguyen/q.it/blob/eb81514b01d6086ae95813a6961f7394e33e97c4/"
               "docs/research/sub-billion-multimodal-models.md",
        verified="weights: this exact commit; configuration, scheduler and tokenizer names: the diffusers "
                 "Stable Diffusion layout, not seen listed for this repository",
        found="A public audit links this exact commit and states it contains unet/diffusion_pytorch_model."
              "safetensors, text_encoder/model.safetensors and vae/diffusion_pytorch_model.safetensors (their "
              "headers were audited). The safety checker and feature extractor the pipeline index may name are not "
              "listed: the loader does not load the safety checker."),
    HubFiles(
        "stabilityai/sd-turbo", "b261bac6fd2cf515557d5d0707481eafa0485ec2", _SD_PIPELINE,
        source="https://github.com/search?type=code&q=b261bac6fd2cf515557d5d0707481eafa0485ec2",
        verified="this exact commit",
        found="Public code downloads exactly these 12 files ('the official FP32 Diffusers layout') at this "
              "commit, looking each one up in the Hub's file list for the revision "
              "(api/models/stabilityai/sd-turbo/revision/b261bac6...?blobs=true) and checking its LFS sha256. Other "
              "public code fetches sd_turbo.safetensors (5,214,561,328 bytes, a single-file checkpoint) from the "
              "same commit: the repository holds more safetensors than the pipeline reads, so a download takes "
              "the weight files named here only."),
)
"""One record per pinned built-in hub model."""

_BY_PIN = {(h.ref, h.revision): h for h in HUB_FILES}


def hub_files(spec) -> HubFiles | None:
    """The record for ``spec``'s repository at its pinned revision, or None (an unrecorded model or pin)."""
    return _BY_PIN.get((spec.ref, spec.revision))
