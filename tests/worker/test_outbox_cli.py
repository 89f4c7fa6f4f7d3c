"""``fsivr outbox list|retry|drop`` (dead rows included)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fsivr.cli import main
from fsivr.store import outbox
from fsivr.store.db import Store
from fsivr.worker.errors import PermanentFailure, SendFailed
from fsivr.worker.loop import Worker, WorkerSettings


class Failing:
    kind = "sms"

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors

    def __call__(self, payload: dict[str, object], key: str) -> str:
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.fixture
def rows(store: Store) -> dict[str, int]:
    """One dead, one pending after a failure, one sent, one leased right now."""
    now = datetime.now(UTC) - timedelta(seconds=5)
    ids = {}
    with store.session() as s:
        for name in ("dead", "retrying", "sent", "busy"):
            ids[name] = outbox.enqueue(s, "sms", {"to": f"+4850100000{len(ids)}", "text": name}, f"k-{name}",
                                       now).id
    worker = Worker(store, {"sms": Failing([PermanentFailure("550 no such number"), SendFailed("503 busy")])},
                    WorkerSettings())
    assert worker.run_once() and worker.run_once() and worker.run_once()
    with store.session() as s:
        outbox.claim(s, "other-host:1:x", datetime.now(UTC), timedelta(minutes=5), {"sms"}, 8)
    return ids


def _url(store: Store) -> str:
    return store.url.render_as_string(hide_password=False)


def test_list_shows_every_state_with_errors(store: Store, rows: dict[str, int],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", _url(store), "outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert "550 no such number" in out and "503 busy" in out
    assert "total: 1 dead, 1 leased, 1 pending, 1 sent" in out
    assert main(["--database", _url(store), "outbox", "list", "--state", "dead", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    data = json.loads(line)
    assert (data["id"], data["state"], data["key"], data["last_error"]) == (
        rows["dead"], "dead", "k-dead", "550 no such number")
    assert data["payload"]["text"] == "dead"


def test_retry_and_drop(store: Store, rows: dict[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--database", _url(store), "outbox"]
    assert main([*db, "retry", "--dead"]) == 0
    assert f"1 row(s) due again: {rows['dead']}" in capsys.readouterr().out
    assert main([*db, "retry", str(rows["sent"])]) == 1
    assert "already sent; retrying would send it twice" in capsys.readouterr().err
    assert main([*db, "drop", str(rows["busy"])]) == 1
    assert "being sent by a worker right now" in capsys.readouterr().err
    assert main([*db, "drop", "4242"]) == 1
    assert "no outbox row 4242" in capsys.readouterr().err
    assert main([*db, "drop"]) == 2
    assert main([*db, "drop", str(rows["retrying"]), str(rows["sent"])]) == 0
    capsys.readouterr()
    with store.session() as s:
        assert outbox.counts(s) == {"pending": 1, "leased": 1}
        [revived] = outbox.rows(s, ["pending"])
    assert (revived.id, revived.attempts) == (rows["dead"], 0)


def test_an_unmigrated_database_is_named(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/empty.sqlite3"
    Path(f"{tmp_path}/empty.sqlite3").touch()  # a database (SQLite's empty file is one), never migrated
    assert main(["--database", url, "outbox", "list"]) == 2
    assert "not up to date: run `fsivr db upgrade`" in capsys.readouterr().err
