"""Download a profile's hub models ahead of time (Binder does this at build
time, so a workshop never waits for a download):

    python -m openclosed.catalog.downloads workshop

(``python -m openclosed.catalog.assets --profile workshop`` does this after the offline assets.)

Only safetensors weights are fetched (the loader reads nothing else), and for
a model with a file record (:mod:`openclosed.catalog.hub_files`) only the
weight files the record names: a repository may hold other safetensors that
loading never reads (a single-file checkpoint, fp16 variants, a safety checker).
"""

from __future__ import annotations

import argparse
import posixpath
import re
import sys

from .hub import hub_models, is_pinned
from .hub_files import HubFiles, hub_files
from .specs import ModelSpec
from .standins import remove_standin

ALLOW = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "tokenizer*", "merges.txt", "vocab.*"]
"""``snapshot_download`` allow patterns: configuration, tokenizer and safetensors files."""

WEIGHT_PATTERNS = ["*.safetensors"]
"""The part of :data:`ALLOW` that takes weights (replaced by a record's own weight files)."""

_VARIANT = re.compile(r"\.(fp16|bf16|fp32|non_ema|ema)\.safetensors$")
_SHARD = re.compile(r"^(.*)-(\d{5})-of-(\d{5})\.safetensors$")


def fetched(path: str, patterns: list[str] | None = None) -> bool:
    """Whether ``snapshot_download(allow_patterns=patterns)`` downloads the repository file ``path``
    (huggingface_hub's own matching: ``fnmatch``, so ``*`` also crosses ``/``)."""
    from huggingface_hub.utils import filter_repo_objects

    return bool(list(filter_repo_objects([path], allow_patterns=ALLOW if patterns is None else patterns)))


def allow_patterns(spec: ModelSpec) -> list[str]:
    """What to download for ``spec``: its record's weight files exactly, plus every configuration and
    tokenizer file :data:`ALLOW` takes; :data:`ALLOW` itself for a model without a record."""
    record = hub_files(spec)
    if record is None:
        return list(ALLOW)
    return [p for p in ALLOW if p not in WEIGHT_PATTERNS] + list(record.weights)


def problems(spec: ModelSpec, record: HubFiles | None = None) -> list[str]:
    """Why ``spec`` could not be downloaded and loaded as recorded (empty when it can): the revision
    is not a full commit, the record is missing or has no source, a needed file is not downloaded,
    or the weights are not (all) safetensors the loader reads. ``record`` defaults to
    :func:`~openclosed.catalog.hub_files.hub_files` of ``spec``."""
    out = []
    if not is_pinned(spec.revision):
        out.append(f"revision {spec.revision!r} is not a full 40-hex commit")
    record = record if record is not None else hub_files(spec)
    if record is None:
        return out + [f"no file record for {spec.ref}@{spec.revision} in catalog.hub_files"]
    if (record.ref, record.revision) != (spec.ref, spec.revision):
        out.append(f"the file record is for {record.ref}@{record.revision}, not {spec.ref}@{spec.revision}")
    if not record.source.startswith("https://"):
        out.append("the file record names no source URL")
    if not record.verified.strip() or not record.found.strip():
        out.append("the file record does not say how far it is verified, or what its source shows")
    if not record.files or len(set(record.files)) != len(record.files):
        out.append("the file record lists no files, or a file twice")
    patterns = [p for p in ALLOW if p not in WEIGHT_PATTERNS] + list(record.weights)  # = allow_patterns(spec)
    out += [f"{f}: not matched by the download patterns {ALLOW}" for f in record.files if not fetched(f, ALLOW)]
    out += [f"{f}: not downloaded (not matched by {patterns})" for f in record.files if not fetched(f, patterns)]
    weights = record.weights
    if not any(w.endswith(".safetensors") for w in weights):
        out.append("no safetensors weights: the loader reads safetensors only (use_safetensors=True)")
    out += [f"{w}: not safetensors, never read by the loader" for w in weights if not w.endswith(".safetensors")]
    out += [f"{w}: a variant file; the loader asks for no variant" for w in weights if _VARIANT.search(w)]
    for folder in record.folders():
        if not any(w.endswith(".safetensors") and posixpath.dirname(w) == folder for w in weights):
            out.append(f"{folder or 'the repository root'}: a model configuration without safetensors weights")
    for w in weights:
        m = _SHARD.match(w)
        if m:
            total = int(m.group(3))
            shards = {f"{m.group(1)}-{k:05d}-of-{total:05d}.safetensors" for k in range(1, total + 1)}
            index = f"{m.group(1)}.safetensors.index.json"
            if not shards <= set(record.files) or index not in record.files:
                out.append(f"{w}: a shard of {total} without all its shards and {index}")
    if spec.backend == "diffusers" and "model_index.json" not in record.files:
        out.append("a diffusers pipeline without model_index.json")
    return out


def download(profile: str) -> list[str]:
    """Fetch every open hub model of ``profile`` at its pinned revision
    (safetensors and configs only) into the Hugging Face cache."""
    from huggingface_hub import snapshot_download

    done = []
    for m in hub_models(profile):
        if remove_standin(m):  # a download would otherwise keep the stand-in's files already in place
            print(f"removed the random-weight stand-in of {m.name}", flush=True)
        print(f"downloading {m.name}: {m.ref}@{m.revision} (~{m.size_mb or '?'} MB)", flush=True)
        snapshot_download(m.ref, revision=m.revision or "main", allow_patterns=allow_patterns(m))
        done.append(m.name)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", choices=["workshop", "gpu"])
    args = parser.parse_args(argv)
    names = download(args.profile)
    print(f"{len(names)} model(s) ready for the {args.profile!r} profile: {', '.join(names) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
