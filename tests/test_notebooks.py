"""Every notebook runs top to bottom in the offline profile with no API key."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT
from openclosed.testing.notebooks import outputs_text

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def execute(path: Path, tmp_path: Path, env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.update({"OPENCLOSED_RESPONSES_DIR": str(tmp_path / "responses"), **(env or {})})
    try:  # the kernel inherits this environment: offline, no key, a fresh response cache
        NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom_offline_without_key(path, tmp_path):
    nb = execute(path, tmp_path)
    text = outputs_text(nb)
    assert "Traceback" not in text
    assert not re.search(r"sk-[A-Za-z0-9_\-]{8,}", text)  # nothing shaped like a real key


@pytest.mark.notebook
def test_start_here_shows_three_models_and_a_clear_no_key_note(tmp_path):
    nb = execute(ROOT / "notebooks" / "00_start_here.ipynb", tmp_path)
    text = outputs_text(nb)
    assert "profile   : offline" in text
    for name in ("vader", "minilm-lr", "gpt-4o-mini"):
        assert name in text
    assert "MissingKeyError" in text and "oc.ask_for_key()" in text  # the closed column explains itself
    assert "positive" in text and "negative" in text  # the open models answered


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, f"strip {path.name}"


@pytest.mark.notebook
def test_start_here_with_the_closed_model_pointed_at_a_local_server(tmp_path):
    """The closed-model path end to end in a real kernel: the official client,
    a key from the environment (masked), OPENAI_BASE_URL on 127.0.0.1."""
    from openclosed.testing.stub_server import STUB_MODEL, start_server

    server, base_url = start_server()
    key = "sk-test-notebook0123456789abcdef"
    try:
        nb = execute(ROOT / "notebooks" / "00_start_here.ipynb", tmp_path,
                     env={"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": key})
    finally:
        server.shutdown()
    text = outputs_text(nb)
    assert "MissingKeyError" not in text and "Traceback" not in text
    assert STUB_MODEL in text  # the summary names who really answered
    assert "sk-…cdef" in text and key not in text
