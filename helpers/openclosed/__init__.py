"""openclosed: run the same inputs through open models and closed APIs, side by side.

    import openclosed as oc
    oc.setup()
    run = oc.compare("sentiment", ["vader", "minilm-lr", "gpt-6-luna"], ["I loved it", "Meh."])
    run.summary()

Start with ``notebooks/00_start_here.ipynb``. The package is layered, each
layer importing only those below it: ``core`` < ``catalog`` < ``engine`` <
``backends`` < ``tasks`` < ``session`` < ``views`` (see the README's "How it
fits together"). This module only re-exports.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .catalog.licences import licences
from .catalog.registry import get_model, lifecycle, models, register, unregister
from .catalog.specs import ModelSpec
from .core.errors import OpenClosedError
from .core.formatting import readable, with_interval
from .core.labelled_data import load_dataset, review_lines, sentiment_data
from .engine.breakeven import INSTANCES, break_even, closed_usd_per_request, seconds_per_request, throughput
from .engine.inside import Inside
from .engine.loaded import Loaded
from .engine.pricing import image_prices, set_image_price, set_price
from .engine.ratings import bradley_terry, simulate_votes
from .engine.results import Comparison, ErrorInfo, Result, load
from .engine.stats import wilson
from .engine.votes import merge_votes
from .session.arena import Arena, Contestant, arena_contestants, contestant
from .session.availability import answerable, available_models
from .session.cache_files import export_cache, import_cache, import_recording, recording_path
from .session.capabilities import capabilities
from .session.compare import compare, rerun
from .session.customize import (few_shot, fine_tuning_quote, finetune_classifier, finetune_lora, fit_embedding_baseline,
                                lora_before_after)
from .session.estimate import estimate
from .session.explain import Explanation, explain, transparency
from .session.images import LatentTrip, SeedCheck, denoising_strip, latent_roundtrip, rerun_image, seed_check
from .session.inside import chat_template, look_inside, next_token_distribution
from .session.loading import load_model, release_models
from .session.quantization import QuantizationRun, quantization_table, weights_before_after
from .session.serving import ServedModel, serve
from .session.setup import ask_for_key, get_settings, setup
from .session.sweep import sweep
from .session.switching import differences
from .tasks.cascade import Cascade, cascade
from .tasks.image_adherence import Adherence, adherence, adherence_prompts
from .tasks.sentiment_eval import Evaluation, evaluate
from .views.images import ImageGrid, ImagePanel, Strip, image_grid

__all__ = [
    # the core path
    "Comparison", "ErrorInfo", "Loaded", "ModelSpec", "OpenClosedError", "Result", "__version__", "ask_for_key",
    "answerable", "available_models", "capabilities", "compare", "estimate", "export_cache", "get_model", "get_settings", "import_cache", "import_recording", "lifecycle", "load",
    "load_model", "models", "readable", "recording_path", "register", "release_models", "rerun", "serve", "ServedModel", "set_price", "setup",
    "unregister", "ComparePanel", "plots",
    # sentiment and customising
    "Evaluation", "evaluate", "wilson", "with_interval", "load_dataset", "review_lines", "sentiment_data", "few_shot", "fine_tuning_quote",
    "finetune_classifier", "finetune_lora", "fit_embedding_baseline", "lora_before_after",
    # text generation: sweep, panel, arena, look inside
    "ChatPanel", "sweep", "Arena", "ArenaPanel", "Contestant", "Inside", "arena_contestants", "bradley_terry",
    "chat_template", "contestant", "leaderboard_plot", "look_inside", "merge_votes", "next_token_distribution",
    "sampling_plot", "simulate_votes", "token_probability_plot", "winrate_plot",
    # images
    "Adherence", "ImageGrid", "ImagePanel", "Strip", "adherence", "adherence_prompts", "denoising_strip",
    "image_grid", "image_prices", "rerun_image", "set_image_price", "LatentTrip", "SeedCheck", "latent_roundtrip",
    "seed_check",
    # quantization and what "open" means (llama.cpp, GGUF)
    "QuantizationRun", "licences", "quantization_table", "weights_before_after",
    # cost, privacy, transparency, hybrids
    "INSTANCES", "BreakEvenPanel", "Cascade", "Explanation", "break_even", "cascade", "closed_usd_per_request",
    "cost_plots", "differences", "explain", "seconds_per_request", "throughput", "transparency",
]

# Views that import ipywidgets / plotly, loaded when first used: name -> module in views/
_LAZY_VIEWS = {"ComparePanel": "widgets", "ChatPanel": "chat_panel", "BreakEvenPanel": "cost",
               "ArenaPanel": "arena", "leaderboard_plot": "arena", "winrate_plot": "arena",
               "sampling_plot": "inside", "token_probability_plot": "inside"}
_LAZY_MODULES = {"plots": "plots", "cost_plots": "cost"}


def __getattr__(name: str):
    """Panels and plots (``oc.ComparePanel``, ``oc.ChatPanel``, ``oc.plots``, ...) import ipywidgets / plotly
    only when first used."""
    import importlib

    if name in _LAZY_VIEWS:
        return getattr(importlib.import_module(f"{__name__}.views.{_LAZY_VIEWS[name]}"), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.views.{_LAZY_MODULES[name]}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
