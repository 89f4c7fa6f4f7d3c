"""Fixtures of the worker's tests.

``smtp``     a running :class:`farends.SmtpServer` (no AUTH); ``SmtpServer(auth=...)`` for logins.
``gateway``  a running :class:`farends.Gateway`: records every request; its ``answers`` say what to reply.
``store``    an empty store migrated to head (SQLite and PostgreSQL through ``db_url``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from farends import Gateway, SmtpServer

from fsivr.store.db import Store


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.upgrade()
    yield s
    s.close()
