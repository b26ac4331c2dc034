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
