"""``fsivr campaign load|start|pause|resume|status|export`` as an operator runs them (the status on
a terminal in a real process on a real pseudo-terminal)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from fsivr.cli import main
from fsivr.store.db import Store
from fsivr.store.models import CampaignEntryRow

SCENARIO = """
scenarios:
  - scenario: debt
    start: bye
    nodes:
      bye: {type: hangup}
"""


def fsivr(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The command line in this process (``fsivr.cli.main``, what ``python -m fsivr`` runs): a
    process per command would spend most of the test importing."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--database", url, *args])
    return subprocess.CompletedProcess(["fsivr", *args], code, out.getvalue(), err.getvalue())


def _db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'f.sqlite3'}"
    assert fsivr(url, "db", "upgrade").returncode == 0
    (tmp_path / "debt.yaml").write_text(SCENARIO)
    assert fsivr(url, "scenario", "import", str(tmp_path / "debt.yaml")).returncode == 0
    return url


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_load_maps_columns_and_refuses_what_cannot_be_dialled(tmp_path: Path) -> None:
    url = _db(tmp_path)
    book = _xlsx(tmp_path / "list.xlsx", [["Client", "Telefon", "Kwota zł", "Note", "Ćwierć"],
                                          ["ACME", 48221234567.0, 120.5, "call after 5", "x"],
                                          ["Beta", "0048 600 100 101", 99, ""],
                                          ["Gamma", "600 100 102", 10, ""]])
    done = fsivr(url, "campaign", "load", str(book), "--scenario", "debt", "--var", "Kwota zł=amount")
    assert done.returncode == 0, done.stderr
    assert ("campaign list: 3 row(s) in list.xlsx; numbers from column 'Telefon'; call variables: "
            "Client -> client, Telefon -> telefon, Kwota zł -> amount, Note -> note, Ćwierć -> cwierc") in done.stdout
    # A campaign of that name exists; a scenario that does not; a column that is not there.
    again = fsivr(url, "campaign", "load", str(book), "--scenario", "debt", "--var", "Kwota zł=amount")
    assert again.returncode == 2 and "campaign 'list' exists already" in again.stderr
    other = fsivr(url, "campaign", "load", str(book), "--scenario", "nope", "--name", "x")
    assert other.returncode == 2 and "no scenario 'nope'" in other.stderr
    col = fsivr(url, "campaign", "load", str(book), "--scenario", "debt", "--name", "y", "--number-column", "Phone")
    assert col.returncode == 2 and "number column 'Phone' is not among the columns" in col.stderr
    reserved = tmp_path / "r.csv"
    reserved.write_text("phone,Number\n+48221234567,1\n")
    bad = fsivr(url, "campaign", "load", str(reserved), "--scenario", "debt")
    assert bad.returncode == 2 and "gives the call variable 'number', which the call sets itself" in bad.stderr
    pace = fsivr(url, "campaign", "load", str(book), "--scenario", "debt", "--name", "z", "--pace", "0")
    assert pace.returncode == 2 and "pace 0" in pace.stderr
    hours = fsivr(url, "campaign", "load", str(book), "--scenario", "debt", "--name", "z", "--hours", "9-17")
    assert hours.returncode == 2 and "expected HH:MM-HH:MM" in hours.stderr

    # Controls: only from the states they make sense in.
    paused = fsivr(url, "campaign", "pause", "list")
    assert paused.returncode == 2 and "campaign 'list' is loaded: only a running one can be paused" in paused.stderr
    naive = fsivr(url, "campaign", "start", "list", "--at", "2026-12-02T09:00:00")
    assert naive.returncode == 2 and "give the offset" in naive.stderr
    started = fsivr(url, "campaign", "start", "list", "--at", "2030-12-02T09:00:00+01:00")
    assert started.stdout.strip() == "campaign list: running from 2030-12-02T09:00:00+01:00"
    store = Store(url)
    try:
        with store.session() as s:
            due = set(s.execute(select(CampaignEntryRow.next_attempt_at)).scalars())
    finally:
        store.close()
    assert due == {datetime(2030, 12, 2, 8, 0, tzinfo=UTC)}  # nobody is called before then
    assert fsivr(url, "campaign", "pause", "list").stdout.strip() == "campaign list: paused"
    assert fsivr(url, "campaign", "resume", "list").stdout.strip() == "campaign list: running"

    # status: plain lines when not on a terminal, one JSON object with --json.
    plain = fsivr(url, "campaign", "status", "list").stdout.splitlines()
    assert "state: running" in plain and "pending: 3" in plain and "result listened: 0" in plain
    status = json.loads(fsivr(url, "campaign", "status", "list", "--json").stdout)
    assert status["rows"] == 3 and status["states"]["pending"] == 3 and status["eta_seconds"] is None

    # On a terminal: one progress line with a bar.
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "fsivr", "--database", url, "campaign", "status"],
                            stdout=follower, stderr=subprocess.PIPE)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    assert proc.wait(60) == 0
    os.close(leader)
    line = output.decode().strip()
    assert line.startswith("list [") and "] 0/3 running" in line and "ETA ?" in line, line

    # Export: the rows as loaded, the result columns after them; a cell starting with = stays text.
    out = tmp_path / "out.xlsx"
    done = fsivr(url, "campaign", "export", "list", "-o", str(out))
    assert done.returncode == 0, done.stderr
    sheet = load_workbook(out).worksheets[0]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0][:6] == ["Client", "Telefon", "Kwota zł", "Note", "Ćwierć", "result"]
    assert rows[1][:4] == ["ACME", "48221234567", "120.5", "call after 5"]
    assert [r[0] for r in rows[1:]] == ["ACME", "Beta", "Gamma"]
    csv_out = tmp_path / "out.csv"
    assert fsivr(url, "campaign", "export", "list", "-o", str(csv_out)).returncode == 0
    with csv_out.open(newline="") as f:
        table = list(csv.reader(f))
    assert table[0][-9:] == ["result", "attempts", "hangup_cause", "first_called_at", "last_called_at",
                             "answered_at", "ended_at", "duration", "note"]
    assert table[2][:2] == ["Beta", "0048 600 100 101"] and table[2][6] == "0"
    wrong = fsivr(url, "campaign", "export", "list", "-o", str(tmp_path / "out.ods"))
    assert wrong.returncode == 2 and "export to FILE.csv or FILE.xlsx" in wrong.stderr


def test_export_keeps_a_cell_that_looks_like_a_formula_as_text(tmp_path: Path) -> None:
    url = _db(tmp_path)
    source = tmp_path / "f.csv"
    source.write_text('phone,note\n+48221234567,"=HYPERLINK(""http://x"")"\n')
    assert fsivr(url, "campaign", "load", str(source), "--scenario", "debt").returncode == 0
    out = tmp_path / "f.xlsx"
    assert fsivr(url, "campaign", "export", "f", "-o", str(out)).returncode == 0
    sheet = load_workbook(out).worksheets[0]
    assert sheet["B2"].value == '=HYPERLINK("http://x")' and sheet["B2"].data_type == "s"
