"""openclosed: run the same inputs through open models and closed APIs, side by side.

    import openclosed as oc
    oc.setup()
    run = oc.compare("sentiment", ["vader", "minilm-lr", "gpt-4o-mini"], ["I loved it", "Meh."])
    run.summary()

Start with ``notebooks/00_start_here.ipynb``. The package is layered, each
layer importing only those below it: ``core`` < ``catalog`` < ``engine`` <
``backends`` < ``tasks`` < ``session`` < ``views`` (see the README's "How it
fits together"). This module only re-exports.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .catalog.registry import get_model, models, register, unregister
from .catalog.specs import ModelSpec
from .core.errors import OpenClosedError
from .core.labelled_data import load_dataset, sentiment_data
from .engine.breakeven import INSTANCES, break_even, closed_usd_per_request, seconds_per_request, throughput
from .engine.loaded import Loaded
from .engine.pricing import set_price
from .engine.results import Comparison, ErrorInfo, Result, load
from .session.availability import available_models
from .session.cache_files import export_cache, import_cache
from .session.compare import compare, rerun
from .session.estimate import estimate
from .session.explain import Explanation, explain, transparency
from .session.loading import load_model
from .session.serving import ServedModel, serve
from .session.setup import ask_for_key, get_settings, setup
from .session.switching import differences
from .tasks.cascade import Cascade, cascade
from .tasks.sentiment_eval import Evaluation, evaluate

__all__ = [
    "INSTANCES", "BreakEvenPanel", "Cascade", "Comparison", "ComparePanel", "available_models", "ErrorInfo", "Evaluation", "Explanation", "Loaded", "ModelSpec", "OpenClosedError", "Result",
    "__version__", "ask_for_key", "break_even", "cascade", "closed_usd_per_request", "compare", "cost_plots", "differences", "estimate", "evaluate", "explain", "export_cache", "get_model", "get_settings",
    "import_cache", "load", "load_dataset", "load_model", "models", "plots", "register", "rerun", "sentiment_data",
    "serve", "ServedModel", "seconds_per_request", "set_price", "setup", "throughput", "transparency", "unregister",
]


def __getattr__(name: str):
    """``oc.ComparePanel``, ``oc.BreakEvenPanel``, ``oc.plots`` and ``oc.cost_plots`` import ipywidgets /
    plotly only when first used."""
    if name == "ComparePanel":
        from .views.widgets import ComparePanel

        return ComparePanel
    if name == "BreakEvenPanel":
        from .views.cost import BreakEvenPanel

        return BreakEvenPanel
    if name in ("plots", "cost_plots"):
        import importlib

        return importlib.import_module(f"{__name__}.views.{'plots' if name == 'plots' else 'cost'}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
