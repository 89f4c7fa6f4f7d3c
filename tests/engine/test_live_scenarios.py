"""The server's scenarios live in memory: changed versions are picked up, bad ones never go live,
and placing calls reads nothing of them from the database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from fsivr.config import Config
from fsivr.scenario.validate import BundleInvalid
from fsivr.testing.harness import Harness, running

V1 = """
scenarios:
  - scenario: live
    numbers: ["400"]
    start: a
    nodes:
      a: {type: play, text: "version one", next: z}
      z: {type: hangup}
"""
V2 = V1.replace("version one", "version two")
BROKEN = V1.replace("next: z", "next: nowhere")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest) -> Iterator[Harness]:
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_database")
    cfg = Config()
    cfg.reload_interval = 3600.0  # only explicit refreshes, so the statement count below is ours
    with running(V1, database_url=url, config=cfg) as harness:
        yield harness


def played(harness: Harness) -> list[str]:
    placed = harness.call(number="400", at=NOW)
    return [a.arg for a in placed.result.apps if a.name == "playback"]


def test_new_version_is_used_and_a_bad_one_never_goes_live(server: Harness) -> None:
    assert played(server) == ["say:version one"]
    server.import_yaml(V2)
    assert server.app.services.scenarios.get("live").version == 2
    assert played(server) == ["say:version two"]
    with pytest.raises(BundleInvalid, match="nowhere"):
        server.import_yaml(BROKEN)
    assert server.app.services.scenarios.get("live").version == 2
    assert played(server) == ["say:version two"]
    # Re-importing identical content keeps the version: nothing to recompile.
    server.import_yaml(V2)
    assert server.app.services.scenarios.get("live").version == 2


def test_calls_read_no_scenario_from_the_database(server: Harness) -> None:
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = server.app.store.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            played(server)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    scenario_reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")
                      and any(t in s for t in ("scenarios", "scenario_nodes", "scenario_edges", "numbers",
                                               "prompts", "accounts", "groups"))]
    assert scenario_reads == []
    # What the server did write: the call records (batched inserts), nothing per node read.
    assert any(s.lstrip().upper().startswith("INSERT INTO CALLS") for s in statements)
