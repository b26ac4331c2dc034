import time

import pytest

from openclosed.core.errors import ModelTooLargeError
from openclosed.engine.modelcache import ModelCache


class Blob:
    """A stand-in object holding a real tensor of a given size."""

    def __init__(self, mb: int):
        import torch

        self.t = torch.nn.Linear(1, 1)
        self.t.weight = torch.nn.Parameter(torch.zeros(mb * 2**20 // 4))

    def parameters(self):
        return self.t.parameters()

    def buffers(self):
        return self.t.buffers()


def test_second_load_comes_from_memory():
    cache = ModelCache(budget_gb=1)
    calls = []
    load = lambda: calls.append(1) or Blob(1)  # noqa: E731
    a = cache.get_or_load("a", load, label="a")
    b = cache.get_or_load("a", load, label="a")
    assert a is b and len(calls) == 1 and cache.hits == 1 and cache.loads == 1


def test_lru_eviction_under_budget_says_so(capsys):
    cache = ModelCache(budget_gb=25 / 1024)  # 25 MB
    cache.get_or_load("a", lambda: Blob(10), label="model-a")
    cache.get_or_load("b", lambda: Blob(10), label="model-b")
    cache.get_or_load("a", lambda: Blob(10), label="model-a")  # a is now most recent
    cache.get_or_load("c", lambda: Blob(10), label="model-c")
    assert list(cache.info()["model"]) == ["model-a", "model-c"]
    assert "unloaded model-b" in capsys.readouterr().out


def test_model_larger_than_budget_is_refused_with_a_fix():
    cache = ModelCache(budget_gb=5 / 1024)
    with pytest.raises(ModelTooLargeError, match="more than the model memory budget") as err:
        cache.get_or_load("big", lambda: Blob(10), label="big", estimate_bytes=10 * 2**20)
    assert "model_budget_gb" in str(err.value)


def test_concurrent_requests_load_once():
    from concurrent.futures import ThreadPoolExecutor

    cache = ModelCache(budget_gb=1)
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return Blob(1)

    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda _: cache.get_or_load("k", slow, label="k"), range(4)))
    assert len(calls) == 1 and all(g is got[0] for g in got)


RELEASE_SCRIPT = r"""
import sys
import torch
from openclosed.engine.modelcache import ModelCache

def anon_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("RssAnon")) / 1024

class Weights:  # a model's many small weight tensors, with the kernel's own small objects allocated between them
    def __init__(self):
        self.tensors, self.kept = [], []
        for i in range(3000):
            self.tensors.append(torch.ones(25_000))  # 100 KB each, below glibc's mmap threshold: heap memory
            self.kept.append(torch.ones(16))
    def parameters(self):
        return iter(self.tensors)
    def buffers(self):
        return iter(())

kept = []
cache = ModelCache(budget_gb=4)
before = anon_mb()
w = cache.get_or_load("m", Weights, label="m")
kept.extend(w.kept)  # these outlive the model and pin the heap
del w
loaded = anon_mb()
cache.clear()
print(loaded - before, loaded - anon_mb())
"""


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="reads /proc/self/status (Linux)")
def test_clear_gives_the_memory_back_to_the_system():
    """Freed weights go back to the system at once (glibc keeps freed heap memory otherwise): on a 2 GB pod a
    released model must not still count while a server or the next model loads."""
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", RELEASE_SCRIPT], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, MALLOC_ARENA_MAX="1"))
    assert out.returncode == 0, out.stderr
    grew, returned = map(float, out.stdout.split())
    assert grew > 250  # 3000 x 100 KB were really allocated
    assert returned > 0.8 * grew, f"loaded {grew:.0f} MB, only {returned:.0f} MB given back after clear()"


def test_peak_memory_sees_what_the_block_allocated_and_starts_afresh_each_time():
    import torch

    from openclosed.core.machine import give_back_memory
    from openclosed.engine.context import peak_memory

    with peak_memory() as big:
        x = torch.ones(50_000_000)  # 200 MB, touched
        with peak_memory() as inner:  # a second block at once (another model): measured too
            y = torch.ones(25_000_000)
    del x, y
    give_back_memory()
    with peak_memory() as small:
        pass
    assert big["mb"] - small["mb"] > 250, (big, small)  # the later block does not carry the earlier peak
    assert inner["mb"] - small["mb"] > 80, (inner, small)
