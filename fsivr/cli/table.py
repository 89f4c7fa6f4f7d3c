"""``fsivr table import|list``: data tables for the lookup node, from CSV or Excel files."""

from __future__ import annotations

import argparse
from typing import Any

from fsivr.cli.output import err
from fsivr.cli.store import open_store, require_schema

#: Bad rows printed one by one; past this only their count.
SHOWN_BAD_ROWS = 50
#: fsivr.store.tables.MODES, written out so that building the parser needs no SQLAlchemy
#: (tests/cli/test_imports.py checks that the two agree).
MODES = ("replace", "upsert")


def add_commands(sub: Any) -> None:
    table = sub.add_parser("table", help="data tables for the lookup node (CSV/XLSX import)")
    tsub = table.add_subparsers(dest="table_command", required=True, metavar="COMMAND")
    imp = tsub.add_parser("import", help="import a CSV or XLSX file as table NAME (first row: column names); "
                                         "rows that cannot be imported are listed and the status is 1")
    imp.add_argument("name", metavar="NAME")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--key", help="column the lookup node finds rows by (default: the first column); "
                                   "phone numbers in it are matched in any spelling")
    imp.add_argument("--mode", choices=MODES, default="replace",
                     help="replace the table's rows (default) or upsert: rows of the file replace those "
                          "with the same key, the others stay")
    imp.set_defaults(func=cmd_import)
    lst = tsub.add_parser("list", help="tables and their key columns")
    lst.set_defaults(func=cmd_list)


def cmd_import(args: argparse.Namespace) -> int:
    from fsivr.store import tables

    header, rows = tables.read_file(args.file)
    report, keep = tables.prepare(args.name, header, rows, args.key, args.mode)
    with open_store(args) as store:
        if not require_schema(store):
            return 1
        store.run(lambda s: tables.store_rows(s, report, keep))
    print(f"table {report.table}: {report.imported} row(s) imported ({report.mode}), key {report.key_column}, "
          f"columns {', '.join(report.columns)}")
    if report.bad:
        err(f"{len(report.bad)} row(s) left out:")
        for line, why in report.bad[:SHOWN_BAD_ROWS]:
            err(f"  {args.file}:{line}: {why}")
        if len(report.bad) > SHOWN_BAD_ROWS:
            err(f"  ... and {len(report.bad) - SHOWN_BAD_ROWS} more")
        return 1
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from fsivr.store import tables

    with open_store(args) as store:
        if not require_schema(store):
            return 1
        found = store.run(tables.describe)
    for name, key, columns, count in found:
        print(f"{name}  key {key}  {count} row(s)  columns {', '.join(columns)}")
    return 0
