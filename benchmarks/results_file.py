"""One writer for every committed results file in ``benchmarks/results/``.

Each file is JSON with the measurement under ``"results"`` and, beside it,
what a reader needs to trust and regenerate it: the ``command`` that wrote
it (run from the repository root), the ``commit`` it ran on (``+changes``
when the tree had uncommitted edits), the ``machine`` (CPU, cores, torch
threads, accelerator), the ``dtype`` and the ``date`` (UTC). A number quoted
in the docs is tagged with where it comes from, right after it, e.g.
``0.84<!-- result benchmarks/results/finetune_recipe.json results.chosen.validation.accuracy -->``
(a dotted key path, optionally ``* 100`` or ``/ 60``); ``tests/test_results_files.py`` finds every tag and
checks the number shown equals the file's, rounded as shown::

    from results_file import write_results          # benchmarks/ is the script's own folder
    write_results("finetune_recipe", {"chosen": ...}, dtype=settings.dtype)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
REQUIRED = ("command", "commit", "machine", "dtype", "date", "results")


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def commit() -> str:
    """The commit the tree is on, with ``+changes`` when tracked files differ from it (``unknown`` outside git)."""
    head = _git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results")
    return head + ("+changes" if dirty else "")


def machine() -> dict[str, Any]:
    """The machine in words and numbers: CPU model, usable cores (the cgroup quota counted where the lab is
    importable), native bfloat16, torch threads, GPU if any, and the load average as the file is written."""
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    out: dict[str, Any] = {"cpu": cpu, "platform": platform.platform(), "python": platform.python_version(),
                           "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                           else os.cpu_count(), "cpu_count": os.cpu_count()}
    try:  # the lab's own reading: the cgroup quota counts too (a 1-CPU pod), and whether bfloat16 is native
        from openclosed.core.machine import cpu_has_native_bf16, cpu_quota

        out["cores_usable"] = cpu_quota()
        out["native_bf16"] = cpu_has_native_bf16()
    except ImportError:
        pass
    try:
        import torch

        out["torch"] = torch.__version__
        out["torch_threads"] = torch.get_num_threads()
        out["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    try:
        out["load_average_1min"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return out


def utc(moment: dt.datetime | None = None) -> str:
    """``moment`` (default now) as the results files write a date: UTC, to the second, e.g. ``2026-12-06T12:46:11Z``."""
    return (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_results(name: str, results: dict[str, Any], *, dtype: str, command: str | None = None,
                  at_commit: str | None = None, folder: Path = RESULTS) -> Path:
    """Write ``<folder>/<name>.json`` (default ``benchmarks/results/``) with ``results`` and the provenance fields
    of :data:`REQUIRED`; ``command`` defaults to the Python command line that is running, ``at_commit`` to
    :func:`commit` now (a long run passes the one it took before it started, so edits made meanwhile do not
    count). Returns the path."""
    if command is None:
        script = Path(sys.argv[0]).resolve()
        shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script.name
        command = " ".join(["python", shlex.quote(str(shown)), *map(shlex.quote, sys.argv[1:])])
    record = {"command": command, "commit": at_commit or commit(), "machine": machine(), "dtype": dtype,
              "date": utc(), "results": results}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path
