"""Errors that tell the user what went wrong *and what to do about it*.

Every error raised by :mod:`openclosed` carries a ``hint``. Errors that happen
while a model runs never escape :func:`openclosed.compare`; they become an
:class:`openclosed.engine.results.ErrorInfo` on that model's result instead.
"""

from __future__ import annotations

from .secrets import redact


class OpenClosedError(Exception):
    """Base class: a message plus a hint saying what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = redact(message)
        self.hint = redact(hint)
        super().__init__(self.message + (f"\n  What to do: {self.hint}" if self.hint else ""))


class UnknownModelError(OpenClosedError, KeyError):
    """A model name that is not in the catalog."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return Exception.__str__(self)


class ModelTaskError(OpenClosedError, ValueError):
    """A model used for a task it does not do."""


class BadInputError(OpenClosedError, ValueError):
    """Inputs that cannot be run (wrong type, None, empty list...)."""


class BadParameterError(OpenClosedError, ValueError):
    """A model parameter (max_tokens, size, steps...) that cannot be used."""


class MissingKeyError(OpenClosedError):
    """A closed model was asked for but no API key was found."""


class ModelRetiredError(OpenClosedError):
    """A closed model past its vendor's announced shutdown date (refused before any request)."""


class ModelNotAvailableError(OpenClosedError):
    """An open model whose files are not on this machine and cannot be fetched now."""


class ModelTooLargeError(OpenClosedError, MemoryError):
    """A model that cannot fit in the model-cache memory budget."""


class SpendingCapError(OpenClosedError):
    """A call that would take the session's API spend past ``max_spend_usd``."""


class DeadlineError(OpenClosedError, TimeoutError):
    """A call or stream that ran past its wall-clock deadline."""


class StreamCutError(OpenClosedError):
    """A stream that ended without a finish reason (the connection broke)."""


class LocalOnlyError(OpenClosedError, ConnectionRefusedError):
    """A connection to a non-loopback address refused because ``oc.setup(local_only=True)`` is on.

    ``host`` is the address that was refused and ``model`` the model that
    tried (``None`` when the connection came from code outside a model run).
    Nothing was sent: the guard refuses before the socket connects.
    """

    def __init__(self, host: str, model: str | None = None, what: str = "connect to") -> None:
        self.host, self.model = host, model
        who = f"model {model!r}" if model else "code outside any model run"
        super().__init__(
            f"local_only is on: {who} tried to {what} {host}, which is not this machine; refused, nothing was sent",
            "use an open model that runs here (or one served on 127.0.0.1), replay recorded answers with "
            "oc.import_cache(path), or switch the guard off with oc.setup(local_only=False)",
        )


class CancelledError(OpenClosedError):
    """Work stopped because the user asked (e.g. a panel's Cancel button)."""
