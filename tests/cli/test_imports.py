"""Each command imports only what it needs (fsivr/cli/__init__.py): ``fsivr --help`` and every
``fsivr COMMAND --help`` build the whole parser without the store, the nodes or gevent, and the
library modules that commands share import their heaviest dependencies only where they are used.

These check which modules a fresh interpreter has loaded, never how long anything took."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable

import procs

#: What running a command may import, but building the parser must not: each costs tens to hundreds
#: of milliseconds, and the test suite and operators start ``fsivr`` many times.
HEAVY = ("sqlalchemy", "alembic", "holidays", "gevent", "greenswitch", "jinja2", "openpyxl", "num2words",
         "prometheus_client", "phonenumbers", "yaml", "fsivr.nodes", "fsivr.engine.runner", "fsivr.store.db",
         "fsivr.store.models", "fsivr.worker", "fsivr.scenario", "fsivr.app")


def heavy_in(modules: Iterable[str]) -> list[str]:
    """Which of HEAVY are among ``modules`` (themselves or a module of theirs)."""
    return sorted({h for m in modules for h in HEAVY if m == h or m.startswith(h + ".")})


def child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    # gevent's Popen: this test process may run gevent's hub, which reaps stdlib Popen's children (tests/procs.py).
    proc = procs.spawn([sys.executable, *args, "-c", textwrap.dedent(code)] if code else [sys.executable, *args],
                       stdout=procs.PIPE, stderr=procs.PIPE, text=True)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_fsivr_help_imports_none_of_the_heavy_packages() -> None:
    # As an operator runs it; -X importtime lists every module the process imported, on stderr.
    done = child("", "-X", "importtime", "-m", "fsivr", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: fsivr"), done.stdout
    imported = [line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert "fsivr.cli" in imported
    assert heavy_in(imported) == []


def test_no_command_help_imports_the_heavy_packages() -> None:
    # Every command and action of the parser, each asked for --help in turn in one process: the modules
    # that each one's help added to sys.modules, by command.
    code = """
        import argparse, contextlib, io, json, sys
        from fsivr.cli import build_parser, main

        def commands(parser, prefix):
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for name, sub in action.choices.items():
                        yield [*prefix, name]
                        yield from commands(sub, [*prefix, name])

        found = {"(import fsivr.cli)": sorted(sys.modules)}
        for argv in [[], *commands(build_parser(), [])]:
            before = set(sys.modules)
            with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
                main([*argv, "--help"])
            assert out.getvalue().startswith("usage: fsivr"), (argv, out.getvalue())
            found[" ".join(argv) or "(fsivr)"] = sorted(set(sys.modules) - before)
        print(json.dumps(found))
    """
    done = child(code)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert {"serve", "worker", "simulate", "db upgrade", "scenario import", "campaign load", "override set",
            "table import", "outbox list"} <= set(found)
    wrong = {argv: heavy_in(modules) for argv, modules in found.items() if heavy_in(modules)}
    assert wrong == {}


def test_the_library_modules_import_alembic_and_holidays_only_when_used() -> None:
    code = """
        import json, sys
        import fsivr.cli.store, fsivr.nodes, fsivr.store.db, fsivr.store.migrate
        print(json.dumps(sorted(sys.modules)))
    """
    done = child(code)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert "fsivr.nodes.time_condition" in loaded  # the node types are registered ...
    assert [m for m in loaded if m.split(".")[0] in ("alembic", "holidays")] == []  # ... without these


def test_the_choices_written_out_for_the_parser_are_the_stores() -> None:
    from fsivr.cli import campaign, outbox, table
    from fsivr.store import campaigns, models, tables

    assert outbox.OUTBOX_STATES == models.OUTBOX_STATES
    assert campaign.RETRYABLE == campaigns.RETRYABLE
    assert table.MODES == tables.MODES
