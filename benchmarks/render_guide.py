"""The measured numbers of the instructor's guide, written from the results
files, never by hand: each table of ``docs/instructor.md`` between
``<!-- measured:NAME -->`` and ``<!-- /measured:NAME -->`` is replaced by the
rendering of its file in ``benchmarks/results/`` (the shared writer's layout:
the measurement under ``"results"``, where and how it was made beside it):

* ``serving``: ``serving.json`` (``benchmarks/bench_serving.py``): concurrent
  requests to one served model, plain and batched;
* ``notebook-times``: ``notebook_times.json`` (``benchmarks/notebook_times.py``,
  from the browser pass): each notebook's Run All time and peak memory on a
  2 GB / 1 CPU pod.

    python benchmarks/render_guide.py           # rewrite the tables in the guide
    python benchmarks/render_guide.py --check   # exit 1 when the guide differs from its results files
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GUIDE = ROOT / "docs" / "instructor.md"
RESULTS = HERE / "results"
NOTEBOOK_TITLES = {
    "00_start_here": "00 start here", "01_sentiment": "01 sentiment", "02_text_generation": "02 text generation",
    "02b_inside_chat_models": "02b inside chat models", "02c_open_models_on_cpu": "02c open models on a CPU",
    "03_image_generation": "03 image generation", "04_customize": "04 customize",
    "05_cost_privacy_transparency": "05 cost, privacy, transparency"}


def _source(record: dict, file: str) -> str:
    """Where the table's numbers come from: the file, its date, commit, machine and the command that wrote it
    (after the one that measured, where another did: ``results.measured_by``)."""
    m, result = record["machine"], record["results"]
    load = result.get("load_average_at_start")
    busy = f", load average {', '.join(f'{x:.1f}' for x in load)} at the start" if load else ""
    command = " && ".join(filter(None, [result.get("measured_by"), record["command"]]))
    return (f"<sub>From `benchmarks/results/{file}`: {record['date']}, commit `{record['commit'][:12]}`, "
            f"{m['cpu']} ({m.get('cores_usable', '?')} CPUs usable{busy}); `{command}`.</sub>")


def serving_table(record: dict) -> str:
    """Concurrent streaming requests to one served SmolLM2: TTFT p50/p95 and total tokens/s, plain vs batched."""
    data = record["results"]
    rows = {(r["server"], r["concurrent_requests"]): r for r in data["rows"]}
    lines = [f"SmolLM2-135M-Instruct behind `transformers serve` ({record['dtype']}, {data['device']}), "
             f"{data['max_tokens']} tokens per answer:", "",
             "| requests at once | TTFT p50 plain | TTFT p50 batched | TTFT p95 plain | TTFT p95 batched "
             "| tokens/s plain | tokens/s batched |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for n in data["levels"]:
        p, b = rows[("plain", n)], rows[("concurrent", n)]
        lines.append(f"| {n} | {p['ttft_p50_s']:.2f} s | {b['ttft_p50_s']:.2f} s | {p['ttft_p95_s']:.2f} s "
                     f"| {b['ttft_p95_s']:.2f} s | {p['total_tokens_per_s']:.1f} | {b['total_tokens_per_s']:.1f} |")
    errors = sum(r["errors"] for r in data["rows"])
    lines += ["", ("No request failed." if not errors else f"{errors} requests failed (see the file)."), "",
              _source(record, "serving.json")]
    return "\n".join(lines)


def notebook_times_table(record: dict) -> str:
    """Each notebook's Run All time and peak memory, measured in the browser pass."""
    lines = ["| notebook | Run All on a 1-CPU pod | peak memory (of 2 GB) |", "|---|---:|---:|"]
    for stem, row in record["results"]["notebooks"].items():
        minutes = row["run_all_s"] / 60
        took = f"{row['run_all_s']:.0f} s" if row["run_all_s"] < 90 else f"{minutes:.1f} min"
        lines.append(f"| {NOTEBOOK_TITLES.get(stem, stem)} | {took} | {row['peak_anon_mb']:,} MB |")
    return "\n".join(lines + ["", _source(record, "notebook_times.json")])


TABLES = {"serving": ("serving.json", serving_table), "notebook-times": ("notebook_times.json", notebook_times_table)}


def render(text: str, results: Path = RESULTS) -> str:
    """``text`` (the guide) with every measured table rewritten from its results file (or a line saying that
    it has not been measured yet, and how to measure it)."""
    for name, (file, table) in TABLES.items():
        path = results / file
        body = table(json.loads(path.read_text())) if path.exists() else (
            f"_Not measured yet: run the command that writes `benchmarks/results/{file}`._")
        pattern = re.compile(rf"(<!-- measured:{name} -->\n)(?:.*?\n)?(<!-- /measured:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"the guide has no <!-- measured:{name} --> ... <!-- /measured:{name} --> block")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only check; exit 1 when the guide is out of date")
    args = ap.parse_args()
    old = GUIDE.read_text(encoding="utf-8")
    new = render(old)
    if args.check:
        if new != old:
            sys.exit("docs/instructor.md differs from benchmarks/results/: run python benchmarks/render_guide.py")
        print("docs/instructor.md matches its results files")
        return
    GUIDE.write_text(new, encoding="utf-8")
    print("docs/instructor.md: measured tables rewritten" if new != old else "docs/instructor.md: already up to date")


if __name__ == "__main__":
    main()
