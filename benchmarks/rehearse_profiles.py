"""Rehearse the ``workshop`` and ``gpu`` profiles without the Hugging Face Hub.

Random-weight STAND-INS with each model's real configuration (same
architecture and parameter count, see ``openclosed.catalog.standins``) are
built into a Hugging Face cache folder where the downloads would land; then

(a) every default open model of a profile is loaded and run once on a small
    input, each in its own process (so the peaks are separate): for the
    ``workshop`` profile inside a real cgroup with a 2 GB memory limit and one
    CPU (as on Binder), reporting whether it loads or is refused by the memory
    budget, the dtype chosen, the estimated weights (parameters x bytes per
    parameter) and the measured peak; for the ``gpu`` profile (no GPU here) the
    decision on a SIMULATED GPU budget, not loaded;
(b) every notebook runs top to bottom (nbclient) in the ``workshop`` profile
    in a fresh cgroup with a 2 GB memory limit and one CPU, reporting the peak
    memory of the cgroup and whether it ran without error.

    python benchmarks/rehearse_profiles.py                  # both parts, stand-ins in a temporary cache
    python benchmarks/rehearse_profiles.py --notebooks-only --hub-cache /tmp/standins
    python benchmarks/rehearse_profiles.py --models-only --image-size 128

Needs root for the cgroups (v2, or v1 memory + cpu controllers); without them the
models are measured under OPENCLOSED_MEMORY_LIMIT_GB=2 only (no enforced
limit) and the notebooks are skipped, and the output says so. Results also
go to ``benchmarks/results/rehearsal.json``. Every number here comes from
random weights: memory and dtype decisions are real, answers are noise.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openclosed.testing.cgroups import Cgroup, cgroups_available

from results_file import write_results

ROOT = Path(__file__).resolve().parents[1]
GB = 1024**3
MB = 2**20
SMALL_INPUTS = {
    "sentiment": ["I loved it.", "It broke after two days.", "The parcel came on Tuesday."],
    "text-generation": ["Explain overfitting in one sentence."],
    "image-generation": ["a red apple on a table"],
}
SIMULATED_GPU = {"name": "16 GB GPU (T4-class, float16)", "memory_gb": 16.0, "dtype": "float16"}


# --------------------------------------------------------------------------- environment


def rehearsal_env(hub_cache: Path, responses: Path, limit_gb: float | None = None) -> dict[str, str]:
    """The environment of a rehearsal process: workshop profile, stand-ins in ``hub_cache``, no Hub, no key."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENCLOSED_MODEL_BUDGET_GB",
                        "OPENCLOSED_MEMORY_LIMIT_GB", "OPENCLOSED_DTYPE", "OPENCLOSED_THREADS", "OPENCLOSED_DEVICE")}
    env.update({
        "OPENCLOSED_PROFILE": "workshop",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(hub_cache),
        "OPENCLOSED_RESPONSES_DIR": str(responses),
        "OPENCLOSED_CACHE_DIR": os.environ.get("OPENCLOSED_CACHE_DIR") or str(ROOT / ".cache" / "openclosed"),
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    })
    if limit_gb is not None:
        env["OPENCLOSED_MEMORY_LIMIT_GB"] = f"{limit_gb:g}"
    return env


def build_standins(hub_cache: Path, profiles: tuple[str, ...] = ("workshop",)) -> list[dict]:
    """Build the stand-ins of ``profiles`` into ``hub_cache`` (those already there are kept)."""
    from openclosed.catalog.standins import build_standins as build

    rows = []
    for profile in profiles:
        for row in build(profile, hub_cache=hub_cache):
            rows.append({"profile": profile, "model": row.name, "parameters": row.parameters, "size_mb": row.size_mb,
                         "seconds": row.seconds, "status": row.status})
            print(f"  stand-in {row.name:16} {(row.parameters or 0) / 1e6:8.1f}M params {row.size_mb or 0:8.0f} MB "
                  f"{row.seconds:6.1f} s  {row.status}", flush=True)
    return rows


# --------------------------------------------------------------------------- (a) models


def _worker_model(name: str, image_size: int) -> dict:
    """In the child: choose the dtype as the session would, load, run once; report the peak RSS."""
    t0 = time.perf_counter()
    import openclosed as oc
    from openclosed.catalog.registry import get_model
    from openclosed.core.errors import ModelTooLargeError
    from openclosed.session.loading import estimate_bytes, fitting_dtype

    s = oc.setup(verbose=False)
    spec = get_model(name)
    out = {"model": name, "profile": s.profile, "budget_gb": s.model_budget_gb, "budget_reason": s.budget_reason,
           "session_dtype": s.dtype, "threads": s.threads, "params_m": spec.params_m}
    try:
        dtype, note = fitting_dtype(spec, s)
    except ModelTooLargeError as exc:
        out.update(decision="refused", dtype=None, reason=exc.message,
                   estimate_gb=estimate_bytes(spec, "bfloat16") / GB)
        return out
    out.update(decision="loads", dtype=dtype, reason=note, estimate_gb=estimate_bytes(spec, dtype) / GB)
    task = spec.tasks[0]
    params = {"text-generation": {"max_tokens": 8}, "image-generation": {"size": image_size, "steps": 1}}.get(task, {})
    t = time.perf_counter()
    loaded = oc.load_model(name)
    out["load_s"] = time.perf_counter() - t
    out["stand_in"] = bool(getattr(loaded, "stand_in", False))
    out["random_weights"] = bool(getattr(loaded, "random_weights", False) or spec.random_weights)
    t = time.perf_counter()
    run = oc.compare(task, [name], SMALL_INPUTS[task], **params)
    out["run_s"] = time.perf_counter() - t
    out["task"], out["run_params"] = task, params
    errors = [r.error for r in run.results if r.error]
    out["ok"] = not errors
    out["error"] = f"{errors[0].type}: {errors[0].message}" if errors else ""
    out["labelled"] = all(r.random_weights for r in run.results) if out["random_weights"] else None
    out["total_s"] = time.perf_counter() - t0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _run_child(args: list[str], env: dict[str, str], cgroup: Cgroup | None, timeout: float) -> tuple[int, str, str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    if cgroup is not None:
        cmd += ["--join-cgroup", cgroup.name]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))
    return proc.returncode, proc.stdout, proc.stderr


def measure_models(hub_cache: Path, limit_gb: float, use_cgroup: bool, image_size: int) -> list[dict]:
    """Part (a), workshop: each default open model in its own process under the memory limit."""
    from openclosed.catalog.registry import all_models

    rows = []
    names = [m.name for m in all_models() if "workshop" in m.profiles and m.family == "open"]
    for name in names:
        with tempfile.TemporaryDirectory(prefix="oc-rehearse-") as tmp:
            env = rehearsal_env(hub_cache, Path(tmp) / "responses", None if use_cgroup else limit_gb)
            cg = Cgroup(f"openclosed-rehearse-{os.getpid()}-{name}", int(limit_gb * GB)) if use_cgroup else None
            try:
                if cg:
                    cg.start_sampling()
                started = time.perf_counter()
                try:
                    rc, out, err = _run_child(["--worker-model", name, "--image-size", str(image_size)], env, cg, 600)
                except subprocess.TimeoutExpired:
                    rc, out, err = -9, "", "timed out after 600 s"
                row = {"model": name, "profile": "workshop"}
                lines = [ln for ln in out.splitlines() if ln.startswith("{")]
                if rc == 0 and lines:
                    row.update(json.loads(lines[-1]))
                else:
                    row.update(decision="crashed", ok=False,
                               error=f"exit {rc}" + (" (killed: out of memory?)" if rc in (-9, 137) else "")
                               + (": " + err.strip().splitlines()[-1] if err.strip() else ""))
                row["wall_s"] = time.perf_counter() - started
                if cg:
                    cg.stop_sampling()
                    row.update(cgroup_max_usage_mb=cg.max_usage() / MB, cgroup_peak_rss_mb=cg.peak_rss / MB,
                               cgroup_peak_anon_mb=cg.peak_anon / MB,
                               oom_kills=cg.oom_kills(), limit="cgroup")
                else:
                    row["limit"] = "OPENCLOSED_MEMORY_LIMIT_GB only (not enforced)"
            finally:
                if cg:
                    cg.stop_sampling()
                    cg.remove()
        rows.append(row)
        print(_model_line(row), flush=True)
    return rows


def gpu_decisions() -> list[dict]:
    """Part (a), gpu: the budget decision for each default open model on a SIMULATED GPU (nothing is loaded)."""
    import dataclasses

    from openclosed.catalog.registry import all_models
    from openclosed.core.errors import ModelTooLargeError
    from openclosed.core.settings import build_settings
    from openclosed.session.loading import estimate_bytes, fitting_dtype

    budget = round(SIMULATED_GPU["memory_gb"] * 0.9, 2)  # core.machine.model_budget on CUDA: 90% of the GPU
    s = dataclasses.replace(build_settings("gpu", device="cpu"), device="cuda", dtype=SIMULATED_GPU["dtype"],
                            model_budget_gb=budget, budget_reason=f"90% of {SIMULATED_GPU['name']} (simulated)")
    rows = []
    for m in all_models():
        if "gpu" not in m.profiles or m.family != "open":
            continue
        row = {"profile": "gpu", "model": m.name, "params_m": m.params_m, "budget_gb": budget,
               "limit": f"SIMULATED {SIMULATED_GPU['name']}: decision only, not loaded"}
        try:
            dtype, _ = fitting_dtype(m, s)
            row.update(decision="loads", dtype=dtype, estimate_gb=estimate_bytes(m, dtype) / GB)
        except ModelTooLargeError as exc:
            row.update(decision="refused", dtype=None, estimate_gb=estimate_bytes(m, s.dtype) / GB, reason=exc.message)
        rows.append(row)
        print(_model_line(row), flush=True)
    return rows


def _fmt(v, spec: str = ".0f", none: str = "-") -> str:
    return none if v is None else format(v, spec)


def _model_line(r: dict) -> str:
    measured = _fmt(r.get("peak_rss_mb"))
    cg = _fmt(r.get("cgroup_max_usage_mb"))
    ok = "" if r.get("decision") != "loads" or "ok" not in r else ("ran ok" if r["ok"] else f"ERROR {r.get('error')}")
    if r.get("decision") == "crashed":
        ok = f"CRASHED {r.get('error')}"
    return (f"  {r['profile']:9} {r['model']:16} {r.get('decision', '?'):8} {str(r.get('dtype') or '-'):9} "
            f"{_fmt(r.get('estimate_gb'), '.2f'):>7} GB {measured:>8} MB {cg:>8} MB  {ok}")


# --------------------------------------------------------------------------- (b) notebooks


def _worker_notebook(path: str, out_path: str) -> dict:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    result = {"notebook": Path(path).name, "error": ""}
    t = time.perf_counter()
    try:
        NotebookClient(nb, timeout=1800, kernel_name="python3",
                       resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    except DeadKernelError as exc:
        result["error"] = f"kernel died: {exc}"
        result["kernel_died"] = True
    except CellExecutionError as exc:
        result["error"] = f"cell error: {str(exc)[-600:]}"
    result["seconds"] = time.perf_counter() - t
    nbformat.write(nb, out_path)
    return result


def run_notebook(path: Path, hub_cache: Path, limit_gb: float = 2.0, cpus: float = 1.0,
                 workdir: Path | None = None, timeout: float = 1800) -> dict:
    """Run ``path`` top to bottom in the workshop profile inside a fresh cgroup (``limit_gb``, ``cpus``);
    return what happened, the executed notebook's text and the cgroup's peaks."""
    import nbformat

    with tempfile.TemporaryDirectory(prefix="oc-nb-", dir=workdir) as tmp:
        executed = Path(tmp) / path.name
        env = rehearsal_env(hub_cache, Path(tmp) / "responses")
        cg = Cgroup(f"openclosed-nb-{os.getpid()}-{path.stem}", int(limit_gb * GB), cpus)
        started = time.perf_counter()
        try:
            cg.start_sampling()
            try:
                rc, out, err = _run_child(["--worker-notebook", str(path), str(executed)], env, cg, timeout)
            except subprocess.TimeoutExpired:
                rc, out, err = -9, "", f"timed out after {timeout:g} s"
            cg.stop_sampling()
            lines = [ln for ln in out.splitlines() if ln.startswith("{")]
            row = json.loads(lines[-1]) if lines else {"notebook": path.name, "error": f"runner exit {rc}: "
                                                       + (err.strip().splitlines() or [""])[-1]}
            row.update(limit_gb=limit_gb, cpus=cpus, wall_s=time.perf_counter() - started,
                       cgroup_max_usage_mb=cg.max_usage() / MB, peak_rss_mb=cg.peak_rss / MB,
                       peak_anon_mb=cg.peak_anon / MB,
                       oom_kills=cg.oom_kills(), runner_rc=rc)
            from openclosed.testing.notebooks import outputs_text

            row["text"] = outputs_text(nbformat.read(executed, as_version=4)) if executed.exists() else ""
        finally:
            cg.stop_sampling()
            cg.remove()
    text = row["text"]
    row["traceback"] = "Traceback" in text
    row["profile_workshop"] = "profile   : workshop" in text
    row["ok"] = not row.get("error") and not row["traceback"] and row["oom_kills"] == 0 and rc == 0
    return row


def measure_notebooks(hub_cache: Path, limit_gb: float) -> list[dict]:
    rows = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        row = run_notebook(path, hub_cache, limit_gb)
        rows.append(row)
        print(_notebook_line(row), flush=True)
    return rows


def _notebook_line(r: dict) -> str:
    status = "ran without error" if r["ok"] else f"FAILED {r.get('error') or ('traceback in output' if r['traceback'] else '')}"
    if r.get("oom_kills"):
        status += f" (OOM kills: {r['oom_kills']})"
    return (f"  {r['notebook']:22} peak RSS {r['peak_rss_mb']:6.0f} MB (anon {r['peak_anon_mb']:5.0f}) | "
            f"cgroup max usage {r['cgroup_max_usage_mb']:6.0f} MB"
            f" of {r['limit_gb'] * 1024:.0f} MB | {r['wall_s']:5.0f} s | profile workshop: "
            f"{'yes' if r['profile_workshop'] else 'NO'} | {status}")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hub-cache", type=Path, help="HF hub cache for the stand-ins (default: a temporary folder)")
    parser.add_argument("--limit-gb", type=float, default=2.0)
    parser.add_argument("--image-size", type=int, default=64,
                        help="image size of the one image-generation run (bk-sdm-tiny runs in bfloat16 under 2 GB: slow)")
    parser.add_argument("--models-only", action="store_true")
    parser.add_argument("--notebooks-only", action="store_true")
    parser.add_argument("--worker-model", help=argparse.SUPPRESS)
    parser.add_argument("--worker-notebook", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--join-cgroup", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.join_cgroup:  # first thing, before torch: the whole child (and its kernel) counts
        Cgroup.join_by_name(args.join_cgroup)
    if args.worker_model:
        print(json.dumps(_worker_model(args.worker_model, args.image_size), default=str))
        return 0
    if args.worker_notebook:
        print(json.dumps(_worker_notebook(*args.worker_notebook)))
        return 0

    os.environ["HF_HUB_OFFLINE"] = "1"
    tmp = None
    if args.hub_cache is None:
        tmp = tempfile.TemporaryDirectory(prefix="oc-standins-")
        args.hub_cache = Path(tmp.name)
    can_cgroup, why = cgroups_available()
    report: dict = {"limit_gb": args.limit_gb, "cgroups": can_cgroup or why, "image_size": args.image_size}
    try:
        print(f"Building STAND-INS (random weights, real configurations) into {args.hub_cache}", flush=True)
        report["standins"] = build_standins(args.hub_cache)
        if not args.notebooks_only:
            limit = (f"a real cgroup: {args.limit_gb:g} GB memory, 1 CPU" if can_cgroup else
                     f"OPENCLOSED_MEMORY_LIMIT_GB={args.limit_gb:g} only, NOT enforced ({why})")
            print(f"\n(a) profile x default open model: loads or refused, dtype, estimated weights, measured peak\n"
                  f"    workshop: each model loaded and run once in its own process under {limit};\n"
                  f"    gpu: decision on the budget of a SIMULATED {SIMULATED_GPU['name']} (no GPU here): not loaded, "
                  f"nothing measured.\n    peak RSS = the process's maximum resident memory (torch and the libraries "
                  f"included); cgroup max = memory.max_usage_in_bytes (includes page cache).")
            print(f"  {'profile':9} {'model':16} {'decision':8} {'dtype':9} {'weights':>10} {'peak RSS':>11} "
                  f"{'cgroup max':>11}")
            report["models"] = measure_models(args.hub_cache, args.limit_gb, can_cgroup, args.image_size)
            report["models"] += gpu_decisions()
        if not args.models_only:
            print(f"\n(b) notebooks in the workshop profile (stand-ins) in a cgroup: {args.limit_gb:g} GB memory, 1 CPU")
            if not can_cgroup:
                print(f"  SKIPPED: {why}")
                report["notebooks"] = f"skipped: {why}"
            else:
                rows = measure_notebooks(args.hub_cache, args.limit_gb)
                report["notebooks"] = [{k: v for k, v in r.items() if k != "text"} for r in rows]
    finally:
        if tmp is not None:
            tmp.cleanup()
    write_results("rehearsal", report, dtype="per model: see results.models[].dtype")
    failed = [r["notebook"] for r in report.get("notebooks", []) if isinstance(r, dict) and not r["ok"]]
    crashed = [r["model"] for r in report.get("models", []) if r.get("decision") == "crashed" or r.get("ok") is False]
    if failed or crashed:
        print(f"\nFAILED: {', '.join(failed + crashed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
