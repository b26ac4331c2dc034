"""The project's own files agree with each other."""

import os
import re
from pathlib import Path

import pytest


from conftest import ROOT


def _pins(lines):
    out = {}
    for line in lines:
        line = line.strip().lstrip("- ").strip()
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s]+)$", line)
        if m:
            out[re.sub(r"\[.*\]", "", m.group(1)).lower()] = m.group(2)
    return out


def test_environment_yml_mirrors_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env = _pins((ROOT / "environment.yml").read_text().splitlines())
    env["torch"] = env["torch"].replace("+cpu", "")
    assert req == env


def _llamacpp_pin() -> str:
    m = re.search(r"^LLAMACPP_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert m, "the Makefile pins llama-cpp-python in LLAMACPP_VERSION"
    return m.group(1)


def test_llamacpp_is_one_version_series_everywhere():
    """pip compiles llama-cpp-python (`make setup`, its own step, portable build); conda / Binder take the
    prebuilt conda-forge package of the same 0.x series (no compiler in the Binder build). The backend's install
    hint names the Makefile's pin."""
    from openclosed.backends.llamacpp import INSTALL_HINT, LLAMACPP_VERSION

    pin = _llamacpp_pin()
    make = (ROOT / "Makefile").read_text()
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF"' in make and "$(LLAMACPP_PIN)" in make
    assert LLAMACPP_VERSION == pin and f"llama-cpp-python=={pin}" in INSTALL_HINT
    series = ".".join(pin.split(".")[:2])
    env = re.search(r"^\s*-\s*llama-cpp-python>=(\S+),<(\S+)$", (ROOT / "environment.yml").read_text(), re.M)
    assert env, "environment.yml takes llama-cpp-python from conda-forge with a version range"
    assert env.group(1).startswith(series + ".") and env.group(2) == f"0.{int(series.split('.')[1]) + 1}"
    assert "llama-cpp-python" not in (ROOT / "requirements.txt").read_text().split("#")[0]  # compiled apart
    assert "OPENCLOSED_REQUIRE_LLAMACPP=1" in (ROOT / ".ci" / "run").read_text()


def test_torch_is_pinned_and_the_installed_build_has_no_cuda_unless_asked_for():
    """`make setup` installs the CPU build of torch on Linux unless TORCH_BUILD=cuda (exported to the tests)."""
    import importlib.metadata

    import torch

    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text().splitlines()
    assert torch.__version__.split("+")[0] == "2.13.0"
    if os.environ.get("TORCH_BUILD", "cpu") == "cuda":
        return
    nvidia = sorted(d.metadata["Name"] for d in importlib.metadata.distributions()
                    if (d.metadata["Name"] or "").lower().startswith("nvidia-"))
    assert torch.version.cuda is None and not nvidia, (
        f"torch {torch.__version__} was built for CUDA {torch.version.cuda} ({len(nvidia)} nvidia-* packages): "
        "reinstall with `make clean setup` where https://download.pytorch.org/whl/cpu is reachable, or ask for "
        "the CUDA build with `make setup TORCH_BUILD=cuda`")


def test_make_setup_asks_for_the_cpu_build_with_a_short_fallback():
    """The CPU index is tried with a 5 s probe, and its absence is said in one line instead of a long hang."""
    make = (ROOT / "Makefile").read_text()
    assert "TORCH_BUILD ?= cpu" in make and "download.pytorch.org/whl/cpu" in make
    assert "timeout=5" in make and "is not reachable" in make


def test_binder_uses_the_same_environment_and_start_execs():
    assert (ROOT / "binder" / "environment.yml").resolve() == (ROOT / "environment.yml").resolve()
    start = (ROOT / "binder" / "start").read_text()
    assert start.rstrip().endswith('exec "$@"')
    assert "set -e" in (ROOT / "binder" / "postBuild").read_text()


def test_readme_names_the_two_commands_and_the_ci_calls_one():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme and "mybinder.org" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


# --------------------------------------------------------------------------- pins: one truth, everywhere
def _req_pins(name: str) -> dict[str, str]:
    return _pins((ROOT / name).read_text().splitlines())


def test_every_requirement_is_pinned_exactly():
    for name in ("requirements.txt", "requirements-test.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                assert re.match(r"^[A-Za-z0-9_.\-\[\]]+==\S+$", line), f"{name}: pin {line!r} exactly (name==version)"


def test_test_requirements_do_not_contradict_the_runtime_pins():
    run, test = _req_pins("requirements.txt"), _req_pins("requirements-test.txt")
    clash = {k: (run[k], test[k]) for k in run.keys() & test.keys() if run[k] != test[k]}
    assert not clash, f"pinned differently in requirements.txt and requirements-test.txt: {clash}"


def test_binder_environment_matches_requirements_and_python():
    """What mybinder.org builds (binder/environment.yml) is exactly the pinned run-time set, for the same
    Python that pyproject.toml declares, and the extra package postBuild installs is the Makefile's pin."""
    binder_env = (ROOT / "binder" / "environment.yml").read_text()
    env = _pins(binder_env.splitlines())
    env["torch"] = env["torch"].replace("+cpu", "")
    assert env == _req_pins("requirements.txt")
    python = re.search(r"^\s*-\s*python=(\d+\.\d+)", binder_env, re.M)
    requires = re.search(r'requires-python\s*=\s*">=(\d+\.\d+)"', (ROOT / "pyproject.toml").read_text())
    assert python and requires and tuple(map(int, python.group(1).split("."))) >= tuple(
        map(int, requires.group(1).split(".")))
    extra = set(re.findall(r"([A-Za-z0-9_.\-]+==[\w.]+)", (ROOT / "binder" / "postBuild").read_text()))
    make_extra = set(re.findall(r"([A-Za-z0-9_.\-]+==[\w.]+)", (ROOT / "Makefile").read_text()))
    assert extra and extra <= make_extra, f"binder/postBuild installs {extra}, the Makefile {make_extra}"


# --------------------------------------------------------------------------- notebooks: goals, time, neighbours
SEQUENCE = ["00_start_here", "01_sentiment", "02_text_generation", "02b_inside_chat_models", "02c_quantization",
            "03_image_generation",
            "04_customize", "05_cost_privacy_transparency"]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _cells(path):
    import nbformat

    return nbformat.read(path, as_version=4).cells


def test_every_notebook_is_in_the_sequence():
    extra = [p.stem for p in NOTEBOOKS if p.stem not in SEQUENCE]
    assert not extra, f"add {extra} to SEQUENCE in tests/test_project_files.py, with links from its neighbours"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_opens_with_goals_time_and_links_to_its_neighbours(path):
    cells = _cells(path)
    first, last = cells[0], cells[-1]
    assert first.cell_type == "markdown" and last.cell_type == "markdown"
    assert re.search(r"(?i)learning goals|you will learn", first.source), f"{path.name}: open with learning goals"
    assert re.search(r"(?i)\btime\b.*?\d+\s*(min|minutes|h)\b", first.source), \
        f"{path.name}: say in the first cell how long it takes (e.g. **Time:** about 20 minutes)"
    i = SEQUENCE.index(path.stem) if path.stem in SEQUENCE else pytest.fail(f"{path.stem} not in SEQUENCE")
    neighbours = ([SEQUENCE[i - 1]] if i > 0 else []) + ([SEQUENCE[i + 1]] if i + 1 < len(SEQUENCE) else [])
    for cell, where in ((first, "first"), (last, "last")):
        for n in neighbours:
            assert f"]({n}.ipynb)" in cell.source, f"{path.name}: link to {n}.ipynb in its {where} cell"
    for cell in cells:
        if cell.cell_type == "markdown":
            for target in re.findall(r"\]\(([^)#?]+\.ipynb)", cell.source):
                assert Path(target).stem in SEQUENCE, f"{path.name} links to {target}, not a notebook of the lab"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_hidden_solutions_and_a_summary_computed_from_the_run(path):
    cells = _cells(path)
    solutions = [c for c in cells if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]
    assert solutions, f"{path.name}: exercises need solution cells tagged 'solution'"
    assert all(c.metadata.get("jupyter", {}).get("source_hidden") for c in solutions), \
        f"{path.name}: hide solution cells (metadata jupyter.source_hidden)"
    assert all(c.metadata.get("jupyter", {}).get("outputs_hidden") for c in solutions), \
        f"{path.name}: hide solution outputs too (metadata jupyter.outputs_hidden): after Run All they give the answer away"
    heads = [i for i, c in enumerate(cells) if c.cell_type == "markdown"
             and re.search(r"(?im)^#+ .*(summary|what you (have )?(seen|learned|saw))", c.source)]
    assert heads, f"{path.name}: end with a summary section"
    after = [c for c in cells[heads[-1]:] if c.cell_type == "code" and c.source.strip()]
    assert after, f"{path.name}: the summary's numbers must come from the run (a code cell in the summary section)"


def test_stripping_a_notebook_keeps_its_solutions_hidden(tmp_path):
    """``nbstripout`` (how notebooks are committed) keeps the metadata that hides a solution and its output."""
    import subprocess
    import sys

    import nbformat

    path = tmp_path / "x.ipynb"
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(42)", metadata={"jupyter": {"source_hidden": True, "outputs_hidden": True},
                                                            "tags": ["solution"]})
    cell.outputs = [nbformat.v4.new_output("stream", text="42\n")]
    cell.execution_count = 1
    nb.cells = [cell]
    nbformat.write(nb, path)
    exe = Path(sys.executable).with_name("nbstripout")
    subprocess.run([str(exe), str(path)], check=True)
    stripped = nbformat.read(path, as_version=4).cells[0]
    assert not stripped.outputs and stripped.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_says_first_to_shut_down_the_previous_kernel(path):
    first = _cells(path)[0]
    assert re.search(r"(?i)shut down .*kernel", first.source), \
        f"{path.name}: say in the first cell to shut down the previous notebook's kernel (two can pass 2 GB)"


def test_the_guides_measured_tables_are_written_from_the_results_files():
    """The numbers in the instructor's guide come from benchmarks/results/ (render_guide.py), never typed."""
    import runpy

    render = runpy.run_path(str(ROOT / "benchmarks" / "render_guide.py"))["render"]
    guide = (ROOT / "docs" / "instructor.md").read_text(encoding="utf-8")
    assert "<!-- measured:serving -->" in guide and "<!-- measured:notebook-times -->" in guide
    assert render(guide) == guide, "run: python benchmarks/render_guide.py (or make guide)"
