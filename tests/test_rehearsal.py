"""The workshop rehearsal: every notebook runs top to bottom in the workshop
profile, with random-weight stand-ins of its hub models in a temporary
Hugging Face cache, inside a cgroup limited to 2 GB of memory and one CPU (a
Binder pod), without an error and without the kernel being killed.

Uses ``benchmarks/rehearse_profiles.py`` (``make`` target ``rehearse``) for the
cgroup and the notebook runner, so the test and the printed numbers agree."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from conftest import ROOT

LIMIT_GB = 2.0
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _rehearse_module():
    spec = importlib.util.spec_from_file_location("rehearse_profiles", ROOT / "benchmarks" / "rehearse_profiles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rehearse = _rehearse_module()


@pytest.fixture(scope="session")
def workshop_standins(tmp_path_factory) -> Path:
    """The stand-ins of the workshop profile's hub models, built here into a temporary HF cache
    (the same folder test_standins.py uses, so a whole-suite run builds them once)."""
    ok, why = rehearse.cgroups_available()
    if not ok:
        pytest.skip(f"cannot create a cgroup to limit memory and CPU: {why}")
    from openclosed.catalog.standins import build_standin, profile_standins

    cache = tmp_path_factory.getbasetemp() / "standin-hub-cache"
    for spec in profile_standins("workshop"):
        build_standin(spec, hub_cache=cache)
    return cache


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_the_workshop_profile_under_2gb_and_one_cpu(path, workshop_standins, tmp_path):
    started = time.perf_counter()
    row = rehearse.run_notebook(path, workshop_standins, limit_gb=LIMIT_GB, cpus=1.0, workdir=tmp_path)
    text = row["text"]
    # the processes' own (anonymous) memory in the cgroup: summed RSS counts the shared libraries (torch) once per
    # process, so a notebook that starts a server (oc.serve) would be charged for them twice
    peak = row["peak_anon_mb"]
    print(f"{path.name}: peak memory {peak:.0f} MB (anonymous; summed RSS {row['peak_rss_mb']:.0f} MB), cgroup max "
          f"usage {row['cgroup_max_usage_mb']:.0f} MB (incl. page cache), {time.perf_counter() - started:.0f} s")
    assert not row.get("kernel_died") and row["oom_kills"] == 0, f"the kernel was killed: {row.get('error')}"
    assert not row.get("error"), row.get("error")
    assert "Traceback" not in text
    assert "profile   : workshop" in text  # the stand-ins made the workshop profile available
    assert 0 < peak < LIMIT_GB * 1024
    if path.stem == "01_sentiment":  # it runs the workshop's distilbert-sst2, which must say it has random weights
        assert "distilbert-sst2 (stand-in, random weights)" in text  # the summary's model column
        assert ">stand-in: random weights<" in text  # the badge in each cell of the side-by-side report
