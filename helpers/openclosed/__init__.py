"""openclosed: run the same inputs through open models and closed APIs, side by side.

    import openclosed as oc
    oc.setup()
    run = oc.compare("sentiment", ["vader", "minilm-lr", "gpt-4o-mini"], ["I loved it", "Meh."])
    run.summary()

Start with ``notebooks/00_start_here.ipynb``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .catalog import ModelSpec, get_model, models, register, unregister
from .compare import compare, rerun
from .errors import OpenClosedError
from .evaluate import Evaluation, evaluate
from .labelled_data import load_dataset, sentiment_data
from .loading import load_model
from .pricing import estimate, set_price
from .responsecache import export_cache, import_cache
from .results import Comparison, ErrorInfo, Result, load
from .settings import ask_for_key, get_settings, setup

__all__ = [
    "Comparison", "ErrorInfo", "ModelSpec", "OpenClosedError", "Result", "__version__", "ask_for_key",
    "compare", "estimate", "export_cache", "get_model", "get_settings", "import_cache", "load", "load_model",
    "models", "register", "rerun", "set_price", "setup", "unregister",
]
__all__ += ["ComparePanel", "Evaluation", "evaluate", "load_dataset", "plots", "sentiment_data"]


def __getattr__(name: str):
    """``oc.ComparePanel`` and ``oc.plots`` import ipywidgets / plotly only when first used."""
    if name == "ComparePanel":
        from .widgets import ComparePanel

        return ComparePanel
    if name == "plots":
        import importlib

        return importlib.import_module(f"{__name__}.plots")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
