"""Data tables for the lookup node: imported from CSV/XLSX, read by key, and the built-in ``last_agent``.

A row is found by ``(table, key)``, the primary key of ``data_rows``: one indexed query per
look-up. Keys go through ``fsivr.store.phone.caller_key`` on import and on look-up alike, so a key
column of phone numbers matches a caller ID in any spelling (``+48 22 123 45 67``,
``0048221234567``, ``221234567``), and any other key (an account number) is compared as written.

``last_agent`` is not imported: it is kept from call records as they are written
(``note_last_agents``, called by the call-record writer in the same transaction), one row per
caller holding the last target that answered them.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from fsivr.store.models import NAME, DataRowRow, DataTableRow, LastAgentRow
from fsivr.store.names import DIALABLE_NAME
from fsivr.store.phone import caller_key
from fsivr.store.types import utcnow

if TYPE_CHECKING:
    from fsivr.store.callrecords import CallRecord

#: The built-in table: who last answered a caller (kept from call records, never imported).
LAST_AGENT = "last_agent"
#: Its columns, as a lookup's ``fields`` may name them.
LAST_AGENT_COLUMNS = ("agent", "employee", "answered_at", "call_uuid")
MODES = ("replace", "upsert")
#: The directory's contacts as a built-in table: keyed by number (any spelling), so a callback or
#: campaign scenario greets the callee by name (``key: "{{ number }}"``, the number dialled).
CONTACTS = "contacts"
CONTACTS_COLUMNS = ("name", "owner", "backup_owner", "number")
#: The column of a PIN list table (authorize's ``pin_list``) that holds each row's PIN hash.
PIN_COLUMN = "pin"
#: Longest cell kept (a look-up sets call variables from cells, e.g. a debt amount or a name).
CELL_LIMIT = 1000
_ROWS = DataRowRow.__table__
_LAST = LastAgentRow.__table__


@dataclass
class ImportReport:
    table: str
    mode: str
    key_column: str
    columns: list[str]
    imported: int = 0
    #: (line or row number in the file, what is wrong): rows left out.
    bad: list[tuple[int, str]] = field(default_factory=list)


# ---- reading files ---------------------------------------------------------------------------


def read_file(path: str | Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the rows (with their line/row number in the file) of a CSV or XLSX file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_csv(path)
    raise ValueError(f"{path.name}: import CSV (.csv) or Excel (.xlsx) files")


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    # utf-8-sig: Excel writes a BOM at the start of a UTF-8 CSV.
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    # Spreadsheets in Poland and Russia save CSV with ';' (their decimal separator is ','), so
    # the delimiter is the one the header row (column names, no amounts) uses most.
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    dialect: Any = csv.excel
    reader = csv.reader(io.StringIO(text), dialect, delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    for cells in reader:
        if header is None:
            header = cells
            continue
        rows.append((reader.line_num, cells))
    if header is None:
        raise ValueError(f"{path.name}: empty file (the first row names the columns)")
    return header, rows


def _read_xlsx(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path.name}: not an Excel workbook ({exc})") from None
    try:
        sheet = book.worksheets[0]
        rows: list[tuple[int, list[str]]] = []
        header: list[str] | None = None
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            while cells and cells[-1] == "":
                cells.pop()
            if header is None:
                header = cells
            elif cells:
                rows.append((number, cells))
    finally:
        book.close()
    if not header:
        raise ValueError(f"{path.name}: the first sheet is empty (its first row names the columns)")
    return header, rows


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # Excel keeps every number as a float: 48221234567 must not become "48221234567.0".
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).strip()


# ---- importing -------------------------------------------------------------------------------


def check_table_name(name: str) -> str:
    if not DIALABLE_NAME.match(name or ""):
        raise ValueError(f"table name {name!r}: use letters, digits and _ . + - (at most 64)")
    if name == LAST_AGENT:
        raise ValueError(f"{LAST_AGENT!r} is built in (kept from call records); it cannot be imported")
    if name == CONTACTS:
        raise ValueError(f"{CONTACTS!r} is built in (the directory's contacts: import them in a bundle's "
                         "contacts section); it cannot be imported as a table")
    return name


def header_columns(header: Sequence[str]) -> list[str]:
    """A file's first row as column names; ValueError for a column without a name, one named
    twice or one too long (a data table's and a campaign's files alike)."""
    columns = [str(c).strip() for c in header]
    seen: set[str] = set()
    for i, column in enumerate(columns):
        if not column:
            raise ValueError(f"column {i + 1} has no name in the first row")
        if column in seen:
            raise ValueError(f"column {column!r} appears twice in the first row")
        if len(column) > NAME:
            raise ValueError(f"column {column[:40]!r}...: a name is at most {NAME} characters")
        seen.add(column)
    return columns


def prepare(table: str, header: Sequence[str], rows: Iterable[tuple[int, list[str]]], key: str | None,
            mode: str = "replace") -> tuple[ImportReport, dict[str, dict[str, str]]]:
    """Check the rows: what will be stored (by key) and the report of rows left out."""
    check_table_name(table)
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: use {' or '.join(MODES)}")
    columns = header_columns(header)
    key_column = key or columns[0]
    if key_column not in columns:
        raise ValueError(f"key column {key_column!r} is not among the columns: {', '.join(columns)}")
    report = ImportReport(table, mode, key_column, columns)
    at = columns.index(key_column)
    keep: dict[str, dict[str, str]] = {}
    first_line: dict[str, int] = {}
    for line, cells in rows:
        if not any(c.strip() for c in cells):
            continue  # blank lines are no rows
        if len(cells) > len(columns):
            report.bad.append((line, f"{len(cells)} cells for {len(columns)} columns"))
            continue
        raw = cells[at].strip() if at < len(cells) else ""
        if not raw:
            report.bad.append((line, f"no {key_column}"))
            continue
        row_key = caller_key(raw)
        if len(row_key) > NAME:
            report.bad.append((line, f"{key_column} is longer than {NAME} characters"))
            continue
        if row_key in keep:
            report.bad.append((line, f"{key_column} {raw!r} already on line {first_line[row_key]}"))
            continue
        long = next((c for c in cells if len(c) > CELL_LIMIT), None)
        if long is not None:
            report.bad.append((line, f"a cell is longer than {CELL_LIMIT} characters"))
            continue
        keep[row_key] = {column: (cells[i].strip() if i < len(cells) else "") for i, column in enumerate(columns)}
        first_line[row_key] = line
    return report, keep


def store_rows(session: Session, report: ImportReport, rows: dict[str, dict[str, str]]) -> ImportReport:
    """Write the prepared rows: ``replace`` the table's rows, or ``upsert`` (a key in the file
    replaces that row, other rows stay). Runs in one transaction: a failure changes nothing."""
    existing = session.get(DataTableRow, report.table)
    if existing is None:
        session.add(DataTableRow(name=report.table, key_column=report.key_column, columns=report.columns))
        session.flush()
    elif report.mode == "upsert":
        if existing.key_column != report.key_column:
            raise ValueError(f"table {report.table!r} is keyed by {existing.key_column!r}, not "
                             f"{report.key_column!r}: upsert with --key {existing.key_column} or replace")
        existing.columns = list(dict.fromkeys([*existing.columns, *report.columns]))
    else:
        existing.key_column, existing.columns = report.key_column, report.columns
    name = report.table
    if report.mode == "replace":
        session.execute(delete(DataRowRow).where(_ROWS.c.table_name == name))
    else:
        keys = list(rows)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            session.execute(delete(DataRowRow).where(_ROWS.c.table_name == name, _ROWS.c.key.in_(chunk)))
    if rows:
        session.execute(insert(DataRowRow), [{"table_name": name, "key": k, "data": v} for k, v in rows.items()])
    if existing is not None:
        existing.imported_at = utcnow()
    report.imported = len(rows)
    return report


def describe(session: Session) -> list[tuple[str, str, list[str], int]]:
    """(name, key column, columns, rows) of every table, the built-in last_agent last."""
    counts = dict(session.execute(select(_ROWS.c.table_name, func.count()).group_by(_ROWS.c.table_name)).all())
    found = [(t.name, t.key_column, list(t.columns), int(counts.get(t.name, 0)))
             for t in session.scalars(select(DataTableRow).order_by(DataTableRow.name))]
    last = session.execute(select(func.count()).select_from(_LAST)).scalar_one()
    return [*found, (LAST_AGENT, "caller", list(LAST_AGENT_COLUMNS), int(last))]


def dump(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Every data table, its rows and last_agent as plain rows (``fsivr simulate`` copies them
    into its scratch database, so a stored scenario's look-ups find what production would)."""
    return {t.name: [dict(r._mapping) for r in session.execute(select(t))]
            for t in (DataTableRow.__table__, _ROWS, _LAST)}


def load(session: Session, dumped: dict[str, list[dict[str, Any]]]) -> None:
    for t in (DataTableRow.__table__, _ROWS, _LAST):
        if dumped.get(t.name):
            session.execute(insert(t), dumped[t.name])


# ---- looking up (one indexed query each) ------------------------------------------------------


def lookup(session: Session, table: str, key: str) -> dict[str, Any] | None:
    """The row of ``table`` whose key is ``key`` (normalised like the import), or None."""
    query = select(_ROWS.c.data).where(_ROWS.c.table_name == table, _ROWS.c.key == caller_key(key))
    return session.execute(query).scalar_one_or_none()


def pin_list(session: Session, table: str) -> list[tuple[str, str]] | None:
    """Every row of ``table`` as (key, its ``pin`` cell): the PIN hashes an authorize node's
    ``pin_list`` names, one person (the key) each. None when there is no such table. One query
    on the primary key's leading column; such a list is a team, not a directory."""
    if session.get(DataTableRow, table) is None:
        return None
    query = select(_ROWS.c.key, _ROWS.c.data).where(_ROWS.c.table_name == table).order_by(_ROWS.c.key)
    return [(r.key, str((r.data or {}).get(PIN_COLUMN, ""))) for r in session.execute(query)]


def last_agent(session: Session, caller: str, since: datetime) -> dict[str, Any] | None:
    """Who last answered ``caller``, if that was at ``since`` or later."""
    query = select(_LAST.c.agent, _LAST.c.employee, _LAST.c.answered_at, _LAST.c.call_uuid).where(
        _LAST.c.caller == caller_key(caller), _LAST.c.answered_at >= since)
    row = session.execute(query).one_or_none()
    if row is None:
        return None
    answered = row.answered_at
    return {"agent": row.agent, "employee": row.employee or "",
            "answered_at": answered.isoformat() if hasattr(answered, "isoformat") else str(answered),
            "call_uuid": row.call_uuid}


# ---- last_agent from call records -------------------------------------------------------------


def answered_by(record: CallRecord) -> tuple[str, datetime] | None:
    """The target that last answered on this call (the ring steps' detail), and when."""
    for step in reversed(record.steps):
        for ring in reversed((step.detail or {}).get("rings") or []):
            if ring.get("outcome") == "answered" and ring.get("target"):
                return str(ring["target"]), step.started_at
    return None


def note_last_agents(session: Session, records: Sequence[CallRecord]) -> None:
    """Keep ``last_agents`` current from a batch of call records (in the batch's transaction):
    per caller the latest answered target; an older record never replaces a newer row."""
    latest: dict[str, tuple[str, datetime, str]] = {}
    #: caller ID as sent -> caller_key: one parse per distinct caller in the batch
    keys: dict[str, str] = {}
    for record in records:
        found = answered_by(record) if record.caller else None
        if found is None:
            continue
        raw = record.caller or ""
        key = keys.get(raw)
        if key is None:
            key = keys[raw] = caller_key(raw)
        if not key or len(key) > 64:
            continue
        agent, at = found
        if key not in latest or latest[key][1] < at:
            latest[key] = (agent[:NAME], at, record.uuid)
    if not latest:
        return
    # Core statements on the session's connection (its transaction): this runs in every batch of
    # the call-record writer, and the ORM's per-statement bookkeeping was most of its cost there.
    conn = session.connection()
    have = {caller: at for caller, at in conn.execute(
        select(_LAST.c.caller, _LAST.c.answered_at).where(_LAST.c.caller.in_(list(latest))))}
    inserts, updates = [], []
    for caller, (agent, at, uuid) in latest.items():
        employee = agent.split(":", 1)[1][:64] if agent.startswith("sip:") else None
        values = {"agent": agent, "employee": employee, "answered_at": at, "call_uuid": uuid}
        if caller not in have:
            inserts.append({"caller": caller, **values})
        elif have[caller] < at:
            updates.append({"key": caller, **values})
    # One executemany each, whatever the batch size: the call-record writer's cost is per batch.
    if inserts:
        conn.execute(insert(_LAST), inserts)
    if updates:
        conn.execute(update(_LAST).where(_LAST.c.caller == bindparam("key")), updates)
