"""A Binder pod on this machine: a Linux control group with a memory limit
and a CPU quota that processes join themselves, for the workshop rehearsal
(``make rehearse``) and the browser tests (JupyterLab runs inside one).

Both cgroup versions are supported:

* **v2** (the unified hierarchy, most current hosts): a folder under
  ``/sys/fs/cgroup`` with ``memory.max``, ``memory.swap.max`` and ``cpu.max``;
  the ``memory`` and ``cpu`` controllers are enabled in the parent's
  ``cgroup.subtree_control`` when they are not already.
* **v1**: a folder in each of ``/sys/fs/cgroup/memory`` and
  ``/sys/fs/cgroup/cpu`` with ``memory.limit_in_bytes`` and
  ``cpu.cfs_quota_us``.

Peaks are sampled: the group's anonymous memory (the processes' own, without
the page cache; summed RSS would count shared libraries once per process) and
the summed RSS. Needs permission to create cgroups (root, or a delegated v2
subtree); :func:`cgroups_available` says why not when it cannot.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_version(root: Path | None = None) -> int | None:
    """2 for the unified hierarchy, 1 for v1 memory + cpu controllers, None when neither is mounted at ``root``."""
    root = root or CGROUP_ROOT
    if (root / "cgroup.controllers").is_file():
        return 2
    if all((root / ctl / "cgroup.procs").is_file() for ctl in ("memory", "cpu")):
        return 1
    return None


def cgroups_available(root: Path | None = None) -> tuple[bool, str]:
    """(whether a memory + cpu limited cgroup can be made here, why not)."""
    root = root or CGROUP_ROOT
    version = cgroup_version(root)
    if version is None:
        return False, f"no cgroup v2 hierarchy and no v1 memory + cpu controllers under {root}"
    try:
        probe = Cgroup(f"openclosed-probe-{os.getpid()}", 64 * 2**20, 1.0, root=root)
    except OSError as exc:
        why = "run as root or in a delegated cgroup" if isinstance(exc, PermissionError) else str(exc)
        return False, f"cannot create a cgroup v{version} under {root}: {why}"
    probe.remove()
    return True, ""


class Cgroup:
    """A cgroup with a memory limit (no swap beyond it) and a CPU quota; processes join it with :meth:`join`."""

    def __init__(self, name: str, limit_bytes: int, cpus: float = 1.0, root: Path | None = None) -> None:
        self.name = name
        self.root = root or CGROUP_ROOT
        self.version = cgroup_version(self.root)
        if self.version is None:
            raise OSError(f"no cgroup hierarchy under {self.root}")
        self.dirs = self._make(limit_bytes, cpus)
        self.peak_rss = 0
        self.peak_anon = 0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    # ------------------------------------------------------------------ making and joining
    def _make(self, limit: int, cpus: float) -> list[Path]:
        if self.version == 2:
            d = self.root / self.name
            self._enable_controllers()
            d.mkdir()
            (d / "memory.max").write_text(str(limit))
            _try_write(d / "memory.swap.max", "0")  # no swapping out of the limit either
            period = 100_000
            (d / "cpu.max").write_text(f"{int(period * cpus)} {period}")
            return [d]
        mem, cpu = self.root / "memory" / self.name, self.root / "cpu" / self.name
        mem.mkdir()
        cpu.mkdir()
        (mem / "memory.limit_in_bytes").write_text(str(limit))
        _try_write(mem / "memory.memsw.limit_in_bytes", str(limit))
        period = int((cpu / "cpu.cfs_period_us").read_text())
        (cpu / "cpu.cfs_quota_us").write_text(str(int(period * cpus)))
        return [mem, cpu]

    def _enable_controllers(self) -> None:
        control = self.root / "cgroup.subtree_control"
        enabled = control.read_text().split() if control.is_file() else []
        missing = [c for c in ("memory", "cpu") if c not in enabled]
        if missing:
            available = (self.root / "cgroup.controllers").read_text().split()
            absent = [c for c in missing if c not in available]
            if absent:
                raise OSError(f"the {' and '.join(absent)} controller(s) are not available in {self.root}")
            control.write_text(" ".join(f"+{c}" for c in missing))

    def join(self, pid: int | None = None) -> None:
        """Move ``pid`` (default: this process) into the group; its children are born in it."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid or os.getpid()))

    @classmethod
    def join_by_name(cls, name: str, root: Path | None = None) -> None:
        """Join the group called ``name`` from a child process that only knows its name."""
        root = root or CGROUP_ROOT
        dirs = [root / name] if cgroup_version(root) == 2 else [root / "memory" / name, root / "cpu" / name]
        for d in dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))

    # ------------------------------------------------------------------ reading
    @property
    def memory_dir(self) -> Path:
        return self.dirs[0]

    def _stat(self) -> dict[str, int]:
        out = {}
        for line in (self.memory_dir / "memory.stat").read_text().splitlines():
            k, v = line.split()
            out[k] = int(v)
        return out

    def anon(self) -> int:
        """Anonymous memory (the processes' own, not the page cache) of everything in the group now."""
        s = self._stat()
        if self.version == 2:
            return s.get("anon", 0) + s.get("shmem", 0)
        return s.get("total_rss", s.get("rss", 0)) + s.get("total_shmem", 0)

    def pids(self) -> list[int]:
        return [int(p) for p in (self.memory_dir / "cgroup.procs").read_text().split()]

    def processes_rss(self) -> int:
        """Resident memory of the group's processes now, summed (file-mapped pages included)."""
        total, page = 0, os.sysconf("SC_PAGE_SIZE")
        for pid in self.pids():
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
            except (OSError, IndexError, ValueError):
                continue
        return total

    def max_usage(self) -> int:
        """The peak the limit was checked against (includes the page cache); on v2 kernels before 5.19, the
        current usage."""
        if self.version == 2:
            peak = self.memory_dir / "memory.peak"
            return int((peak if peak.is_file() else self.memory_dir / "memory.current").read_text())
        return int((self.memory_dir / "memory.max_usage_in_bytes").read_text())

    def oom_kills(self) -> int:
        """Processes the kernel killed for going over the limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        for line in (self.memory_dir / name).read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    # ------------------------------------------------------------------ sampling
    def start_sampling(self, every: float = 0.1) -> None:
        """Record the peaks of :meth:`anon` and :meth:`processes_rss` in a thread until :meth:`stop_sampling`."""
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    self.peak_anon = max(self.peak_anon, self.anon())
                    self.peak_rss = max(self.peak_rss, self.processes_rss())
                except OSError:
                    return

        self._sampler = threading.Thread(target=loop, daemon=True)
        self._sampler.start()

    def stop_sampling(self) -> None:
        self._stop.set()
        if self._sampler:
            self._sampler.join()
            self._sampler = None

    def reset_peaks(self) -> None:
        """Start the sampled peaks afresh (e.g. between two notebooks run in the same group)."""
        self.peak_anon = self.peak_rss = 0

    def remove(self, wait_s: float = 5.0) -> None:
        """Delete the group once its processes have left (they are not killed here)."""
        self.stop_sampling()
        for d in self.dirs:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # processes still leaving
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.1)


def _try_write(path: Path, value: str) -> None:
    if path.exists():
        try:
            path.write_text(value)
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    """``python -m openclosed.testing.cgroups NAME COMMAND...``: join the cgroup ``NAME``, then become COMMAND
    (so COMMAND and everything it starts are counted from their first byte)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: python -m openclosed.testing.cgroups CGROUP_NAME COMMAND [ARGS...]", file=sys.stderr)
        return 2
    Cgroup.join_by_name(args[0])
    os.execvp(args[1], args[1:])
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
