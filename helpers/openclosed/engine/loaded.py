"""A loaded model as backends receive it: the library objects plus how and
where they were loaded (and whether the weights are real)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..catalog.specs import ModelSpec

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass
class Loaded:
    """A loaded model: ``model`` (a transformers model, diffusers pipeline,
    SentenceTransformer, VADER analyzer or API client) and ``tokenizer``, with
    the folder, dtype and device they came from. ``random_weights`` is True for
    the offline tiny pipeline and for rehearsal stand-ins; ``notes`` say how it
    was loaded (e.g. a dtype chosen to fit the memory budget)."""

    spec: ModelSpec
    model: Any
    tokenizer: Any = None
    folder: str = ""
    dtype: str = ""
    device: str = "cpu"
    load_s: float = 0.0
    random_weights: bool = False
    stand_in: bool = False
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    _oc_walk = True  # lets the model cache count the tensors inside

    def __repr__(self) -> str:
        rw = " STAND-IN (random weights)" if self.stand_in else " RANDOM WEIGHTS" if self.random_weights else ""
        return (f"<Loaded {self.spec.name}{rw}: {type(self.model).__name__} from {self.folder or self.spec.ref} "
                f"({self.dtype or 'n/a'} on {self.device}, loaded in {self.load_s:.2f} s)>")


def torch_dtype(name: str):
    """The torch dtype called ``name`` (float32, bfloat16, float16)."""
    import torch

    return {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}[name]
