"""What a task is: its default parameters, the checks its parameters must
pass before any model runs, and how many output tokens a call may bill."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import BadParameterError
from ..core.settings import Settings


@dataclass(frozen=True)
class Task:
    """One task: ``validate(params, settings)`` returns the checked parameters
    (defaults filled in) or raises :class:`BadParameterError` naming the
    parameter and the fix."""

    name: str
    defaults: dict[str, Any]
    checks: dict[str, Callable[[str, Any, Settings], Any]] = field(default_factory=dict)
    input_help: str = "one text"
    example: str = ""
    billed_output_tokens: Callable[[dict[str, Any]], int] = lambda params: 40  # noqa: E731
    check_local: Callable[..., None] | None = None  # (params, settings, local specs): extra checks when a model runs here

    def validate(self, params: dict[str, Any], settings: Settings) -> dict[str, Any]:
        merged = {**self.defaults, **params}
        known = set(self.defaults) | set(self.checks)
        unknown = [k for k in params if k not in known]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
            raise BadParameterError(
                f"{self.name} has no parameter {unknown[0]!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                f"{self.name} takes: {', '.join(sorted(known)) or 'no parameters'}")
        out = {}
        for name, value in merged.items():
            if callable(value):
                raise BadParameterError(f"{name}= is a function", f"pass a plain value for {name}")
            check = self.checks.get(name)
            out[name] = check(name, value, settings) if check and value is not None else value
        return out


# ----------------------------------------------------------------- checks
def int_between(low: int, high: int | None = None, hint: str = "") -> Callable[[str, Any, Settings], int]:
    """A check: a whole number in [low, high]."""

    def check(name: str, value: Any, _s: Settings) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not value.is_integer()):
            raise BadParameterError(f"{name}={value!r} is not a whole number",
                                    f"pass {name} as an integer, e.g. {name}={max(low, 1)}")
        value = int(value)
        if value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise BadParameterError(f"{name}={value} is out of range", f"use {name} {span}" + (f"; {hint}" if hint else ""))
        return value

    return check


def number_between(low: float, high: float | None = None, hint: str = "") -> Callable[[str, Any, Settings], float]:
    """A check: a finite number in [low, high]."""

    def check(name: str, value: Any, _s: Settings) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BadParameterError(f"{name}={value!r} is not a number", f"pass {name} as a number, e.g. {name}={low}")
        if value < low or (high is not None and value > high):
            span = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
            raise BadParameterError(f"{name}={value!r} is out of range", f"use {name} {span}" + (f"; {hint}" if hint else ""))
        return float(value)

    return check


def text(name: str, value: Any, _s: Settings) -> str:
    """A check: a string."""
    if not isinstance(value, str):
        raise BadParameterError(f"{name}={value!r} is not text", f"pass {name} as a string")
    return value


SEED = int_between(0, 2**32 - 1, "any whole number; the same seed gives the same output on the same machine")
