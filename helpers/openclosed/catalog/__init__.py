"""Layer 2: the catalog. What each model is (:class:`ModelSpec`), the
built-ins and the profiles that show them, :func:`register` for your own, the
one asset table for files that do not come from the Hub, and Hub look-ups.
Imports only :mod:`openclosed.core`."""

from .registry import all_models, capabilities, default_models, get_model, lifecycle, models, register, unregister
from .specs import FAMILIES, TASKS, ModelSpec

__all__ = ["FAMILIES", "TASKS", "ModelSpec", "all_models", "capabilities", "default_models", "get_model", "lifecycle",
           "models", "register", "unregister"]
