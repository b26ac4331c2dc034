"""The browser pass's measurements per notebook, kept: reads
``tests/artifacts/browser/pod-memory.json`` (written by ``tests/test_browser.py``:
every notebook's Run All in JupyterLab inside a 2 GB / 1 CPU pod, its panels
used) and writes ``benchmarks/results/notebook_times.json`` (committed) with
the commit, machine, date and command. The instructor's guide reads it
(``python benchmarks/render_guide.py``).

    make test PYTEST_ARGS="-m browser"      # the browser pass (about 10 minutes)
    python benchmarks/notebook_times.py     # keep its numbers
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

from bench_serving import commit, machine  # the same record of where a number was measured (this script's folder)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=ROOT / "tests" / "artifacts" / "browser" / "pod-memory.json")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "notebook_times.json")
    args = ap.parse_args()
    if not args.source.exists():
        sys.exit(f"{args.source} is missing: run the browser pass first (make test PYTEST_ARGS=\"-m browser\")")
    measured = json.loads(args.source.read_text())
    when = datetime.fromtimestamp(args.source.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    # a pass over some notebooks (pytest -k) replaces their rows and keeps the others, each row with its own date
    kept = json.loads(args.out.read_text())["notebooks"] if args.out.exists() else {}
    here = commit()
    notebooks = dict(kept)
    notebooks.update({stem: {"run_all_s": round(row["run_all_s"], 1), "peak_anon_mb": round(row["peak_anon_mb"]),
                             "peak_rss_mb": round(row["peak_rss_mb"]), "oom_kills": row["oom_kills"],
                             "measured_at": when, "commit": here} for stem, row in measured.items()})
    notebooks = dict(sorted(notebooks.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "what": "Run All of each notebook in JupyterLab (Debian chromium) inside a 2 GB / 1 CPU pod, workshop profile "
                "with random-weight stand-ins, its panels then used; seconds from Run All to the last cell done",
        "notebooks": notebooks, "measured_at": when, "commit": here,
        "machine": {k: v for k, v in machine().items() if k != "load_average_at_start"},  # now, not the pass's
        "command": "make test PYTEST_ARGS=\"-m browser\" && python benchmarks/notebook_times.py",
        "python": platform.python_version(),
    }, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(ROOT)}: " + ", ".join(f"{k} {v['run_all_s']:.0f} s" for k, v in notebooks.items()))


if __name__ == "__main__":
    main()
