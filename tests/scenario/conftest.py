"""Database fixtures for the store tests (a root tests/conftest.py may provide the same names)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fsivr.store.db import Store
from fsivr.store.scratch import (
    DEFAULT_ADMIN_URL,
    create_postgres_database,
    drop_postgres_database,
    postgres_reachable,
)

ADMIN_URL = os.environ.get("FSIVR_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)


@pytest.fixture(scope="session")
def _postgres_admin() -> str:
    why = postgres_reachable(ADMIN_URL)
    if why is not None:
        if os.environ.get("FSIVR_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (FSIVR_REQUIRE_POSTGRES=1) but unreachable: {why}")
        pytest.skip(f"PostgreSQL at {ADMIN_URL} unreachable: {why}")
    return ADMIN_URL


@pytest.fixture
def pg_url(_postgres_admin: str) -> Iterator[str]:
    url = create_postgres_database(_postgres_admin)
    yield url
    drop_postgres_database(url, _postgres_admin)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fsivr.sqlite3'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An upgraded, empty store."""
    s = Store(db_url)
    s.upgrade()
    yield s
    s.close()
