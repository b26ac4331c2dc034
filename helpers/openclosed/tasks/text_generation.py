"""Text generation: a chat answer per prompt, streamed, with time to first
token and tokens/s."""

from __future__ import annotations

from .base import SEED, Task, int_between, number_between, text

MAX_NEW_TOKENS = 4096

TASK = Task(
    name="text-generation",
    defaults={"max_tokens": 128, "temperature": 0.0, "seed": 0},
    checks={
        "max_tokens": int_between(1, MAX_NEW_TOKENS, "it is the most tokens an answer may have"),
        "temperature": number_between(0.0, 2.0, "0 is greedy (the same answer every time), 0.7 is typical"),
        "top_p": number_between(0.0, 1.0),
        "seed": SEED,
        "system": text,
    },
    input_help="one prompt",
    example="Explain in two sentences what an open-weight model is.",
    billed_output_tokens=lambda params: int(params.get("max_tokens") or 128),
)
