"""Models stay loaded once per kernel, in a least-recently-used cache with a
memory budget that :func:`openclosed.setup` derives from this machine (the
container's memory limit, e.g. Binder's 2 GB pod, or the GPU's memory). Loading a model
that does not fit evicts the least recently used ones and says so; a model
larger than the whole budget is refused with a clear error."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.errors import ModelTooLargeError
from ..core.machine import give_back_memory

GB = 1024**3


def object_bytes(obj: Any) -> int:
    """Bytes held by the torch tensors of ``obj`` (a model, a pipeline, a tuple
    or dict of them). Objects without tensors count as 0."""
    seen: set[int] = set()

    def walk(o: Any) -> int:
        if id(o) in seen or o is None:
            return 0
        seen.add(id(o))
        if hasattr(o, "parameters") and hasattr(o, "buffers"):
            return sum(t.numel() * t.element_size() for t in list(o.parameters()) + list(o.buffers()))
        if hasattr(o, "components") and isinstance(getattr(o, "components"), dict):  # diffusers pipeline
            return sum(walk(v) for v in o.components.values())
        if isinstance(o, dict):
            return sum(walk(v) for v in o.values())
        if isinstance(o, (list, tuple)):
            return sum(walk(v) for v in o)
        if hasattr(o, "__dict__") and getattr(o, "_oc_walk", False):
            return sum(walk(v) for v in vars(o).values())
        return 0

    return walk(obj)


@dataclass
class _Entry:
    value: Any
    nbytes: int
    label: str


class ModelCache:
    """Thread-safe LRU of loaded models under a byte budget."""

    def __init__(self, budget_gb: float = 1.5) -> None:
        self.budget = int(budget_gb * GB)
        self._items: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.RLock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.loads = 0
        self.hits = 0
        self.messages: list[str] = []

    def set_budget(self, budget_gb: float) -> None:
        with self._lock:
            self.budget = int(budget_gb * GB)
            self._evict_until(0, "the budget changed")

    @property
    def used(self) -> int:
        return sum(e.nbytes for e in self._items.values())

    def _say(self, msg: str) -> None:
        self.messages.append(msg)
        print(msg)

    def _evict_until(self, needed: int, reason: str) -> None:
        evicted = False
        while self._items and self.used + needed > self.budget:
            key, entry = self._items.popitem(last=False)
            evicted = True
            self._say(f"[model cache] unloaded {entry.label} ({entry.nbytes / 2**20:.0f} MB) to make room: {reason} "
                      f"(budget {self.budget / GB:.2g} GB; change with oc.setup(model_budget_gb=...))")
        if evicted:  # give the memory back now, not at some later collection
            give_back_memory()

    def get_or_load(self, key: str, loader: Callable[[], Any], *, label: str, estimate_bytes: int = 0) -> Any:
        """The cached object for ``key``, loading it with ``loader()`` once."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key].value
            klock = self._key_locks.setdefault(key, threading.Lock())
        with klock:  # two threads asking for the same model load it once
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    self.hits += 1
                    return self._items[key].value
                self._check_fits(label, estimate_bytes)
                self._evict_until(estimate_bytes, f"loading {label}")
            value = loader()
            nbytes = object_bytes(value) or estimate_bytes
            with self._lock:
                self._check_fits(label, nbytes)
                self._evict_until(nbytes, f"loading {label}")
                self._items[key] = _Entry(value, nbytes, label)
                self.loads += 1
            return value

    def _check_fits(self, label: str, nbytes: int) -> None:
        if nbytes > self.budget:
            raise ModelTooLargeError(
                f"{label} needs about {nbytes / GB:.2f} GB, more than the model memory budget of {self.budget / GB:.2f} GB",
                "raise it with oc.setup(model_budget_gb=...) if this machine has the memory, or pick a smaller model",
            )

    def evict(self, key: str) -> bool:
        with self._lock:
            return self._items.pop(key, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
        give_back_memory()

    def info(self):
        """A DataFrame of what is loaded, most recently used last."""
        import pandas as pd

        with self._lock:
            return pd.DataFrame([{"model": e.label, "MB": round(e.nbytes / 2**20, 1)} for e in self._items.values()])


_cache: ModelCache | None = None
_cache_lock = threading.Lock()


def model_cache() -> ModelCache:
    """The kernel's model cache (created on first use)."""
    global _cache
    with _cache_lock:
        if _cache is None:
            _cache = ModelCache()  # openclosed.setup() sets the budget for this machine
        return _cache
