"""Reading executed notebooks (tests and the rehearsal script)."""

from __future__ import annotations

from typing import Any


def outputs_text(nb: Any) -> str:
    """Every output of an executed notebook as text: streams, HTML and plain
    text, and each error's name and message."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts.append(data.get("text/html", "") + data.get("text/plain", ""))
            if out.get("output_type") == "error":
                parts.append("Traceback " + out.get("ename", "") + ": " + out.get("evalue", ""))
    return "\n".join(parts)
