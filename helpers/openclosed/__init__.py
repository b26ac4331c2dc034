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
from .engine.loaded import Loaded
from .engine.pricing import image_prices, set_image_price, set_price
from .engine.results import Comparison, ErrorInfo, Result, load
from .session.availability import available_models
from .session.cache_files import export_cache, import_cache
from .session.compare import compare, rerun
from .session.estimate import estimate
from .session.loading import load_model
from .session.setup import ask_for_key, get_settings, setup
from .session.images import denoising_strip, rerun_image
from .tasks.image_adherence import Adherence, adherence, adherence_prompts
from .tasks.sentiment_eval import Evaluation, evaluate
from .views.images import ImageGrid, ImagePanel, Strip, image_grid

__all__ = [
    "Adherence", "ImageGrid", "ImagePanel", "Strip", "adherence", "adherence_prompts", "denoising_strip",
    "image_grid", "image_prices", "rerun_image", "set_image_price",
    "Comparison", "ComparePanel", "available_models", "ErrorInfo", "Evaluation", "Loaded", "ModelSpec", "OpenClosedError", "Result",
    "__version__", "ask_for_key", "compare", "estimate", "evaluate", "export_cache", "get_model", "get_settings",
    "import_cache", "load", "load_dataset", "load_model", "models", "plots", "register", "rerun", "sentiment_data",
    "set_price", "setup", "unregister",
]


def __getattr__(name: str):
    """``oc.ComparePanel`` and ``oc.plots`` import ipywidgets / plotly only when first used."""
    if name == "ComparePanel":
        from .views.widgets import ComparePanel

        return ComparePanel
    if name == "plots":
        import importlib

        return importlib.import_module(f"{__name__}.views.plots")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
