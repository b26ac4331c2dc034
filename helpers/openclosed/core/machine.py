"""What this machine offers: CPUs the process may use, native bfloat16,
the device, the memory a model may take, and whether the Hugging Face Hub
answers. Each function reads the machine when called (nothing at import)."""

from __future__ import annotations

import math
import os
import re
import socket
from pathlib import Path

GB = 1024**3

# Held back from the machine's memory before models are budgeted: the Python
# process with torch and transformers imported (~0.45 GB), the Jupyter server
# and activations while a model runs. Measured on a 2 GB Binder-sized limit.
RUNTIME_RESERVE_GB = 0.6
BUDGET_SHARE = 0.85  # of what is left after the reserve


def give_back_memory() -> None:
    """Collect unreachable objects and hand freed heap memory back to the
    system now. Model weights are many allocations of a few MB that glibc
    keeps in its heap after they are freed, so without the trim a released
    model still counts against a 2 GB pod (measured: SmolLM2-135M, 690 MB
    anonymous memory after release, 294 MB after the trim)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        trim = getattr(libc, "malloc_trim", None)  # glibc only (not musl, not macOS)
    except OSError:
        return
    if trim is not None:
        trim(0)


def cpu_quota() -> int:
    """CPUs this process may really use: the cgroup quota (v2 or v1) and the
    affinity mask, whichever is smaller. OpenMP ignores the quota, so a 1-CPU
    Binder pod would otherwise run one thread per host core and crawl."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = None
    for path in _own_cgroup_files("cpu.max", "cpu", "cpu.cfs_quota_us"):
        try:
            if path.endswith("cpu.max"):
                text = Path(path).read_text().split()
                if text and text[0] != "max":
                    quota = int(text[0]) / int(text[1])
            else:
                q = int(Path(path).read_text())
                p = int(Path(path.replace("cfs_quota_us", "cfs_period_us")).read_text())
                if q > 0 and p > 0:
                    quota = q / p
        except (OSError, ValueError, IndexError, ZeroDivisionError):
            continue
        break
    if quota:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def cpu_has_native_bf16() -> bool:
    """True on CPUs with native bfloat16 (AVX512-BF16 or AMX). ``OPENCLOSED_NATIVE_BF16=0`` (or ``1``) says
    otherwise, to rehearse the lab's own choices on a machine without (or with) it."""
    override = os.environ.get("OPENCLOSED_NATIVE_BF16", "").strip()
    if override in ("0", "1"):
        return override == "1"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def pick_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str) -> tuple[str, str]:
    """(dtype name, why) for ``device``: never float16 on CPU."""
    if device == "cuda":
        import torch

        if torch.cuda.is_bf16_supported():
            return "bfloat16", "GPU supports bfloat16"
        return "float16", "GPU without bfloat16"
    if device == "mps":
        return "float16", "Apple GPU"
    told = " (OPENCLOSED_NATIVE_BF16)" if os.environ.get("OPENCLOSED_NATIVE_BF16", "").strip() in ("0", "1") else ""
    if cpu_has_native_bf16():
        return "bfloat16", (f"CPU has native bfloat16 (AVX512-BF16/AMX){told}: half the bytes per weight "
                            "(whether it decodes faster here is not measured)")
    return "float32", f"CPU without native bfloat16{told}: bfloat16 would be slow here"


def _own_cgroup_files(v2_name: str, v1_controller: str, v1_name: str) -> list[str]:
    """Paths of a cgroup file for this process's own cgroup (from /proc/self/cgroup), then the root's."""
    paths = []
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, rel = line.split(":", 2)
            rel = rel.strip().lstrip("/")
            if controllers == "" and rel:
                paths.append(f"/sys/fs/cgroup/{rel}/{v2_name}")
            elif v1_controller in controllers.split(",") and rel:
                paths.append(f"/sys/fs/cgroup/{v1_controller}/{rel}/{v1_name}")
    except (OSError, ValueError):
        pass
    return paths + [f"/sys/fs/cgroup/{v2_name}", f"/sys/fs/cgroup/{v1_controller}/{v1_name}"]


def _cgroup_memory_limit() -> int | None:
    """The container's memory limit in bytes (cgroup v2 or v1), or None when unlimited."""
    for path in _own_cgroup_files("memory.max", "memory", "memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text and text != "max":
            try:
                value = int(text)
            except ValueError:
                continue
            if value < 1 << 60:  # v1 says "unlimited" with a huge number
                return value
    return None


def memory_limit() -> tuple[int, str]:
    """(bytes this process may use, where the number comes from): the
    ``OPENCLOSED_MEMORY_LIMIT_GB`` variable, else the container's limit, else
    the machine's RAM."""
    env = os.environ.get("OPENCLOSED_MEMORY_LIMIT_GB")
    if env:
        try:
            return int(float(env) * GB), "OPENCLOSED_MEMORY_LIMIT_GB"
        except ValueError:
            pass
    import psutil

    total = psutil.virtual_memory().total
    limit = _cgroup_memory_limit()
    if limit is not None and limit < total:
        return limit, "container memory limit"
    return total, "machine RAM"


# What one notebook's kernel may need at its peak on a 2 GB pod (the browser pass measures every notebook:
# tests write tests/artifacts/browser/pod-memory.json; notebooks 01 and 02 peaked near 1.4 GB).
KERNEL_PEAK_GB = 1.4


def other_kernels(me: int | None = None) -> list[dict]:
    """Other Jupyter kernels of this user on this machine (or pod): ``pid``, resident memory ``rss`` in bytes and
    ``started`` (epoch seconds), largest first. ``me``: the process to leave out (default: this one)."""
    import psutil

    me = os.getpid() if me is None else me
    uid = os.getuid() if hasattr(os, "getuid") else None
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "uids", "memory_info", "create_time"]):
        info = proc.info
        if info["pid"] == me or not info["cmdline"] or not info["memory_info"]:
            continue
        if uid is not None and info["uids"] is not None and info["uids"].real != uid:
            continue
        if any("ipykernel" in part for part in info["cmdline"]):
            found.append({"pid": info["pid"], "rss": int(info["memory_info"].rss), "started": info["create_time"]})
    return sorted(found, key=lambda k: -k["rss"])


def crowding_warning(limit: int, others: list[dict], need: float = KERNEL_PEAK_GB * GB) -> str | None:
    """A warning when ``others`` (see :func:`other_kernels`) hold so much of ``limit`` bytes that this kernel's
    ``need`` at its peak would not fit beside them; None when it fits."""
    held = sum(k["rss"] for k in others)
    if not others or held + need <= limit:
        return None
    listed = ", ".join(f"pid {k['pid']} ({k['rss'] / 2**20:,.0f} MB)" for k in others[:5])
    return (f"{len(others)} other notebook kernel{'s' if len(others) != 1 else ''} hold{'s' if len(others) == 1 else ''} "
            f"{held / 2**20:,.0f} MB of this machine's {limit / 2**20:,.0f} MB limit ({listed}); a notebook here can "
            f"need {need / 2**20:,.0f} MB at its peak, so the kernel may be restarted for lack of memory. Shut down "
            "the other notebooks' kernels first (Kernel > Shut Down All Kernels, or the Running tab on the left).")


def gpu_memory() -> int | None:
    """Total memory of CUDA device 0 in bytes, or None without CUDA."""
    try:
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.get_device_properties(0).total_memory)
    except Exception:  # noqa: BLE001 - no usable GPU
        return None
    return None


def model_budget(device: str) -> tuple[float, str]:
    """(GB that loaded models may take, why): on CUDA the GPU's memory, else
    the memory this process may use, less the runtime's reserve."""
    if device == "cuda":
        total = gpu_memory()
        if total:
            gb = total / GB * 0.9
            return round(gb, 2), f"90% of the GPU's {total / GB:.0f} GB"
    limit, source = memory_limit()
    gb = max(0.25, (limit / GB - RUNTIME_RESERVE_GB) * BUDGET_SHARE)
    return round(gb, 2), (f"{BUDGET_SHARE:.0%} of the {source} ({limit / GB:.1f} GB) "
                          f"after {RUNTIME_RESERVE_GB:g} GB for Python, torch and activations")


def hub_reachable(timeout: float = 1.5) -> bool:
    """Whether the Hugging Face Hub answers (False at once when HF_HUB_OFFLINE is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = re.sub(r"^https?://", "", endpoint).split("/")[0].split(":")[0]
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def memory_bandwidth_gbs(mb: int = 64, repeats: int = 5) -> float:
    """This machine's memory bandwidth as one process sees it, measured: the best of ``repeats`` copies of an
    ``mb`` MB array (bytes read plus bytes written, per second, in GB/s). A rough ceiling for how fast weights
    can be read; it varies from run to run on a shared machine. 64 MB is larger than most CPUs' caches and small
    enough for a 2 GB pod (256 MB arrays took notebook 02's peak from 1.4 to 1.9 GB)."""
    import time

    import numpy as np

    src = np.ones(mb * 2**20 // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * src.nbytes / best / 1e9
