"""``python -m openclosed``: the environment report and the whole catalog."""

from __future__ import annotations

import sys


def main() -> int:
    import pandas as pd

    import openclosed as oc

    oc.setup()
    cols = ["name", "tasks", "family", "ref", "revision", "params (M)", "size (MB)", "license", "profiles"]
    with pd.option_context("display.width", 250, "display.max_colwidth", 60):
        print()
        print(oc.models()[cols].to_string(index=False, na_rep="-"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
