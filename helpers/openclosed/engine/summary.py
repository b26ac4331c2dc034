"""The per-model summary of a run: numbers for analysis, text for people.

``run.summary()`` returns a :class:`Summary`, an ordinary pandas DataFrame of
raw numbers (seconds, dollars, MB) that shows itself readably in a notebook:
money in dollars without scientific notation, times in ms or s, memory in MB
or GB, "—" where a measurement does not apply, only the columns that mean
something for the task, and each model's first error in full in its own row.
``run.summary_table()`` (or ``Summary.readable()``) is that readable version
as a DataFrame of text. Anything computed from a Summary (a selection, a
sort) is a plain DataFrame of numbers.
"""

from __future__ import annotations

import pandas as pd

from ..core.formatting import html_table, readable

# Columns that do not mean anything for a task, whatever their values.
NOT_FOR_TASK: dict[str, tuple[str, ...]] = {
    "sentiment": ("mean TTFT (s)", "tokens/s"),
    "image-generation": ("mean TTFT (s)", "tokens/s"),
}
ERROR_COLUMN = "first error"


class Summary(pd.DataFrame):
    """One row per model (see :meth:`Comparison.summary`): raw numbers, readable display."""

    _metadata = ["task"]

    @property
    def _constructor(self):
        return pd.DataFrame  # derived tables are plain DataFrames of numbers

    def readable(self) -> pd.DataFrame:
        """The summary as text for people: formatted values and names, no
        empty or meaningless columns, and the first error in full."""
        drop = NOT_FOR_TASK.get(getattr(self, "task", None) or "", ())
        return readable(pd.DataFrame(self), drop=drop)

    def _repr_html_(self, style: bool = True) -> str:
        from .report import STYLE

        drop = NOT_FOR_TASK.get(getattr(self, "task", None) or "", ()) + (ERROR_COLUMN,)
        shown = readable(pd.DataFrame(self), drop=drop)
        errors = self[ERROR_COLUMN].tolist() if ERROR_COLUMN in self.columns else []
        details = {i: str(e) for i, e in enumerate(errors) if e}
        return (STYLE if style else "") + html_table(shown, details=details, details_label="first error")


def make_summary(rows: list[dict], task: str) -> Summary:
    s = Summary(rows)
    s.task = task
    return s
