"""``fsivr calls``: the recent call records and the path each took, run through the parser as
``fsivr`` runs it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fsivr.cli import build_parser
from fsivr.store.callrecords import CallRecord, StepRecord, write_records
from fsivr.store.db import Store


def fsivr(db: str, *argv: str) -> int:
    args = build_parser().parse_args(["--database", db, *argv])
    return int(args.func(args))


@pytest.fixture
def db(db_url: str) -> str:
    assert fsivr(db_url, "db", "upgrade") == 0
    return db_url


def test_calls(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert fsivr(db, "calls") == 0
    assert "no calls recorded" in capsys.readouterr().out
    t = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    store = Store(db)
    store.run(lambda s: write_records(s, [CallRecord(
        uuid="u1", caller="+48501000001", number="+48221234567", scenario="main", started_at=t,
        answered_at=t, ended_at=t.replace(second=42), hangup_cause="NORMAL_CLEARING", hangup_by="caller",
        steps=[StepRecord(0, "hello", "test_play", "next", t, t), StepRecord(1, "menu", "test_menu", "2", t, t)])]))
    store.close()
    assert fsivr(db, "calls", "--limit", "5") == 0
    out = capsys.readouterr().out
    assert "+48501000001 -> +48221234567  main  answered  NORMAL_CLEARING (by caller)  42s  u1" in out
    assert "hello:next > menu:2" in out


def test_calls_show_a_later_session_and_a_fault(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    t = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    store = Store(db)
    store.run(lambda s: write_records(s, [
        CallRecord(uuid="u1", caller="+48501000001", number="100", scenario="main", started_at=t, answered_at=t,
                   ended_at=t.replace(second=10), hangup_cause="NORMAL_CLEARING", hangup_by="socket"),
        CallRecord(uuid="u1", caller="+48501000001", number="200", scenario="sales", started_at=t.replace(second=11),
                   answered_at=t, ended_at=t.replace(second=20), hangup_cause="NORMAL_TEMPORARY_FAILURE",
                   hangup_by="server", session=2, fault="myevents: no answer from FreeSWITCH within 10 s")]))
    store.close()
    capsys.readouterr()
    assert fsivr(db, "calls") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("  u1 #2") and "sales  answered  NORMAL_TEMPORARY_FAILURE (by server)" in lines[0]
    assert lines[1] == "    fault: myevents: no answer from FreeSWITCH within 10 s"
    assert lines[2].endswith("  u1") and "main" in lines[2]
