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

from ..core.tables import ReadableFrame

# Columns that do not mean anything for a task, whatever their values.
NOT_FOR_TASK: dict[str, tuple[str, ...]] = {
    "sentiment": ("mean TTFT (s)", "tokens/s"),
    "image-generation": ("mean TTFT (s)", "tokens/s"),
}
ERROR_COLUMN = "first error"


class Summary(ReadableFrame):
    """One row per model (see :meth:`Comparison.summary`): raw numbers, readable display."""


def make_summary(rows: list[dict], task: str) -> Summary:
    return Summary.of(rows, drop_columns=NOT_FOR_TASK.get(task, ()), details_column=ERROR_COLUMN)
