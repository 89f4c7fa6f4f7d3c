"""``fsivr table import|list`` and ``fsivr pin hash`` as an operator runs them: real processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from openpyxl import Workbook

from fsivr.engine.pins import check_hash, verify_pin
from fsivr.store.db import Store
from fsivr.store.tables import lookup


def fsivr(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fsivr", "--database", url, *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_import_reports_bad_rows_and_lists_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.sqlite3'}"
    assert fsivr(url, "db", "upgrade").returncode == 0
    csv = tmp_path / "clients.csv"
    csv.write_text("\ufeffaccount;phone;debt\nA-1;+48 22 123 45 67;10,5\n;+48600100101;1\nA-1;+48600100102;2\n"
                   "A-2;+48600100103;3;oops\n\nA-3;;\n")
    done = fsivr(url, "table", "import", "clients", str(csv))
    assert done.returncode == 1
    assert "table clients: 2 row(s) imported (replace), key account, columns account, phone, debt" in done.stdout
    assert done.stderr.splitlines() == [
        "fsivr: 3 row(s) left out:",
        f"fsivr:   {csv}:3: no account",
        f"fsivr:   {csv}:4: account 'A-1' already on line 2",
        f"fsivr:   {csv}:5: 4 cells for 3 columns",
    ]
    book = Workbook()
    book.active.append(["phone", "name"])
    book.active.append([48221234567.0, "float from Excel"])
    book.save(tmp_path / "phones.xlsx")
    done = fsivr(url, "table", "import", "phones", str(tmp_path / "phones.xlsx"))
    assert done.returncode == 0, done.stderr
    store = Store(url)
    try:
        assert store.run(lambda s: lookup(s, "clients", "A-3")) == {"account": "A-3", "phone": "", "debt": ""}
        assert store.run(lambda s: lookup(s, "phones", "221234567"))["name"] == "float from Excel"
    finally:
        store.close()
    listing = fsivr(url, "table", "list")
    assert listing.stdout.splitlines() == [
        "clients  key account  2 row(s)  columns account, phone, debt",
        "phones  key phone  1 row(s)  columns phone, name",
        "last_agent  key caller  0 row(s)  columns agent, employee, answered_at, call_uuid",
    ]


def test_import_refusals(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.sqlite3'}"
    assert fsivr(url, "db", "upgrade").returncode == 0
    good = tmp_path / "t.csv"
    good.write_text("a,b\n1,2\n")
    cases = [
        (("last_agent", str(good)), "'last_agent' is built in"),
        (("bad name", str(good)), "table name 'bad name'"),
        (("t", str(good), "--key", "c"), "key column 'c' is not among the columns: a, b"),
        (("t", str(tmp_path / "t.ods")), "import CSV (.csv) or Excel (.xlsx) files"),
    ]
    (tmp_path / "t.ods").write_text("x")
    (tmp_path / "fake.xlsx").write_text("not a zip")
    cases.append((("t", str(tmp_path / "fake.xlsx")), "fake.xlsx: not an Excel workbook"))
    for args, message in cases:
        done = fsivr(url, "table", "import", *args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    assert fsivr(url, "table", "import", "t", str(good)).returncode == 0
    other_key = fsivr(url, "table", "import", "t", str(good), "--key", "b", "--mode", "upsert")
    assert other_key.returncode == 2 and "keyed by 'a', not 'b'" in other_key.stderr


def test_pin_hash_reads_the_pin_from_stdin_never_argv(tmp_path: Path) -> None:
    done = fsivr(f"sqlite:///{tmp_path / 'f.sqlite3'}", "pin", "hash", stdin="4711\n")
    assert done.returncode == 0, done.stderr
    stored = done.stdout.strip()
    assert check_hash(stored) == stored and "4711" not in stored
    assert verify_pin("4711", stored) and not verify_pin("4712", stored)
    short = fsivr(f"sqlite:///{tmp_path / 'f.sqlite3'}", "pin", "hash", stdin="12\n")
    assert short.returncode == 2 and "a PIN is 3 to 16 keys" in short.stderr
