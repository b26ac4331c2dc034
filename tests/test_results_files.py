"""Measured numbers in the docs come from committed results files, and match them.

A number in a Markdown file or a notebook's Markdown cell is tagged with its
source right after it (an HTML comment, invisible when rendered)::

    0.84<!-- result benchmarks/results/finetune_recipe.json results.test_two_way.minilm-finetuned.accuracy -->
    **4.3<!-- result helpers/openclosed/data/mini_sd/training.json seconds.vae / 60 --> min**

Every tag is checked: the file exists, the key path resolves to a number,
and the number shown equals it rounded to the decimals shown. Every file in
``benchmarks/results/`` says what wrote it (``command``), on which
``commit``, ``machine`` and ``dtype``, and when (``date``): see
``benchmarks/results_file.py``, the one writer the benchmarks share.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TAG = re.compile(r"(?P<num>[-+]?\d[\d,]*(?:\.\d+)?)(?P<pct>%?)\**<!--\s*result\s+(?P<file>\S+)\s+(?P<key>[^\s*/]+)"
                 r"(?:\s*(?P<op>[*/])\s*(?P<factor>[\d.]+))?\s*-->")
DOCS = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("**/*.md")),
        *sorted((ROOT / "helpers" / "openclosed" / "data").glob("**/*.md"))]


def _writer():
    spec = importlib.util.spec_from_file_location("results_file", ROOT / "benchmarks" / "results_file.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _markdown() -> dict[str, str]:
    """Every Markdown text that may quote a number: the docs, and each notebook's Markdown cells."""
    texts = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in DOCS if p.is_file()}
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        texts[str(nb.relative_to(ROOT))] = "\n".join("".join(c["source"]) for c in cells
                                                      if c["cell_type"] == "markdown")
    return texts


def _tags() -> list[tuple[str, re.Match]]:
    return [(where, m) for where, text in _markdown().items() for m in TAG.finditer(text)]


def _lookup(data, key: str):
    for part in key.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _shown_matches(m: re.Match, value: float) -> bool:
    if m["op"] == "*":
        value *= float(m["factor"])
    elif m["op"] == "/":
        value /= float(m["factor"])
    if m["pct"]:
        value *= 100
    text = m["num"].replace(",", "")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(value - float(text)) <= 0.5 * 10 ** -decimals + 1e-9


def test_the_tag_finder_reads_numbers_and_their_source():
    """The positive control: a tag is found, rounding is checked both ways, percentages and factors apply."""
    m = TAG.search("accuracy **0.84**<!-- result a/b.json results.x.accuracy --> on")
    assert m and m["num"] == "0.84" and m["file"] == "a/b.json" and m["key"] == "results.x.accuracy"
    assert _shown_matches(m, 0.8412) and not _shown_matches(m, 0.8462)
    pct = TAG.search("84%<!-- result a.json k -->")
    assert _shown_matches(pct, 0.8404) and not _shown_matches(pct, 0.86)
    minutes = TAG.search("4.3<!-- result a.json seconds.vae / 60 -->")
    assert minutes["op"] == "/" and _shown_matches(minutes, 258.0) and not _shown_matches(minutes, 270.0)


def test_every_tagged_number_in_the_docs_matches_its_results_file():
    tags = _tags()
    assert len(tags) >= 10, "the docs quote measured numbers: they should be tagged with their results file"
    wrong = []
    for where, m in tags:
        path = ROOT / m["file"]
        if not path.is_file():
            wrong.append(f"{where}: {m['num']} cites {m['file']}, which does not exist")
            continue
        try:
            value = _lookup(json.loads(path.read_text(encoding="utf-8")), m["key"])
        except (KeyError, IndexError, ValueError, TypeError):
            wrong.append(f"{where}: {m['num']} cites {m['file']} {m['key']}, which is not in it")
            continue
        if not isinstance(value, (int, float)) or not _shown_matches(m, float(value)):
            wrong.append(f"{where}: shows {m['num']}{m['pct']} but {m['file']} {m['key']} is {value!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks" / "results").glob("*.json")), ids=lambda p: p.name)
def test_each_results_file_says_how_to_regenerate_it(path):
    record = json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in _writer().REQUIRED if not record.get(k)]
    assert not missing, f"{path.name} lacks {missing}: write it with benchmarks/results_file.write_results"
    script = record["command"].split()[1]
    assert (ROOT / script).is_file(), f"{path.name} was written by {script!r}, which is not in the repository"
    assert re.fullmatch(r"[0-9a-f]{7,40}(\+changes)?", record["commit"]), record["commit"]
    assert dt.datetime.strptime(record["date"], "%Y-%m-%dT%H:%M:%SZ")
    assert record["machine"].get("cpu")


def test_the_shared_writer_records_command_commit_machine_dtype_and_date(tmp_path):
    path = _writer().write_results("probe", {"x": 1.5}, dtype="float32", folder=tmp_path)
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["results"] == {"x": 1.5} and record["dtype"] == "float32"
    assert record["command"].startswith("python ") and record["commit"] and record["machine"]["cpu"]
    taken_first = _writer().write_results("probe", {"x": 1.5}, dtype="float32", at_commit="0123abcd", folder=tmp_path)
    assert json.loads(taken_first.read_text(encoding="utf-8"))["commit"] == "0123abcd"  # a long run's own commit


def test_the_shipped_fine_tuning_recipe_is_the_one_chosen_on_validation():
    from openclosed.session.customize import SHIPPED_RECIPE

    path = ROOT / "benchmarks" / "results" / "finetune_recipe.json"
    record = json.loads(path.read_text(encoding="utf-8"))["results"]
    assert record["chosen"]["recipe"] == SHIPPED_RECIPE
    chosen = next(c for c in record["candidates"] if c["candidate"] == record["chosen"]["candidate"])
    assert chosen["recipe"] == SHIPPED_RECIPE
    assert chosen["validation"]["accuracy"] == max(c["validation"]["accuracy"] for c in record["candidates"])
    assert record["validation"]["writers"] and not set(record["validation"]["writers"]) & set(record["test"]["writers"])
