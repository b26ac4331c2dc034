"""The browser pass's measurements per notebook, kept: reads
``tests/artifacts/browser/pod-memory.json`` (written by ``tests/test_browser.py``:
every notebook's Run All in JupyterLab inside a 2 GB / 1 CPU pod, its panels
used) and writes ``benchmarks/results/notebook_times.json`` (committed)
through the shared writer (``results_file.write_results``: the measurements
under ``"results"``, with the commit, machine, dtype, date and this command
beside it; each notebook's row keeps its own date and commit, as a pass over
some notebooks replaces only theirs). The instructor's guide reads it
(``python benchmarks/render_guide.py``).

    make test PYTEST_ARGS="-m browser"      # the browser pass (about 10 minutes)
    python benchmarks/notebook_times.py     # keep its numbers
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from results_file import commit, utc, write_results  # benchmarks/ is the script's own folder

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BROWSER_PASS = 'make test PYTEST_ARGS="-m browser"'  # what measures; this script keeps its numbers
# the pass tells the lab its CPU lacks native bfloat16 (OPENCLOSED_NATIVE_BF16=0), so the lab picks float32 itself
DTYPE = "float32 (bfloat16 only where a model would not fit otherwise)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=ROOT / "tests" / "artifacts" / "browser" / "pod-memory.json")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "notebook_times.json")
    args = ap.parse_args()
    if not args.source.exists():
        sys.exit(f"{args.source} is missing: run the browser pass first (make test PYTEST_ARGS=\"-m browser\")")
    measured = json.loads(args.source.read_text())
    when = utc(datetime.fromtimestamp(args.source.stat().st_mtime, UTC))
    # a pass over some notebooks (pytest -k) replaces their rows and keeps the others, each row with its own date
    kept = json.loads(args.out.read_text())["results"]["notebooks"] if args.out.exists() else {}
    here = commit()
    notebooks = dict(kept)
    notebooks.update({stem: {"run_all_s": round(row["run_all_s"], 1), "peak_anon_mb": round(row["peak_anon_mb"]),
                             "peak_rss_mb": round(row["peak_rss_mb"]), "oom_kills": row["oom_kills"],
                             "measured_at": when, "commit": here} for stem, row in measured.items()})
    notebooks = dict(sorted(notebooks.items()))
    write_results(args.out.stem, {
        "what": "Run All of each notebook in JupyterLab (Debian chromium) inside a 2 GB / 1 CPU pod, workshop profile "
                "with random-weight stand-ins, its panels then used; seconds from Run All to the last cell done",
        "measured_by": BROWSER_PASS, "notebooks": notebooks, "measured_at": when,
    }, dtype=DTYPE, at_commit=here, folder=args.out.parent)
    print(", ".join(f"{k} {v['run_all_s']:.0f} s" for k, v in notebooks.items()))


if __name__ == "__main__":
    main()
