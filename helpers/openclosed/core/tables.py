"""A pandas DataFrame of raw numbers that shows itself readably in a notebook
(see :mod:`openclosed.core.formatting`). Used for the catalog (``oc.models()``)
and a run's summary (``run.summary()``): compute with the numbers, read the text.
Anything derived from one (a selection, a sort) is a plain DataFrame."""

from __future__ import annotations

import pandas as pd

from .formatting import html_table, readable


class ReadableFrame(pd.DataFrame):
    """A DataFrame whose notebook display is formatted for people.

    ``drop_columns``: columns never shown (not meaningful here); ``details_column``:
    a column shown in full in its own row under each row that has a value (an
    error), instead of as a column; ``max_chars``: longer cells show their start
    and keep the whole text on hover."""

    _metadata = ["drop_columns", "details_column", "max_chars"]

    @property
    def _constructor(self):
        return pd.DataFrame  # derived tables are plain DataFrames of numbers

    @classmethod
    def of(cls, rows, drop_columns: tuple[str, ...] = (), details_column: str | None = None,
           max_chars: int = 80, columns: list[str] | None = None) -> ReadableFrame:
        frame = cls(rows, columns=columns)
        frame.drop_columns, frame.details_column, frame.max_chars = tuple(drop_columns), details_column, max_chars
        return frame

    def readable(self) -> pd.DataFrame:
        """The table as text for people: formatted values and names, no empty or
        meaningless columns (the details column included, in full)."""
        return readable(pd.DataFrame(self), drop=getattr(self, "drop_columns", ()) or ())

    def _repr_html_(self, style: bool = True) -> str:
        from .formatting import STYLE

        details_column = getattr(self, "details_column", None)
        drop = (getattr(self, "drop_columns", ()) or ()) + ((details_column,) if details_column else ())
        shown = readable(pd.DataFrame(self), drop=drop)
        details = ({i: str(v) for i, v in enumerate(self[details_column].tolist()) if v and v == v}
                   if details_column in self.columns else None)
        return (STYLE if style else "") + html_table(shown, details=details, details_label=details_column or "",
                                                     max_chars=getattr(self, "max_chars", 80) or 80)
