"""Campaigns (autoinformer), the store side: load a CSV/XLSX list, validate it, start/pause/resume,
count progress, and the rows for the export. The dialling is the worker's (fsivr/worker/campaign.py).

A file is read by the same reader as ``fsivr table import`` (fsivr.store.tables.read_file). Every
row of the file is kept — the good ones ``pending``, the bad ones ``skipped`` with the reason in
``note`` — so the export gives back the whole original file with the result columns appended.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from fsivr.store import phone
from fsivr.store.models import CAMPAIGN_RESULTS, NAME, CampaignEntryRow, CampaignRow
from fsivr.store.names import DIALABLE_NAME
from fsivr.store.tables import CELL_LIMIT, header_columns

#: Results a campaign tries again by default (an answered call is never called again).
RETRYABLE = ("busy", "no_answer", "failed")
#: Column names taken for the number when ``--number-column`` is not given (lower case, compared
#: after dropping blanks and punctuation).
NUMBER_NAMES = ("phone", "phonenumber", "number", "telephone", "tel", "msisdn", "mobile", "telefon", "numer",
                "numertelefonu", "телефон", "номер")
VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: Names a row's column may not take as a call variable: the call's own variables.
RESERVED_VARS = frozenset({"caller", "caller_name", "number", "uuid", "arrived_at", "fsivr_job"})
#: Longest note (a skipped row's reason) kept.
MAX_NOTE = NAME


@dataclass
class Row:
    line: int
    cells: dict[str, str]
    number: str = ""
    problem: str | None = None


@dataclass
class Prepared:
    """A checked file: the column mapping and every row, good or bad."""

    source: str
    columns: list[str]
    number_column: str
    variables: dict[str, str]
    rows: list[Row] = field(default_factory=list)

    @property
    def bad(self) -> list[Row]:
        return [r for r in self.rows if r.problem]

    @property
    def good(self) -> list[Row]:
        return [r for r in self.rows if not r.problem]


def check_name(name: str) -> str:
    if not DIALABLE_NAME.match(name or ""):
        raise ValueError(f"campaign name {name!r}: use letters, digits and _ . + - (at most 64)")
    return name


def variable_name(column: str) -> str:
    """A column's call variable: its name in lower case, accents dropped, with every run of other
    characters as ``_`` (``Amount owed`` → ``amount_owed``, ``Kwota należności`` →
    ``kwota_naleznosci``); call variables are ASCII names (fsivr.engine.call.VAR_NAME)."""
    plain = unicodedata.normalize("NFKD", column.strip().lower()).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")
    if name and name[0].isdigit():
        name = "c_" + name
    return name


def _number_column(columns: Sequence[str], chosen: str | None) -> str:
    if chosen:
        if chosen not in columns:
            raise ValueError(f"number column {chosen!r} is not among the columns: {', '.join(columns)}")
        return chosen
    for column in columns:
        if re.sub(r"[\W_]+", "", column.lower()) in NUMBER_NAMES:
            return column
    raise ValueError(f"which column holds the numbers? none is named like one ({', '.join(columns)}): "
                     "give --number-column")


def prepare(source: str, header: Sequence[str], rows: Iterable[tuple[int, list[str]]], *,
            number_column: str | None = None, required: Sequence[str] = (),
            rename: dict[str, str] | None = None, region: str | None = None) -> Prepared:
    """Check a file's rows. Raises ValueError for what makes the whole file unusable (a column
    without a name or twice, an unknown column named); a bad row is reported on the row."""
    columns = header_columns(header)
    numbers = _number_column(columns, number_column)
    for column in required:
        if column not in columns:
            raise ValueError(f"required column {column!r} is not among the columns: {', '.join(columns)}")
    rename = dict(rename or {})
    for column in rename:
        if column not in columns:
            raise ValueError(f"--var {column}=...: no column {column!r} (columns: {', '.join(columns)})")
    variables: dict[str, str] = {}
    taken: dict[str, str] = {}
    for column in columns:
        var = rename.get(column) or variable_name(column)
        if not VAR.match(var) or var in RESERVED_VARS:
            raise ValueError(f"column {column!r} gives the call variable {var!r}, which "
                             f"{'the call sets itself' if var in RESERVED_VARS else 'is not a name'}: "
                             f"name it with --var '{column}=NAME'")
        if var in taken:
            raise ValueError(f"columns {taken[var]!r} and {column!r} both give the call variable {var!r}: "
                             f"name one with --var '{column}=NAME'")
        taken[var] = column
        variables[column] = var
    prepared = Prepared(source, columns, numbers, variables)
    first: dict[str, int] = {}
    must = [numbers, *[c for c in required if c != numbers]]
    for line, cells in rows:
        if not any(c.strip() for c in cells):
            continue  # blank lines are no rows
        row = Row(line, {c: (cells[i].strip() if i < len(cells) else "") for i, c in enumerate(columns)})
        prepared.rows.append(row)
        if len(cells) > len(columns):
            row.problem = f"{len(cells)} cells for {len(columns)} columns"
            continue
        empty = [c for c in must if not row.cells[c]]
        if empty:
            row.problem = f"no {', '.join(empty)}"
            continue
        if any(len(v) > CELL_LIMIT for v in row.cells.values()):
            row.problem = f"a cell is longer than {CELL_LIMIT} characters"
            continue
        try:
            row.number = phone.e164(row.cells[numbers], region)
        except ValueError as exc:
            row.problem = str(exc)
            continue
        if row.number in first:
            row.problem = f"{row.number} already on line {first[row.number]}"
            continue
        first[row.number] = line
    return prepared


def create(session: Session, name: str, scenario: str, prepared: Prepared, settings: Any,
           now: datetime) -> CampaignRow:
    check_name(name)
    if session.execute(select(CampaignRow.id).where(CampaignRow.name == name)).scalar() is not None:
        raise ValueError(f"campaign {name!r} exists already: choose another --name")
    campaign = CampaignRow(
        name=name, scenario=scenario, state="loaded", source=prepared.source[-NAME:], columns=prepared.columns,
        number_column=prepared.number_column, variables=prepared.variables, pace=settings.pace,
        concurrency=settings.concurrency, attempts=settings.attempts, retry_on=list(settings.retry_on),
        spacing=settings.spacing, allowed_hours=list(settings.allowed_hours), timezone=settings.timezone,
        caller_id=settings.caller_id, created_at=now)
    session.add(campaign)
    session.flush()
    values = [{"campaign_id": campaign.id, "line": r.line, "number": r.number if not r.problem else "",
               "data": r.cells, "state": "skipped" if r.problem else "pending",
               "note": _cut(r.problem) if r.problem else None, "attempts": 0,
               "next_attempt_at": None if r.problem else now} for r in prepared.rows]
    for i in range(0, len(values), 1000):
        session.execute(insert(CampaignEntryRow), values[i:i + 1000])
    return campaign


def _cut(text: str) -> str:
    return text if len(text) <= MAX_NOTE else text[:MAX_NOTE - 1] + "…"


def get(session: Session, name: str) -> CampaignRow:
    found = session.execute(select(CampaignRow).where(CampaignRow.name == name)).scalar_one_or_none()
    if found is None:
        names = session.execute(select(CampaignRow.name).order_by(CampaignRow.id)).scalars().all()
        raise ValueError(f"no campaign {name!r}" + (f" (campaigns: {', '.join(names)})" if names else ""))
    return found


#: Which state each control moves a campaign from, and to.
CONTROLS = {"start": (("loaded",), "running"), "pause": (("running",), "paused"),
            "resume": (("paused",), "running")}


PAST = {"start": "started", "pause": "paused", "resume": "resumed"}


def control(session: Session, name: str, action: str, now: datetime, at: datetime | None = None) -> str:
    """start (loaded → running), pause (running → paused: calls in progress finish, no new ones),
    resume (paused → running). ``at`` (start only): no row is called before then. Returns the new
    state; ValueError says why not."""
    campaign = get(session, name)
    if at is not None and action != "start":
        raise ValueError("only a start can be scheduled")
    sources, target = CONTROLS[action]
    if campaign.state not in sources:
        raise ValueError(f"campaign {name!r} is {campaign.state}: only a {' or '.join(sources)} one can "
                         f"be {PAST[action]}")
    values: dict[str, Any] = {"state": target}
    if action == "start":
        values["started_at"] = now
    # Conditional on the state read: a worker finishing the campaign meanwhile wins.
    done = session.execute(update(CampaignRow).where(CampaignRow.id == campaign.id,
                                                     CampaignRow.state == campaign.state).values(**values))
    if not done.rowcount:  # type: ignore[attr-defined]
        raise ValueError(f"campaign {name!r} changed meanwhile; look at its status and try again")
    if at is not None:
        session.execute(update(CampaignEntryRow).where(CampaignEntryRow.campaign_id == campaign.id,
                                                       CampaignEntryRow.state == "pending")
                        .values(next_attempt_at=at))
    return target


@dataclass
class Progress:
    name: str
    state: str
    scenario: str
    total: int
    #: rows per state (pending, calling, done, skipped) and per result of the done ones.
    states: dict[str, int]
    results: dict[str, int]
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    pace: float
    concurrency: int
    #: Rows finished per second since the start (None before anything finished).
    rate: float | None = None
    #: Seconds until the rows still to call are done at that rate (None when unknown).
    eta: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "scenario": self.scenario, "rows": self.total,
                "states": self.states, "results": self.results, "attempts": self.attempts,
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "pace": self.pace, "concurrency": self.concurrency,
                "rate": None if self.rate is None else round(self.rate, 3),
                "eta_seconds": None if self.eta is None else round(self.eta, 1)}


def progress(session: Session, name: str, now: datetime) -> Progress:
    campaign = get(session, name)
    rows = CampaignEntryRow
    states: Counter[str] = Counter()
    results: Counter[str] = Counter()
    attempts = 0
    for state, result, n, tries in session.execute(
            select(rows.state, rows.result, func.count(), func.coalesce(func.sum(rows.attempts), 0))
            .where(rows.campaign_id == campaign.id).group_by(rows.state, rows.result)):
        states[state] += int(n)
        attempts += int(tries)
        if state == "done" and result:
            results[result] += int(n)
    total = sum(states.values())
    out = Progress(campaign.name, campaign.state, campaign.scenario, total,
                   {s: states.get(s, 0) for s in ("pending", "calling", "done", "skipped")},
                   {r: results.get(r, 0) for r in CAMPAIGN_RESULTS}, attempts, campaign.started_at,
                   campaign.finished_at, campaign.pace, campaign.concurrency)
    done = states.get("done", 0)
    if campaign.started_at is not None and done:
        end = campaign.finished_at or now
        elapsed = (end - campaign.started_at).total_seconds()
        if elapsed > 0:
            out.rate = done / elapsed
            left = states.get("pending", 0) + states.get("calling", 0)
            out.eta = left / out.rate if campaign.state in ("running", "paused") else 0.0
    return out


def names(session: Session) -> list[tuple[str, str]]:
    return [(c.name, c.state) for c in session.execute(select(CampaignRow).order_by(CampaignRow.id)).scalars()]


#: Columns the export appends to the file's own.
RESULT_COLUMNS = ("result", "attempts", "hangup_cause", "first_called_at", "last_called_at", "answered_at",
                  "ended_at", "duration", "note")


def export_rows(session: Session, name: str) -> tuple[list[str], list[list[Any]]]:
    """The header (the file's columns, then RESULT_COLUMNS) and every row in file order."""
    campaign = get(session, name)
    header = [*campaign.columns, *RESULT_COLUMNS]
    out: list[list[Any]] = []
    for r in session.execute(select(CampaignEntryRow).where(CampaignEntryRow.campaign_id == campaign.id)
                             .order_by(CampaignEntryRow.line)).scalars():
        result = r.result or ("skipped" if r.state == "skipped" else "")
        extra = [result, r.attempts, r.hangup_cause or "", r.first_called_at, r.last_called_at, r.answered_at,
                 r.ended_at, r.duration, r.note or ""]
        out.append([*(r.data.get(c, "") for c in campaign.columns), *extra])
    return header, out


def row_variables(session: Session, key: str) -> dict[str, str] | None:
    """The call variables of the campaign row a placed call is for (its ``fsivr_job``,
    ``campaign:<campaign>:<row>``): each column under its variable name, and ``campaign``.
    None when the key names no row (the campaign was deleted meanwhile)."""
    try:
        campaign_id, row_id = (int(p) for p in key.removeprefix("campaign:").split(":"))
    except ValueError:
        return None
    found = session.execute(select(CampaignRow.name, CampaignRow.variables, CampaignEntryRow.data)
                            .join(CampaignEntryRow, CampaignEntryRow.campaign_id == CampaignRow.id)
                            .where(CampaignRow.id == campaign_id, CampaignEntryRow.id == row_id)).one_or_none()
    if found is None:
        return None
    name, variables, data = found
    out = {var: str(data.get(column, "")) for column, var in variables.items()}
    out["campaign"] = name
    return out
