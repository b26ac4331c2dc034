"""Download a profile's hub models ahead of time (Binder does this at build
time, so a workshop never waits for a download):

    python -m openclosed.catalog.downloads workshop

(``python -m openclosed.catalog.assets --profile workshop`` does this after the offline assets.)
"""

from __future__ import annotations

import argparse
import sys

from .hub import hub_models
from .standins import remove_standin

ALLOW = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "tokenizer*", "merges.txt", "vocab.*"]


def download(profile: str) -> list[str]:
    """Fetch every open hub model of ``profile`` at its pinned revision
    (safetensors and configs only) into the Hugging Face cache."""
    from huggingface_hub import snapshot_download

    done = []
    for m in hub_models(profile):
        if remove_standin(m):  # a download would otherwise keep the stand-in's files already in place
            print(f"removed the random-weight stand-in of {m.name}", flush=True)
        print(f"downloading {m.name}: {m.ref}@{m.revision} (~{m.size_mb or '?'} MB)", flush=True)
        snapshot_download(m.ref, revision=m.revision or "main", allow_patterns=ALLOW)
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
