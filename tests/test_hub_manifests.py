"""File records of the pinned hub models (catalog/hub_files.py): every built-in
hub model names the files its pinned commit holds, with a source; the loader's
weights (safetensors) are among them; the downloader fetches every one of
them, and no other weights; the stand-ins write the same weight files."""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from openclosed.catalog.builtin import BUILTIN
from openclosed.catalog.downloads import ALLOW, allow_patterns, problems
from openclosed.catalog.hub import FULL_REVISION
from openclosed.catalog.hub_files import HUB_FILES, HubFiles, hub_files

HUB = [m for m in BUILTIN if m.source == "hub"]


def _downloaded(paths: list[str], patterns: list[str]) -> list[str]:
    """What ``snapshot_download(allow_patterns=patterns)`` takes from a repository holding ``paths``."""
    from huggingface_hub.utils import filter_repo_objects

    return list(filter_repo_objects(paths, allow_patterns=patterns))


def test_there_are_hub_models_to_check():
    assert {"distilbert-sst2", "smollm2-360m", "bk-sdm-tiny", "qwen2.5-3b", "sd-turbo"} <= {m.name for m in HUB}


@pytest.mark.parametrize("spec", HUB, ids=lambda m: m.name)
def test_every_hub_model_has_a_sourced_record_of_its_pinned_commit(spec):
    assert FULL_REVISION.fullmatch(spec.revision or ""), spec.revision  # a full 40-hex commit
    record = hub_files(spec)
    assert record is not None and (record.ref, record.revision) == (spec.ref, spec.revision)
    assert record.source.startswith("https://") and " " not in record.source
    assert record.verified.strip() and record.found.strip()
    assert problems(spec) == []


@pytest.mark.parametrize("spec", HUB, ids=lambda m: m.name)
def test_the_loaders_weights_are_recorded_and_downloaded(spec):
    record = hub_files(spec)
    weights = [f for f in record.files if f.endswith(".safetensors")]
    assert weights and list(record.weights) == weights  # safetensors only: use_safetensors=True
    for f in record.files:
        # fnmatch, as huggingface_hub matches allow_patterns ("*" also crosses "/")
        assert any(fnmatchcase(f, p) for p in ALLOW), f
        assert _downloaded([f], ALLOW) == [f] and _downloaded([f], allow_patterns(spec)) == [f], f
    if spec.backend == "diffusers":
        assert {"model_index.json", "unet/diffusion_pytorch_model.safetensors",
                "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"} <= set(record.files)


def test_every_record_belongs_to_a_builtin_pin():
    """One source of truth: the revision lives in the catalog; a record for an old pin is stale."""
    pins = {(m.ref, m.revision) for m in HUB}
    assert {(h.ref, h.revision) for h in HUB_FILES} == pins
    assert len(HUB_FILES) == len(pins)


def test_the_download_takes_the_recorded_weights_and_no_other():
    """sd-turbo's commit also holds a 5.2 GB single-file checkpoint and fp16 variants: never downloaded."""
    spec = next(m for m in HUB if m.name == "sd-turbo")
    record = hub_files(spec)
    repo = [*record.files, "sd_turbo.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors",
            "vae/diffusion_pytorch_model.fp16.safetensors", "text_encoder/model.fp16.safetensors",
            "safety_checker/model.safetensors", "README.md", ".gitattributes"]
    assert "sd_turbo.safetensors" in _downloaded(repo, ALLOW)  # what a plain "*.safetensors" would fetch
    assert sorted(_downloaded(repo, allow_patterns(spec))) == sorted(record.files)


def test_download_passes_each_models_patterns(monkeypatch):
    import huggingface_hub

    from openclosed.catalog import downloads

    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda ref, **kw: calls.append((ref, kw)))
    monkeypatch.setattr(downloads, "remove_standin", lambda spec: False)
    names = downloads.download("workshop")
    assert names == [m.name for m in HUB if "workshop" in m.profiles]
    for (ref, kw), name in zip(calls, names, strict=True):
        spec = next(m for m in HUB if m.name == name)
        assert ref == spec.ref and kw == {"revision": spec.revision, "allow_patterns": allow_patterns(spec)}


# The commit this catalog used to pin for cardiffnlp/twitter-roberta-base-sentiment-latest (its main branch):
# public code that pins it fetches exactly these files from it, pytorch_model.bin among them, no safetensors.
CARDIFF_MAIN = ("cardiffnlp/twitter-roberta-base-sentiment-latest", "3216a57f2a0d9c45a2e6c20157c20c49fb4bf9c7",
                ("config.json", "merges.txt", "pytorch_model.bin", "vocab.json"))


def test_a_commit_with_pickled_weights_only_is_flagged():
    ref, revision, files = CARDIFF_MAIN
    spec = replace(next(m for m in HUB if m.name == "distilbert-sst2"), name="pickled", ref=ref, revision=revision)
    record = HubFiles(ref, revision, files, source="https://github.com/cardiffnlp/tweetnlp/issues/33",
                      verified="this exact commit", found="fetched by public code that pins this commit")
    found = problems(spec, record)
    assert any("no safetensors weights" in p for p in found)
    assert any(p.startswith("pytorch_model.bin: not matched by the download patterns") for p in found)
    assert any(p.startswith("pytorch_model.bin: not safetensors") for p in found)
    assert any("the repository root: a model configuration without safetensors weights" in p for p in found)
    assert hub_files(spec) is None and problems(spec)  # and no record at all is flagged too


def test_records_that_cannot_be_downloaded_or_loaded_are_flagged():
    spec = next(m for m in HUB if m.name == "qwen2.5-3b")
    record = hub_files(spec)
    one_shard = replace(record, files=tuple(f for f in record.files if "00002-of" not in f))
    assert any("a shard of 2 without all its shards" in p for p in problems(spec, one_shard))
    variant = replace(record, files=(*record.files, "model.fp16.safetensors"))
    assert any("a variant file" in p for p in problems(spec, variant))
    unsourced = replace(record, source="public code")
    assert any("no source URL" in p for p in problems(spec, unsourced))
    assert any("not a full 40-hex commit" in p for p in problems(replace(spec, revision="main")))
    pipe = next(m for m in HUB if m.name == "bk-sdm-tiny")
    no_unet = replace(hub_files(pipe), files=tuple(f for f in hub_files(pipe).files if not f.startswith("unet/d")))
    assert any(p.startswith("unet: a model configuration without safetensors") for p in problems(pipe, no_unet))


def test_the_stand_ins_write_the_recorded_weight_files(workshop_standins):
    """The rehearsal mirrors the real download, file name for file name (the builder also checks it)."""
    from openclosed.catalog.standins import profile_standins, snapshot_folder

    for spec in profile_standins("workshop"):
        folder = snapshot_folder(spec, workshop_standins)
        written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.safetensors"))
        assert written == sorted(hub_files(spec).weights), spec.name


def test_a_sharded_model_s_stand_in_gets_its_shard_names(tmp_path):
    """Qwen2.5-3B-Instruct is two shards on the Hub: the stand-in's max_shard_size makes two as well."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from openclosed.catalog import standins

    spec = next(m for m in HUB if m.name == "qwen2.5-3b")
    config = Qwen2Config(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(tmp_path, safe_serialization=True, max_shard_size=standins._shard_size(spec, model))
    standins._check_weights(tmp_path, spec)  # raises unless the names are the recorded ones
    assert (tmp_path / "model.safetensors.index.json").is_file()
    with pytest.raises(Exception, match="wrote"):
        standins._check_weights(tmp_path, next(m for m in HUB if m.name == "smollm2-360m"))


def test_a_snapshot_without_its_recorded_weights_is_missing_and_says_which(tmp_path, monkeypatch):
    from openclosed.backends import files
    from openclosed.catalog import hub
    from openclosed.core.errors import ModelNotAvailableError

    spec = next(m for m in HUB if m.name == "distilbert-sst2")
    snapshot = Path(tmp_path)
    (snapshot / "config.json").write_text("{}")
    monkeypatch.setattr(hub, "local_snapshot", lambda s: snapshot)
    monkeypatch.setattr(files, "local_snapshot", lambda s: snapshot)
    assert "distilbert-sst2" in hub.missing_hub_models("workshop")
    with pytest.raises(ModelNotAvailableError, match="lacks model.safetensors"):
        files.model_files(spec, None)
    (snapshot / "model.safetensors").write_bytes(b"")
    assert "distilbert-sst2" not in hub.missing_hub_models("workshop")
    assert files.model_files(spec, None).where == str(snapshot)
