"""How often a streaming widget is redrawn: at most once every few tenths of
a second per column, whichever thread the text arrives on (a redraw per token
would flood the browser and slow the model)."""

from __future__ import annotations

import threading
import time


class Throttle:
    """``ready(key)`` is True at most once every ``every_s`` seconds per key; safe to call from any thread."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def ready(self, key: str) -> bool:
        now = time.perf_counter()
        with self._lock:
            if now - self._last.get(key, float("-inf")) < self.every_s:
                return False
            self._last[key] = now
            return True

    def reset(self) -> None:
        """Forget every key: the next call for each is let through (a new run)."""
        with self._lock:
            self._last.clear()
