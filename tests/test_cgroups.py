"""The rehearsed Binder pod (``openclosed.testing.cgroups``): the files a cgroup v2 or v1 is made and read
through, and, where this machine allows, a real limit that really kills a process that goes over it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_or_skip
from openclosed.testing.cgroups import Cgroup, cgroup_version, cgroups_available

MB = 2**20


def fake_v2(root: Path, controllers: str = "cpuset cpu io memory pids") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("")
    return root


def test_a_v2_pod_enables_its_controllers_and_writes_its_limits(tmp_path):
    root = fake_v2(tmp_path / "cg")
    assert cgroup_version(root) == 2
    pod = Cgroup("pod", 2048 * MB, 1.0, root=root)
    d = root / "pod"
    assert (root / "cgroup.subtree_control").read_text() == "+memory +cpu"
    assert (d / "memory.max").read_text() == str(2048 * MB)
    assert (d / "cpu.max").read_text() == "100000 100000"  # one CPU: a full period of quota per period
    (d / "memory.stat").write_text("anon 104857600\nfile 999999999\nshmem 1048576\n")
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    (d / "memory.peak").write_text(str(300 * MB))
    assert pod.anon() == 101 * MB  # anonymous + shmem, not the page cache ("file")
    assert pod.oom_kills() == 1 and pod.max_usage() == 300 * MB
    pod.join(12345)
    assert (d / "cgroup.procs").read_text() == "12345"


def test_a_v2_host_without_the_memory_controller_says_so(tmp_path):
    root = fake_v2(tmp_path / "cg", controllers="cpu pids")
    ok, why = cgroups_available(root)
    assert not ok and "memory" in why and "not available" in why
    assert cgroups_available(tmp_path / "nothing") == (False, f"no cgroup v2 hierarchy and no v1 memory + cpu "
                                                              f"controllers under {tmp_path / 'nothing'}")


def test_a_v1_pod_reads_its_own_files(tmp_path):
    root = tmp_path / "cg"
    for ctl in ("memory", "cpu"):
        (root / ctl).mkdir(parents=True)
        (root / ctl / "cgroup.procs").write_text("")
    assert cgroup_version(root) == 1
    (root / "memory" / "pod").mkdir()
    (root / "memory" / "pod" / "memory.stat").write_text("rss 1\ntotal_rss 7340032\ntotal_shmem 1048576\n")
    (root / "memory" / "pod" / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    pod = Cgroup.__new__(Cgroup)  # a real cgroupfs fills a new folder with its files; read an existing one here
    pod.root, pod.version, pod.dirs = root, 1, [root / "memory" / "pod", root / "cpu" / "pod"]
    assert pod.anon() == 8 * MB and pod.oom_kills() == 2


def test_a_real_pod_kills_a_process_that_goes_over_its_memory():
    ok, why = cgroups_available()
    if not ok:
        require_or_skip("OPENCLOSED_REQUIRE_CGROUP", f"cannot create a cgroup here ({why})")
    pod = Cgroup(f"openclosed-test-{os.getpid()}", 128 * MB, 1.0)
    try:
        fits = subprocess.run([sys.executable, "-m", "openclosed.testing.cgroups", pod.name, sys.executable, "-c",
                               "b = bytearray(32 * 2**20); print(len(b))"], capture_output=True, text=True)
        assert fits.returncode == 0, fits.stderr
        over = subprocess.run([sys.executable, "-m", "openclosed.testing.cgroups", pod.name, sys.executable, "-c",
                               "b = [bytearray(16 * 2**20) for _ in range(32)]"], capture_output=True, text=True)
        assert over.returncode == -9, (over.returncode, over.stderr[-500:])  # SIGKILL from the OOM killer
        assert pod.oom_kills() >= 1
    finally:
        pod.remove()
