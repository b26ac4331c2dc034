"""API keys: found in the environment or a ``.env`` file, held as
:class:`Secret` objects that never show themselves, and scrubbed out of any
text by :func:`redact` before it is shown, logged or saved.
(Introduced in ``notebooks/00_start_here.ipynb``.)"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

KEY_NAMES = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY")

_known_secrets: set[str] = set()
_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,})")


def mask(value: str) -> str:
    """``sk-proj-abc...wxyz`` -> ``sk-…wxyz``: enough to tell keys apart, no more."""
    if not value:
        return ""
    prefix = "sk-" if value.startswith("sk-") else ""
    return f"{prefix}…{value[-4:]}" if len(value) > 8 else "…"


class Secret:
    """An API key that never shows itself: repr, str and format are masked.

    Use :meth:`reveal` only at the point where the key is handed to a client.
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        self._value = value.strip()
        self.source = source
        if len(self._value) >= 8:
            _known_secrets.add(self._value)

    def reveal(self) -> str:
        """The real key, for passing to an API client. Never print it."""
        return self._value

    @property
    def masked(self) -> str:
        return mask(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked!r}, source={self.source!r})"

    __str__ = __format__ = lambda self, *_: self.masked  # noqa: E731

    def __reduce__(self):  # refuse to be pickled/saved
        raise TypeError("an API key cannot be pickled or saved")

    def __bool__(self) -> bool:
        return bool(self._value)


def redact(text: Any) -> str:
    """Return ``text`` as a string with every known API key (and anything
    shaped like an OpenAI key) replaced by its masked form."""
    s = str(text)
    for secret in sorted(_known_secrets, key=len, reverse=True):
        if secret in s:
            s = s.replace(secret, mask(secret))
    return _KEY_PATTERN.sub(lambda m: mask(m.group(1)), s)


def find_keys(env_file: Path | None = None) -> dict[str, Secret]:
    """Keys from the environment, then from ``env_file`` (default: ``.env`` here or one folder up)."""
    keys: dict[str, Secret] = {}
    for name in KEY_NAMES:
        if os.environ.get(name):
            keys[name] = Secret(os.environ[name], "environment")
    path = env_file or Path.cwd() / ".env"
    if not path.exists():  # notebooks run in notebooks/: look one level up too
        path = Path.cwd().parent / ".env"
    if path.exists():
        from dotenv import dotenv_values

        for name, value in dotenv_values(path).items():
            if name in KEY_NAMES and value and name not in keys:
                keys[name] = Secret(value, f".env file {path.name}")
    return keys
