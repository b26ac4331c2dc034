"""Random-weight stand-ins with the real configurations, placed where a Hub
download would land: found by huggingface_hub offline, chosen by the workshop
profile, and labelled as stand-ins / random weights in every result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# The published parameter counts (tied embeddings counted once).
REAL_PARAMETERS = {
    "distilbert-sst2": 66_955_010,
    "smollm2-360m": 361_821_120,
    "qwen2.5-3b": 3_085_938_688,
    "bk-sdm-tiny": 323_384_964 + 83_653_863 + 123_060_480,
    "sd-turbo": 865_910_724 + 83_653_863 + 340_387_840,
}
@pytest.fixture
def use_cache(workshop_standins, monkeypatch):
    """Point huggingface_hub (already imported, so its constants are set) and child processes at the cache."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(workshop_standins))
    monkeypatch.setenv("HF_HUB_CACHE", str(workshop_standins))
    return workshop_standins


def _safetensors_parameters(folder: Path) -> int:
    """Elements stored in the folder's safetensors files, read from their headers."""
    total = 0
    for f in folder.rglob("*.safetensors"):
        with open(f, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(n))
        for key, entry in header.items():
            if key != "__metadata__":
                count = 1
                for d in entry["shape"]:
                    count *= d
                total += count
                assert entry["dtype"] == "BF16", f"{f.name}:{key} is {entry['dtype']}"
    return total


@pytest.mark.parametrize("name", sorted(REAL_PARAMETERS))
def test_each_bundled_configuration_has_the_published_parameter_count(name):
    from openclosed.catalog.standins import count_parameters

    assert sum(count_parameters(name).values()) == REAL_PARAMETERS[name]


def test_every_hub_model_of_workshop_and_gpu_has_a_bundled_configuration():
    from openclosed.catalog.hub import hub_models
    from openclosed.catalog.standins import has_standin_config

    for profile in ("workshop", "gpu"):
        assert all(has_standin_config(m.name) for m in hub_models(profile)), profile


def test_the_configurations_ship_with_the_package():
    import tomllib

    from conftest import ROOT

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["openclosed"]
    assert any(p.startswith("catalog/standin_configs/") for p in data)
    assert (ROOT / "helpers/openclosed/catalog/standin_configs/SOURCES.md").is_file()


def test_stand_in_lies_where_snapshot_download_finds_it(use_cache):
    from huggingface_hub import snapshot_download

    from openclosed.catalog.hub import local_snapshot
    from openclosed.catalog.registry import get_model
    from openclosed.catalog.standins import standin_info

    for name in ("distilbert-sst2", "smollm2-360m"):
        spec = get_model(name)
        found = Path(snapshot_download(spec.ref, revision=spec.revision, local_files_only=True))
        assert found.parent.parent.name == "models--" + spec.ref.replace("/", "--")
        assert found.parent.name == "snapshots" and found.parent.parent.parent == use_cache
        assert local_snapshot(spec) == found
        info = standin_info(spec)
        assert info["stand_in"] is True and info["random_weights"] is True and info["dtype"] == "bfloat16"
        assert info["parameters"] == REAL_PARAMETERS[name] == _safetensors_parameters(found)
        assert "standin_configs" in info["config_source"] and "STAND-IN" in info["note"]
        real = json.loads((Path(__file__).parents[1] / "helpers/openclosed/catalog/standin_configs" / name /
                           "config.json").read_text())
        assert json.loads((found / "config.json").read_text()) == real  # the real configuration, as published


def test_a_branch_revision_gets_a_ref_like_a_download(tmp_path, monkeypatch):
    """With ``revision="main"`` the snapshot is named by a commit and refs/main points at it."""
    from dataclasses import replace

    from huggingface_hub import constants, snapshot_download

    from openclosed.catalog import standins
    from openclosed.catalog.registry import get_model

    spec = replace(get_model("distilbert-sst2"), revision="main")
    monkeypatch.setattr(standins, "_build_transformers",  # the layout is under test here, not the weights
                        lambda folder, s: standins._finish(folder, s, {"model": 1}, ""))
    folder = standins.build_standin(spec, hub_cache=tmp_path)
    commit = (tmp_path / f"models--{spec.ref.replace('/', '--')}" / "refs" / "main").read_text()
    assert folder.name == commit == standins.standin_commit(spec) and len(commit) == 40
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert Path(snapshot_download(spec.ref, revision="main", local_files_only=True)) == folder
    assert standins.remove_standin(spec, hub_cache=tmp_path)
    assert not (tmp_path / f"models--{spec.ref.replace('/', '--')}").exists()


def test_a_real_download_is_never_overwritten(tmp_path):
    from openclosed.catalog.registry import get_model
    from openclosed.catalog.standins import build_standin, build_standins, on_disk, remove_standin, snapshot_folder

    spec = get_model("distilbert-sst2")
    real = snapshot_folder(spec, tmp_path)
    real.mkdir(parents=True)
    (real / "config.json").write_text("{}")
    assert on_disk(spec, tmp_path) == "real"
    assert build_standin(spec, hub_cache=tmp_path) == real
    assert [p.name for p in real.iterdir()] == ["config.json"]
    assert build_standins(names=["distilbert-sst2"], hub_cache=tmp_path)[0].status.startswith("real download")
    assert not remove_standin(spec, hub_cache=tmp_path) and (real / "config.json").exists()


def test_the_chat_stand_in_has_chatml_and_the_real_vocabulary(use_cache):
    from transformers import AutoConfig, AutoTokenizer

    from openclosed.catalog.standins import snapshot_folder

    folder = snapshot_folder("smollm2-360m")
    tok = AutoTokenizer.from_pretrained(folder)
    config = AutoConfig.from_pretrained(folder)
    assert len(tok) == config.vocab_size == 49152
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [0, 1, 2]
    assert tok.eos_token_id == config.eos_token_id == 2
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert "<|im_start|>system\n" in text and text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert tok.decode(tok.encode("Hello there, how are you?")) == "Hello there, how are you?"
    assert tok.decode([40000]).startswith(" #")  # any id the model can emit decodes to something


def test_workshop_falls_back_to_offline_without_its_models(tmp_path, monkeypatch):
    import openclosed as oc
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    s = oc.setup("workshop", responses_path=tmp_path / "r", verbose=False)
    assert s.profile == "offline" and "distilbert-sst2" in s.profile_reason


def test_workshop_is_chosen_and_every_stand_in_result_says_so(use_cache, tmp_path):
    import openclosed as oc

    s = oc.setup("workshop", responses_path=tmp_path / "r", verbose=False)
    assert s.profile == "workshop" and "on disk" in s.profile_reason

    run = oc.compare("sentiment", ["distilbert-sst2"], ["I loved it", "Meh.", "It broke after two days."])
    assert len(run.results) == 3
    for r in run.results:
        assert r.error is None and r.output in ("negative", "positive")
        assert r.random_weights is True
        assert any(n.startswith("STAND-IN: random weights") for n in r.notes)
    assert all("STAND-IN" in n for n in run.table["notes"].astype(str))
    assert run.table["random_weights"].tolist() == [True] * 3
    assert run.summary()["model"].tolist() == ["distilbert-sst2 (stand-in, random weights)"]
    html = run._repr_html_()
    assert "distilbert-sst2 (stand-in, random weights)" in html and html.count(">stand-in: random weights<") == 3  # a badge per cell
    loaded = oc.load_model("distilbert-sst2")
    assert loaded.stand_in and loaded.random_weights and "STAND-IN" in repr(loaded)


def test_the_cli_builds_skips_and_removes(tmp_path, monkeypatch, capsys):
    from openclosed.catalog import standins

    calls = []
    monkeypatch.setattr(standins, "_build_transformers",
                        lambda folder, s: (calls.append(s.name), standins._finish(folder, s, {"model": 7}, "")))
    assert standins.main(["--models", "distilbert-sst2", "--hub-cache", str(tmp_path)]) == 0
    assert standins.main(["--models", "distilbert-sst2", "--hub-cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert calls == ["distilbert-sst2"]
    assert "built" in out and "stand-in already there" in out and "STAND-INS: random weights" in out
    assert standins.main(["--models", "distilbert-sst2", "--hub-cache", str(tmp_path), "--remove"]) == 0
    assert "removed" in capsys.readouterr().out
    assert standins.on_disk("distilbert-sst2", tmp_path) == "missing"
