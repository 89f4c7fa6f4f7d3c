"""How a sender reports a failed attempt to the worker loop."""

from __future__ import annotations


class SendFailed(Exception):
    """This attempt failed; the row is retried after its backoff (or goes dead when out of attempts).
    The message is stored as the row's ``last_error``: it must never contain a secret."""


class PermanentFailure(SendFailed):
    """Retrying cannot help (a recipient the server rejects for good, an attachment that is gone, a
    number that is no number): the row goes dead at once."""


class RetryAt(SendFailed):
    """This attempt failed; try again at ``at`` (the sender knows its own spacing and hours)."""

    def __init__(self, message: str, at: object) -> None:
        super().__init__(message)
        self.at = at


class NotNow(Exception):
    """Not an attempt at all (outside the allowed hours): the row waits until ``at`` and the
    attempt it was claimed for is not counted."""

    def __init__(self, message: str, at: object) -> None:
        super().__init__(message)
        self.at = at
