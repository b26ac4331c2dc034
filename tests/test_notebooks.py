"""Every notebook runs top to bottom in the offline profile with no API key,
once, in bfloat16 (or in the dtype ``OPENCLOSED_DTYPE`` names) (the number type the lab picks on CPUs with native
bfloat16, where notebook 03 once stopped). The browser pass
(``test_browser.py``) runs each notebook once more, in float32, in the
workshop profile on a 2 GB / 1 CPU pod with a closed model answering from a
local server: each dtype executes every notebook once."""

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
# bfloat16 unless OPENCLOSED_DTYPE asks for another (e.g. float32: the kind of CPU most learners have)
DTYPE = os.environ.get("OPENCLOSED_DTYPE") or "bfloat16"


def execute(path: Path, tmp_path: Path, env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.update({"OPENCLOSED_RESPONSES_DIR": str(tmp_path / "responses"), "OPENCLOSED_DTYPE": DTYPE,
                       **(env or {})})
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
    kept = ROOT / "tests" / "artifacts" / "notebooks" / path.name  # the run's outputs, to read after the test
    kept.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, kept)
    text = outputs_text(nb)
    assert "Traceback" not in text
    assert not re.search(r"sk-[A-Za-z0-9_\-]{8,}", text)  # nothing shaped like a real key
    assert f"dtype {DTYPE}" in text or "oc.setup(" not in path.read_text()  # the setup line shows the forced dtype
    if path.stem == "00_start_here":
        assert "profile   : offline" in text
        for name in ("vader", "minilm-lr", "gpt-6-luna"):
            assert name in text
        assert "MissingKeyError" in text and "oc.ask_for_key()" in text  # the closed column explains itself
        assert "positive" in text and "negative" in text  # the open models answered


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, f"strip {path.name}"


def test_no_notebook_names_a_dtype():
    """The lab picks the number type for the machine; a dtype written into a notebook breaks that on the
    machines it was not written for."""
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                found = re.findall(r"torch\.(?:float32|bfloat16|float16|half)|dtype\s*=\s*[\"'](?:float|bfloat)",
                                   cell.source)
                assert not found, f"{path.name}: {found} in {cell.source[:80]!r}"
