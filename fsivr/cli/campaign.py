"""``fsivr campaign load|start|pause|resume|status|export``: autoinformer campaigns from CSV/XLSX.

``load`` checks the whole file and prints the column mapping and every bad row before anything can
be dialled; ``start`` hands the campaign to ``fsivr worker`` (which dials it: fsivr/worker/campaign.py).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from fsivr.cli.output import err
from fsivr.cli.store import open_store, require_schema

if TYPE_CHECKING:
    from fsivr.store import campaigns
    from fsivr.worker.campaign import Settings

#: Bad rows printed one by one; past this only their count.
SHOWN_BAD_ROWS = 50
#: fsivr.store.campaigns.RETRYABLE, written out so that building the parser needs no SQLAlchemy
#: (tests/cli/test_imports.py checks that the two agree).
RETRYABLE = ("busy", "no_answer", "failed")


def add_commands(sub: Any) -> None:
    campaign = sub.add_parser("campaign", help="autoinformer campaigns: call a CSV/XLSX list, run a scenario on "
                                               "answer, export the results")
    csub = campaign.add_subparsers(dest="campaign_command", required=True, metavar="COMMAND")
    load = csub.add_parser("load", help="load a CSV or XLSX list (first row: column names); its bad rows are "
                                        "listed before anything is dialled")
    load.add_argument("file", metavar="FILE")
    load.add_argument("--scenario", required=True, help="scenario each answered call runs")
    load.add_argument("--name", help="campaign name (default: the file's name without extension)")
    load.add_argument("--number-column", help="column of the numbers to call (default: the one named phone, "
                                              "number, tel, telefon...)")
    load.add_argument("--require", default="", metavar="COL[,COL]",
                      help="columns a row must fill (the number column always)")
    load.add_argument("--var", action="append", default=[], metavar="COLUMN=NAME",
                      help="call variable of a column (default: its name in lower case, other characters _)")
    load.add_argument("--strict", action="store_true", help="load nothing if any row is bad")
    load.add_argument("--region", help="region of numbers written without a country code (default: default_region)")
    load.add_argument("--pace", type=float, default=1.0, help="new calls per second (default 1)")
    load.add_argument("--concurrency", type=int, default=10, help="calls at once, ringing or answered (default 10)")
    load.add_argument("--attempts", type=int, default=3, help="calls per row at most (default 3)")
    load.add_argument("--retry-on", default=",".join(RETRYABLE), metavar="RESULTS",
                      help="results tried again (default busy,no_answer,failed)")
    load.add_argument("--spacing", type=float, default=600.0, help="seconds between attempts of a row (default 600)")
    load.add_argument("--hours", action="append", default=[], metavar="HH:MM-HH:MM",
                      help="daily window to call in (repeatable; default any time)")
    load.add_argument("--timezone", default="UTC", help="IANA timezone of --hours and of exported times")
    load.add_argument("--caller-id", help="caller ID number the callees see")
    load.set_defaults(func=cmd_load)
    for action, text in (("start", "start dialling a loaded campaign"),
                         ("pause", "stop placing new calls (calls in progress finish)"),
                         ("resume", "go on dialling a paused campaign")):
        p = csub.add_parser(action, help=text)
        p.add_argument("name", metavar="NAME")
        if action == "start":
            p.add_argument("--at", metavar="ISO8601", help="call nobody before this time (with its offset, e.g. "
                                                           "2026-12-02T09:00:00+01:00); default now")
        p.set_defaults(func=cmd_control, action=action)
    status = csub.add_parser("status", help="progress: counts by result, rate, ETA (every campaign without NAME)")
    status.add_argument("name", metavar="NAME", nargs="?")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(func=cmd_status)
    export = csub.add_parser("export", help="the original rows with the result columns appended (.csv or .xlsx)")
    export.add_argument("name", metavar="NAME")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.csv or FILE.xlsx")
    export.set_defaults(func=cmd_export)


def _settings(args: argparse.Namespace) -> Settings:
    from fsivr.worker.campaign import Settings

    retry = tuple(r.strip() for r in args.retry_on.split(",") if r.strip())
    return Settings(pace=args.pace, concurrency=args.concurrency, attempts=args.attempts, retry_on=retry,
                    spacing=args.spacing, allowed_hours=tuple(args.hours), timezone=args.timezone,
                    caller_id=args.caller_id or None)


def _renames(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        column, sep, var = pair.partition("=")
        if not sep or not column.strip() or not var.strip():
            raise ValueError(f"--var {pair!r}: expected COLUMN=NAME")
        out[column.strip()] = var.strip()
    return out


def cmd_load(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from fsivr.store import campaigns, tables
    from fsivr.store.models import ScenarioRow
    from fsivr.store.types import utcnow

    settings = _settings(args)  # ValueError naming the setting, before the file is read
    path = Path(args.file)
    name = campaigns.check_name(args.name or path.stem)
    header, rows = tables.read_file(path)
    required = [c.strip() for c in args.require.split(",") if c.strip()]
    prepared = campaigns.prepare(path.name, header, rows, number_column=args.number_column, required=required,
                                 rename=_renames(args.var), region=args.region)
    print(f"campaign {name}: {len(prepared.rows)} row(s) in {path.name}; numbers from column "
          f"{prepared.number_column!r}; call variables: "
          + ", ".join(f"{c} -> {v}" for c, v in prepared.variables.items()))
    bad = prepared.bad
    if bad:
        err(f"{len(bad)} bad row(s){' (nothing loaded: --strict)' if args.strict else ', left out'}:")
        for row in bad[:SHOWN_BAD_ROWS]:
            err(f"  {path.name}:{row.line}: {row.problem}")
        if len(bad) > SHOWN_BAD_ROWS:
            err(f"  ... and {len(bad) - SHOWN_BAD_ROWS} more")
        if args.strict:
            return 1
    if not prepared.good:
        err("no row can be called: nothing loaded")
        return 1
    with open_store(args) as store:
        if not require_schema(store):
            return 1

        def write(s: Any) -> int:
            if s.execute(select(ScenarioRow.id).where(ScenarioRow.name == args.scenario)).scalar() is None:
                raise ValueError(f"no scenario {args.scenario!r} (import it first: fsivr scenario import)")
            return campaigns.create(s, name, args.scenario, prepared, settings, utcnow()).id

        store.run(write)
    print(f"campaign {name}: {len(prepared.good)} row(s) to call with scenario {args.scenario}; "
          f"start it with: fsivr campaign start {name}")
    return 1 if bad else 0


def cmd_control(args: argparse.Namespace) -> int:
    at = None
    if getattr(args, "at", None):
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError:
            raise ValueError(f"--at {args.at!r}: expected an ISO 8601 time such as 2026-12-02T09:00:00+01:00") from None
        if at.tzinfo is None:
            raise ValueError(f"--at {args.at!r}: give the offset (+01:00, Z): the time is ambiguous without it")
    from fsivr.store import campaigns
    from fsivr.store.types import utcnow

    with open_store(args) as store:
        if not require_schema(store):
            return 1
        state = store.run(lambda s: campaigns.control(s, args.name, args.action, utcnow(), at))
    print(f"campaign {args.name}: {state}" + (f" from {at.isoformat()}" if at is not None else ""))
    return 0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def bar_line(p: campaigns.Progress, width: int) -> str:
    """One line for a terminal: a bar of the rows finished, the counts by result, rate and ETA."""
    callable_rows = p.total - p.states["skipped"]
    done = p.states["done"]
    counts = " ".join(f"{r} {n}" for r, n in p.results.items() if n)
    rate = f"{p.rate:.2f}/s" if p.rate is not None else "-/s"
    tail = (f" {done}/{callable_rows} {p.state}  {counts}{'  ' if counts else ''}calling {p.states['calling']}  "
            f"{rate} ETA {_duration(p.eta)}")
    size = max(10, min(40, width - len(tail) - len(p.name) - 4))
    filled = int(size * done / callable_rows) if callable_rows else size
    return f"{p.name} [{'#' * filled}{'.' * (size - filled)}]{tail}"


def plain_lines(p: campaigns.Progress) -> list[str]:
    lines = [f"campaign: {p.name}", f"state: {p.state}", f"scenario: {p.scenario}", f"rows: {p.total}"]
    lines += [f"{state}: {n}" for state, n in p.states.items()]
    lines += [f"result {result}: {n}" for result, n in p.results.items()]
    lines += [f"attempts: {p.attempts}", f"pace: {p.pace:g}/s", f"concurrency: {p.concurrency}",
              f"rate: {'-' if p.rate is None else f'{p.rate:.3f}/s'}", f"eta: {_duration(p.eta)}"]
    return lines


def cmd_status(args: argparse.Namespace) -> int:
    from fsivr.store import campaigns
    from fsivr.store.types import utcnow

    with open_store(args) as store:
        if not require_schema(store):
            return 1
        now = utcnow()
        if args.name:
            found = [store.run(lambda s: campaigns.progress(s, args.name, now))]
        else:
            names = store.run(campaigns.names)
            found = [store.run(lambda s, n=n: campaigns.progress(s, n, now)) for n, _ in names]
    if args.json:
        out: Any = found[0].as_dict() if args.name else [p.as_dict() for p in found]
        print(json.dumps(out))
    elif not found:
        print("no campaigns (load one with: fsivr campaign load FILE --scenario NAME)")
    elif sys.stdout.isatty():
        width = shutil.get_terminal_size((100, 20)).columns
        for p in found:
            print(bar_line(p, width))
    else:
        for i, p in enumerate(found):
            if i:
                print()
            print("\n".join(plain_lines(p)))
    return 0


def _cell(value: Any, zone: ZoneInfo, xlsx: bool) -> Any:
    if isinstance(value, datetime):
        local = value.astimezone(zone)
        # Excel has no timezones: the campaign's local time, as the header says.
        return local.replace(tzinfo=None, microsecond=0) if xlsx else local.isoformat(timespec="seconds")
    return "" if value is None and not xlsx else value


def _text_cell(sheet: Any, value: Any) -> Any:
    """A cell of the file stays text: openpyxl would store a string starting with ``=`` as a formula."""
    if isinstance(value, str) and value.startswith("="):
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValueError(f"{out.name}: export to FILE.csv or FILE.xlsx")
    from fsivr.store import campaigns

    with open_store(args) as store:
        if not require_schema(store):
            return 1
        header, rows = store.run(lambda s: campaigns.export_rows(s, args.name))
        zone_name = store.run(lambda s: campaigns.get(s, args.name).timezone)
    zone = ZoneInfo(zone_name)
    xlsx = suffix == ".xlsx"
    data = [[_cell(v, zone, xlsx) for v in row] for row in rows]
    if xlsx:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet(args.name[:31])  # Excel's limit on a sheet's name
        sheet.append(header)
        for row in data:
            sheet.append([_text_cell(sheet, v) for v in row])
        book.save(out)
    else:
        with out.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(data)
    print(f"campaign {args.name}: {len(rows)} row(s) written to {out} (times in {zone_name})")
    return 0
