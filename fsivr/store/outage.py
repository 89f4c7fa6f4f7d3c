"""The database being unreachable, said once: which errors mean it, how to say it in one line, and
a log that reports an outage when it starts and when it ends rather than at every failed attempt.

OperationalError / InterfaceError (connection refused, dropped, timed out; SQLite's file locked or
missing) say nothing about the data: the database is down or restarting, and waiting it out is
right. Any other database error is a bug or a wrong schema and is not this module's business.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

#: Errors that mean "the database cannot be reached now", not "this statement is wrong".
UNREACHABLE = (OperationalError, InterfaceError, PoolTimeout)


def cause(exc: BaseException) -> str:
    """The driver's reason on one line (libpq's is several), without SQLAlchemy's statement, parameters
    and background link: "connection to server at "127.0.0.1", port 5999 failed: Connection refused"."""
    return " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]


def masked(url: str | URL) -> str:
    """The URL as it may be shown: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as given: it has no password part to find
        return str(url)


def unreachable_message(url: str | URL, exc: BaseException) -> str:
    return f"database {masked(url)} is unreachable: {cause(exc)}"


class OutageLog:
    """One ERROR line when the database goes away, one WARNING when it is back, nothing between.

    Shared by everything in a process that uses one database (a Store has one), so an outage
    noticed by several loops at once is still reported once."""

    def __init__(self, url: str | URL | None, log: logging.Logger, consequence: str) -> None:
        self.url = masked(url) if url is not None else "as configured"
        self.log = log
        #: What the process does meanwhile, e.g. "serving from memory".
        self.consequence = consequence
        self._down = False
        self._lock = threading.Lock()  # reported from greenlets and threadpool threads alike

    @property
    def down(self) -> bool:
        return self._down

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
        self.log.error("the database is unreachable, %s until it is back (%s): %s", self.consequence, self.url,
                       cause(exc))

    def succeeded(self) -> None:
        if not self._down:  # the common case, without taking the lock
            return
        with self._lock:
            if not self._down:
                return
            self._down = False
        self.log.warning("the database is reachable again (%s)", self.url)
