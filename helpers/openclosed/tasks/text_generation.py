"""Text generation: a chat answer per prompt, streamed, with time to first
token and tokens/s. (Introduced in ``02_text_generation.ipynb``.)

Parameters: ``max_tokens``, ``temperature`` (0 = greedy), ``top_p``,
``seed``, ``stop`` (up to four strings; the answer ends before the first one)
and ``system`` (a system prompt). All are checked before any model runs."""

from __future__ import annotations

from typing import Any

from ..core.errors import BadParameterError
from ..core.settings import Settings
from .base import SEED, Task, int_between, number_between, text

MAX_NEW_TOKENS = 4096
MAX_STOPS = 4  # the OpenAI API takes at most four stop strings


def stop_strings(name: str, value: Any, _s: Settings) -> list[str]:
    """A check: one stop string or a list of up to four non-empty strings."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise BadParameterError(f"{name}={value!r} is not a string or a list of strings",
                                f'pass e.g. {name}=["\\n\\n"] (the answer ends before the first one)')
    if any(not v for v in values):
        raise BadParameterError(f"{name} holds an empty string", "drop it: an empty stop string would end every answer")
    if len(values) > MAX_STOPS:
        raise BadParameterError(f"{name} has {len(values)} strings", f"use at most {MAX_STOPS} (the API limit)")
    return list(values)


TASK = Task(
    name="text-generation",
    defaults={"max_tokens": 128, "temperature": 0.0, "seed": 0},
    checks={
        "max_tokens": int_between(1, MAX_NEW_TOKENS, "it is the most tokens an answer may have"),
        "temperature": number_between(0.0, 2.0, "0 is greedy (the same answer every time), 0.7 is typical"),
        "top_p": number_between(0.0, 1.0, "1 keeps every token; 0.9 samples from the likeliest 90%"),
        "seed": SEED,
        "stop": stop_strings,
        "system": text,
    },
    input_help="one prompt",
    example="Explain in two sentences what an open-weight model is.",
    billed_output_tokens=lambda params: int(params.get("max_tokens") or 128),
)
