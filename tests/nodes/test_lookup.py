"""The lookup node through real calls: tables imported from CSV and XLSX (``fsivr table import``),
found by the caller's number in any spelling or by a collected key, variables set from named
columns; the built-in last_agent routes a caller back to whoever answered them last (``dial``
with a template target). One indexed query per look-up, run off the hub."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import event, text

from fsivr.cli import main
from fsivr.config import Config
from fsivr.testing import CallScript, Target
from fsivr.testing.harness import Harness, running

from .conftest import dial_strings

WARSAW = ZoneInfo("Europe/Warsaw")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=WARSAW)

BUNDLE = """
accounts:
  - {user: "101", password: "pw-101", name: "Anna", extension: "101"}
  - {user: "102", password: "pw-102", name: "Piotr", extension: "102"}
scenarios:
  - scenario: debt
    numbers: ["3001"]
    start: find
    nodes:
      find: {type: lookup, table: debts, fields: {amount: debt, client: name}, found: tell, not_found: unknown}
      tell: {type: set, variables: {said: "{{ client }} owes {{ amount }}"}, next: bye}
      unknown: {type: set, variables: {said: "unknown caller"}, next: bye}
      bye: {type: hangup}
  - scenario: department
    numbers: ["3002"]
    start: menu
    nodes:
      menu: {type: menu, text: "Press 1 or 2", options: {"1": find, "2": find}, timeout: bye, invalid: bye}
      find: {type: lookup, table: departments, key: "{{ digits }}", found: ring, not_found: bye}
      ring: {type: dial, targets: ["{{ target }}"], answered: bye}
      bye: {type: hangup}
  - scenario: sticky
    numbers: ["3003"]
    start: last
    nodes:
      last: {type: lookup, table: last_agent, within_days: 7, found: same, not_found: anyone}
      same: {type: dial, targets: ["{{ agent }}"], answered: bye, no_answer: anyone, busy: anyone, failed: anyone}
      anyone: {type: dial, targets: [sip:101, sip:102], strategy: sequential, answered: bye}
      bye: {type: hangup}
"""

DEBTS_CSV = """\
phone;name;debt
+48 22 123 45 67;ACME;120,50
0048501000002;Orphan Ltd;0
;nobody;1
221234567;duplicate;2
"""


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def office(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    folder = tmp_path_factory.mktemp("lookup")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'fsivr.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_module_database")
    with running(BUNDLE, database_url=url, config=Config()) as harness:
        csv = folder / "debts.csv"
        csv.write_text(DEBTS_CSV)
        assert main(["--database", url, "table", "import", "debts", str(csv), "--key", "phone"]) == 1  # 2 bad rows
        book = Workbook()
        sheet = book.active
        sheet.append(["code", "target", "note"])
        sheet.append([1, "sip:101", "sales"])
        sheet.append([2, "sip:102", None])
        book.save(folder / "departments.xlsx")
        assert main(["--database", url, "table", "import", "departments", str(folder / "departments.xlsx")]) == 0
        yield harness


def said(placed: Any) -> str | None:
    return placed.result.variables.get("fsivr_said")


def test_found_by_the_callers_number_in_any_spelling(office: Harness) -> None:
    for caller in ("+48221234567", "0048221234567", "221234567"):
        placed = office.call(number="3001", caller=caller, at=T0)
        assert placed.path == [("find", "found"), ("tell", "next"), ("bye", "hangup")], caller
        assert said(placed) == "ACME owes 120,50"


def test_not_found(office: Harness) -> None:
    placed = office.call(number="3001", caller="+48600100999", at=T0)
    assert placed.path == [("find", "not_found"), ("unknown", "next"), ("bye", "hangup")]


def test_found_by_a_collected_key_and_dialled_from_a_template(office: Harness) -> None:
    placed = office.call(number="3002", at=T0, digits=["2"])
    assert placed.path == [("menu", "2"), ("find", "found"), ("ring", "answered"), ("bye", "hangup")]
    assert dial_strings(placed) == ["{ignore_early_media=true,instant_ringback=true,originate_timeout=20}user/102"]


def test_upsert_keeps_other_rows_replace_drops_them(office: Harness, tmp_path: Path) -> None:
    url = office.store.url.render_as_string(hide_password=False)
    extra = tmp_path / "more.csv"
    extra.write_text("phone,name,debt\n+48600100999,Newcomer,7\n")
    assert main(["--database", url, "table", "import", "debts", str(extra), "--key", "phone", "--mode", "upsert"]) == 0
    assert said(office.call(number="3001", caller="600100999", at=T0)) == "Newcomer owes 7"
    assert said(office.call(number="3001", caller="221234567", at=T0)) == "ACME owes 120,50"
    assert main(["--database", url, "table", "import", "debts", str(extra), "--key", "phone"]) == 0
    assert said(office.call(number="3001", caller="221234567", at=T0)) == "unknown caller"
    # Back as the other tests expect it.
    again = tmp_path / "debts.csv"
    again.write_text(DEBTS_CSV)
    assert main(["--database", url, "table", "import", "debts", str(again), "--key", "phone"]) == 1


def test_last_agent_routes_the_caller_back_within_the_window(office: Harness) -> None:
    caller = "+48501000007"
    first = office.call(number="3003", caller=caller, at=T0,
                        targets={"sip:101": Target("no_answer"), "sip:102": Target("answered")})
    assert first.path[:2] == [("last", "not_found"), ("anyone", "answered")]
    # Three days later, spelled nationally: straight to Piotr, who answered last time.
    again = office.call(number="3003", caller="501000007", at=T0 + timedelta(days=3))
    assert again.path == [("last", "found"), ("same", "answered"), ("bye", "hangup")]
    assert dial_strings(again) == ["{ignore_early_media=true,instant_ringback=true,originate_timeout=20}user/102"]
    # Anna answers the next one: she is the last agent now.
    office.call(number="3003", caller=caller, at=T0 + timedelta(days=4),
                targets={"sip:102": Target("busy"), "sip:101": Target("answered")})
    now_anna = office.call(number="3003", caller=caller, at=T0 + timedelta(days=5))
    assert dial_strings(now_anna)[0].endswith("user/101")
    # Past within_days (7) of the last answer: not found.
    stale = office.call(number="3003", caller=caller, at=T0 + timedelta(days=13))
    assert stale.path[0] == ("last", "not_found")


def test_a_lookup_is_one_indexed_query_off_the_hub(office: Harness) -> None:
    engine = office.app.store.engine  # the server's own, not the test's
    seen: list[tuple[str, str]] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if "data_rows" in sql or "last_agents" in sql:
            seen.append((" ".join(sql.split()), threading.current_thread().name))

    event.listen(engine, "before_cursor_execute", statement)
    try:
        office.call(number="3001", caller="+48221234567", at=T0)
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    assert len(seen) == 1, seen
    sql, thread = seen[0]
    assert sql.startswith("SELECT data_rows.data FROM data_rows WHERE data_rows.table_name =")
    assert thread != threading.main_thread().name  # the hub runs in the main thread
    # The query's columns are the primary key: the database finds the row through its index.
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            plan = " ".join(str(r) for r in conn.execute(
                text("EXPLAIN QUERY PLAN SELECT data FROM data_rows WHERE table_name = 'debts' AND key = 'x'")))
        assert "USING INDEX" in plan and "table_name=? AND key=?" in plan, plan
    else:
        with engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))
            plan = " ".join(r[0] for r in conn.execute(
                text("EXPLAIN SELECT data FROM data_rows WHERE table_name = 'debts' AND key = 'x'")))
        assert "pk_data_rows" in plan, plan


OUTAGE_BUNDLE = """
scenarios:
  - scenario: guarded
    numbers: ["3101"]
    start: find
    nodes:
      find: {type: lookup, table: debts, found: bye, not_found: bye, error: bye}
      bye: {type: hangup}
"""


@pytest.mark.postgres
def test_a_database_outage_during_lookups_is_the_one_outage_report(pg_database: str,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy.engine import make_url
    from tcpproxy import TcpProxy

    url = make_url(pg_database)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.up()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with running(OUTAGE_BUNDLE, database_url=proxied) as h:
            proxy.down()
            caplog.clear()
            # (not h.call: it reads the call's record back, which waits for the database)
            results = [h.simulator.run_call(CallScript(number="3101", caller="+48501000001")) for _ in range(3)]
    finally:
        proxy.down()
    for result in results:
        # the look-up's error outcome went on to the hang-up node
        assert result.hangup_by == "server", result
    # the log says "unreachable" once, with no traceback
    assert [r for r in caplog.records if r.exc_info] == []
    down = [r.getMessage() for r in caplog.records if "the database is unreachable" in r.getMessage()]
    assert len(down) == 1, caplog.text
