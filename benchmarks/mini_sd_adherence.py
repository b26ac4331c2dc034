"""The mini Stable Diffusion's guidance and steps, chosen on validation prompts and seeds, then its prompt
adherence reported once on test prompts and seeds it was not chosen on.

1. Choose: every guidance scale of ``--guidance`` (at the preset's steps), then every step count of ``--steps``
   at the best guidance, each drawing ``oc.adherence_prompts(3, split="validation")`` (other backgrounds and
   corners than the test prompts) with the validation seeds. The setting with the most shape-and-colour matches
   over all validation images wins (ties: fewer steps, then lower guidance).
2. Report: the chosen setting draws ``oc.adherence_prompts(3, split="test")`` with the test seeds, once; the
   share of pictures whose shape and colour match (seen and held-out pairs apart), each with its 95% Wilson
   interval, beside the chance rate (1 in 24) and the share the judge was unsure of.

Writes ``benchmarks/results/mini_sd_adherence.json`` through the shared writer (``results_file.write_results``:
the measurement under ``"results"``, with the commit, machine, dtype, date and this command beside it) and the
model card's section "Guidance, steps and prompt adherence" from it (``--card-only`` rewrites that section from
the existing file, drawing nothing).

    python benchmarks/mini_sd_adherence.py [--guidance 1 2 2.5 3 4 6] [--steps 10 20]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "results" / "mini_sd_adherence.json"
CARD = ROOT / "helpers" / "openclosed" / "data" / "mini_sd" / "MODEL_CARD.md"
BEGIN, END = "<!-- adherence: written by benchmarks/mini_sd_adherence.py -->", "<!-- /adherence -->"
VALIDATION_SEEDS = (100, 101)
TEST_SEEDS = (0, 1, 2)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENCLOSED_CACHE_DIR", str(ROOT / ".cache" / "openclosed"))


def _split_rows(ad) -> dict:
    out = {}
    for split in ("seen", "held-out"):
        rows = ad.rows[ad.rows["split"] == split]
        low, high = ad.interval(split)
        out[split] = {"images": int(len(rows)), "matches": int(rows["match"].sum()),
                      "share": round(float(rows["match"].mean()), 4), "low": round(low, 4), "high": round(high, 4),
                      "unsure": round(float(rows["unsure"].mean()), 4)}
    return out


def card_section(record: dict) -> str:
    """The model card's section, every number read from ``record`` (the results file: the measurement under
    ``"results"``, where and how it was made beside it)."""
    def pct(x: float) -> str:
        return f"{100 * x:.1f}%"

    result = record["results"]
    t, c = result["test"], result["chosen"]
    rows = "\n".join(f"| {r['guidance_scale']:g} | {r['steps']} | {r['matches']}/{r['images']} | "
                     f"{pct(r['seen']['share'])} | {pct(r['held-out']['share'])} |" for r in result["validation_sweep"])
    lines = [
        BEGIN, "## Guidance, steps and prompt adherence", "",
        f"Chosen on **validation** prompts and seeds, reported once on **test** prompts and seeds "
        f"(`{record['command'].strip()}`; results: `benchmarks/results/mini_sd_adherence.json`, commit "
        f"{record['commit'][:12]}, {result['device']}, {record['dtype']}, {record['date'][:10]}). "
        "Adherence: the share of pictures whose shape **and** colour the shape classifier reads as asked "
        f"(unsure readings never match); a guess among the 24 pairs would match {pct(result['chance'])}.", "",
        f"Validation: `{result['chosen_on']['prompts']}` with seeds {result['chosen_on']['seeds']} "
        f"({result['validation_sweep'][0]['images']} pictures per setting); rule: {result['chosen_on']['rule']}.", "",
        "| guidance | steps | matches | seen pairs | held-out pairs |", "|---|---|---|---|---|", rows, "",
        f"**Chosen: guidance {c['guidance_scale']:g}, {c['steps']} steps** (the catalog preset). On the test prompts "
        f"(`{t['prompts']}`, seeds {t['seeds']}):", "",
        f"* seen pairs: {t['seen']['matches']}/{t['seen']['images']} = **{pct(t['seen']['share'])}** "
        f"[95% CI {pct(t['seen']['low'])}, {pct(t['seen']['high'])}]",
        f"* held-out pairs: {t['held-out']['matches']}/{t['held-out']['images']} = **{pct(t['held-out']['share'])}** "
        f"[95% CI {pct(t['held-out']['low'])}, {pct(t['held-out']['high'])}]",
        f"* chance: {pct(result['chance'])}", "",
        "The judge itself was checked against a person on 48 generated pictures "
        "(`benchmarks/results/judge_agreement.json`, `helpers/openclosed/data/judge_check/`).", END]
    return "\n".join(lines)


def write_card(record: dict, card: Path = CARD) -> None:
    """Put :func:`card_section` into the model card, in place of the previous one (or at the end)."""
    text = card.read_text(encoding="utf-8")
    section = card_section(record)
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    card.write_text(text, encoding="utf-8")


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mini-sd")
    ap.add_argument("--guidance", type=float, nargs="+", default=[1, 2, 2.5, 3, 4, 6])
    ap.add_argument("--steps", type=int, nargs="+", default=[10, 20])
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--card-only", action="store_true", help="rewrite the model card's section from --out")
    args = ap.parse_args()
    if args.card_only:
        record = json.loads(Path(args.out).read_text(encoding="utf-8"))
        write_card(record)
        print(card_section(record))
        return record

    from results_file import commit, write_results  # benchmarks/ is the script's own folder

    drawn_by = commit()  # the code that draws, before anything else can change

    from tqdm.auto import tqdm

    import openclosed as oc
    from openclosed.catalog.shape_classifier import CHANCE

    settings = oc.setup(verbose=False, deadline_s=3600)  # a busy machine must slow the sweep, not end it
    preset_steps = int(oc.get_model(args.model).extra["preset"]["steps"])
    validation, test = oc.adherence_prompts(3, split="validation"), oc.adherence_prompts(3, split="test")
    bar = tqdm(total=(len(args.guidance) + len(args.steps)) * len(VALIDATION_SEEDS) + len(TEST_SEEDS),
               desc="mini-sd adherence: runs")

    def score(prompts, seeds, guidance, steps):
        runs = []
        for seed in seeds:
            runs.append(oc.compare("image-generation", [args.model], prompts, seed=seed, steps=steps,
                                   guidance_scale=guidance, cache="off", progress=False))
            bad = [r.error for r in runs[-1].results if not r.ok]
            if bad:
                raise SystemExit(f"oc.compare failed: {bad[0]}")
            bar.update(1)
        return oc.adherence(runs)

    sweep = []

    def validate(guidance, steps):
        ad = score(validation, VALIDATION_SEEDS, guidance, steps)
        row = {"guidance_scale": guidance, "steps": steps, "matches": int(ad.rows["match"].sum()),
               "images": int(len(ad.rows)), **_split_rows(ad)}
        sweep.append(row)
        return row

    by_guidance = [validate(g, preset_steps) for g in args.guidance]
    best_g = max(by_guidance, key=lambda r: (r["matches"], -r["guidance_scale"]))["guidance_scale"]
    by_steps = [next(r for r in by_guidance if r["guidance_scale"] == best_g) if s == preset_steps
                else validate(best_g, s) for s in args.steps]
    best = max(by_steps, key=lambda r: (r["matches"], -r["steps"]))
    chosen = {"guidance_scale": best["guidance_scale"], "steps": best["steps"]}

    ad = score(test, TEST_SEEDS, chosen["guidance_scale"], chosen["steps"])
    bar.close()
    result = {
        "what": "mini-sd prompt adherence: shape and colour read by the shape classifier; guidance and steps "
                "chosen on validation prompts and seeds, reported once on test prompts and seeds",
        "model": args.model,
        "chance": CHANCE,
        "chosen_on": {"prompts": "oc.adherence_prompts(3, split='validation')", "seeds": list(VALIDATION_SEEDS),
                      "rule": "most shape-and-colour matches over all validation images; ties: fewer steps, "
                              "then lower guidance"},
        "chosen": chosen,
        "validation_sweep": sweep,
        "test": {"prompts": "oc.adherence_prompts(3, split='test')", "seeds": list(TEST_SEEDS),
                 **_split_rows(ad)},
        "device": settings.device,
    }
    print(f"validation ({len(validation)} prompts x seeds {list(VALIDATION_SEEDS)}), steps {preset_steps}:")
    for r in sweep:
        print(f"  guidance {r['guidance_scale']:>4g}, steps {r['steps']:>3d}: {r['matches']}/{r['images']} match "
              f"(seen {r['seen']['share']:.0%}, held-out {r['held-out']['share']:.0%})")
    print(f"chosen: guidance {chosen['guidance_scale']:g}, {chosen['steps']} steps")
    t = result["test"]
    for split in ("seen", "held-out"):
        s = t[split]
        print(f"test {split}: {s['matches']}/{s['images']} = {s['share']:.1%} [95% CI {s['low']:.1%}, "
              f"{s['high']:.1%}], unsure {s['unsure']:.1%}; chance {result['chance']:.1%}")
    out = Path(args.out)
    path = write_results(out.stem, result, dtype=settings.dtype, at_commit=drawn_by, folder=out.parent)
    record = json.loads(path.read_text(encoding="utf-8"))
    write_card(record)
    print(f"({settings.device}, {settings.dtype}) and the model card's section from it")
    return record


if __name__ == "__main__":
    main()
