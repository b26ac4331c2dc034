"""Layer 5: tasks. One module per task with its default parameters,
parameter checks and billed-token estimate (sentiment also has its
evaluation). Adding a task = one module here + one line in :data:`TASKS`
(and its name in :data:`openclosed.catalog.specs.TASKS`)."""

from __future__ import annotations

from ..core.errors import OpenClosedError
from . import image_generation, sentiment, text_generation
from .base import Task

TASKS: dict[str, Task] = {t.name: t for t in (sentiment.TASK, text_generation.TASK, image_generation.TASK)}


def get_task(name: str) -> Task:
    """The task called ``name``."""
    if name not in TASKS:
        raise OpenClosedError(f"unknown task {name!r}", f"use one of {', '.join(TASKS)}")
    return TASKS[name]
