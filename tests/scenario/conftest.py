"""Store fixtures on top of the shared database fixtures (tests/conftest.py: ``db_url``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fsivr.store.db import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An empty store migrated to head, on SQLite and on PostgreSQL."""
    s = Store(db_url)
    s.upgrade()
    yield s
    s.close()
