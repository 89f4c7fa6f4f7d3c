"""Imports that cannot surprise (issue 12 point 1), through the `fsivr` command: the diff of a dry
run, the refusal to change another bundle's directory entries without --force, the import record,
scenario history and rollback."""

from __future__ import annotations

import getpass
import hashlib
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from fsivr.cli import build_parser
from fsivr.store.db import Store
from fsivr.store.directory import load_accounts, load_prompts
from fsivr.store.models import DirectoryOwnerRow, ImportRow, ScenarioVersionRow
from fsivr.store.routing import scenario_versions
from fsivr.store.secrets import make_a1

REPO = Path(__file__).resolve().parents[2]
SECRETS = ("demo-101-change-me", "demo-102-change-me", "office-101-change-me", "office-102-change-me")


def fsivr(db: str, *argv: str) -> int:
    args = build_parser().parse_args(["--database", db, *argv])
    return int(args.func(args))


@pytest.fixture
def db(db_url: str) -> str:
    assert fsivr(db_url, "db", "upgrade") == 0
    return db_url


def stored(db: str) -> tuple[dict[str, str | None], dict[str, str | None]]:
    store = Store(db)
    try:
        with store.session() as s:
            # An account's password as stored: its a1-hash (fsivr.store.secrets).
            return ({n: p.text for n, p in load_prompts(s).items()},
                    {u: a.a1_hash for u, a in load_accounts(s).items()})
    finally:
        store.close()


def test_a_second_bundle_shows_its_diff_and_needs_force_to_take_over(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], sip_realm: str) -> None:
    demo, office = tmp_path / "demo.yaml", tmp_path / "office.yaml"
    shutil.copy(REPO / "examples" / "demo.yaml", demo)
    shutil.copy(REPO / "examples" / "office.yaml", office)
    assert fsivr(db, "import", str(demo)) == 0
    first = capsys.readouterr().out
    assert "scenario demo: version 1 (created)" in first and "prompt welcome: created" in first
    before = stored(db)

    # The dry run: every change, with the changed fields; secrets only as "password changed".
    assert fsivr(db, "import", "--dry-run", str(office)) == 0
    out = capsys.readouterr().out
    assert "scenario office: created" in out
    assert ("prompt welcome: changed (text 'Welcome to the fsivr demo company.' -> 'Welcome to the office.') "
            "[brought in by demo.yaml]") in out
    assert "prompt closed: changed (text " in out
    assert "account 101: changed (password changed) [brought in by demo.yaml]" in out
    assert "account 102: changed (password changed) [brought in by demo.yaml]" in out
    assert "gateway trunk: created" in out
    assert "dry run: nothing written; the import would be refused: 4 directory entries brought in by demo.yaml" \
        in out
    assert stored(db) == before

    # Without --force: refused, nothing written, and the reason printed.
    assert fsivr(db, "import", str(office)) == 1
    refused = capsys.readouterr()
    assert "account 101: changed (password changed) [brought in by demo.yaml]" in refused.out
    assert "nothing imported: refused: 4 directory entries brought in by demo.yaml would change " \
           "(account 101, account 102, prompt welcome, prompt closed); run again with --force" in refused.err
    assert stored(db) == before
    for secret in SECRETS:
        assert secret not in out + refused.out + refused.err

    # The demo itself is still its own: re-importing it changes nothing and needs no force.
    assert fsivr(db, "import", str(demo)) == 0
    assert "scenario demo: version 1 (unchanged)" in capsys.readouterr().out

    assert fsivr(db, "import", "--force", str(office)) == 0
    forced = capsys.readouterr().out
    assert "scenario office: version 1 (created)" in forced
    prompts, passwords = stored(db)
    assert prompts["welcome"] == "Welcome to the office." and \
        passwords["101"] == make_a1("101", sip_realm, "office-101-change-me")

    store = Store(db)
    try:
        with store.session() as s:
            imports = list(s.scalars(select(ImportRow).order_by(ImportRow.id)))
            owners = {(o.kind, o.name): o.bundle for o in s.scalars(select(DirectoryOwnerRow))}
    finally:
        store.close()
    # Every import that wrote is recorded: who, when, which file (and its hash).
    assert [(i.filename, i.bundle, i.forced) for i in imports] == [
        (str(demo), "demo.yaml", False), (str(demo), "demo.yaml", False), (str(office), "office.yaml", True)]
    assert imports[2].sha256 == hashlib.sha256(office.read_bytes()).hexdigest()
    assert {i.imported_by for i in imports} == {getpass.getuser()}
    assert "prompt welcome" in imports[2].summary["changed"] and "scenario office" in imports[2].summary["created"]
    # Taken over: the office now owns what it changed; the demo keeps the rest.
    assert owners[("prompt", "welcome")] == "office.yaml" and owners[("prompt", "main_menu")] == "demo.yaml"
    assert owners[("gateway", "trunk")] == "office.yaml"


def test_a_bundle_that_owns_the_directory_needs_no_force(db: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("prompts:\n  - {name: hi, text: Hello}\n")
    second.write_text("bundle: pbx\nowns_directory: true\nprompts:\n  - {name: hi, text: Hi there}\n")
    assert fsivr(db, "import", str(first)) == 0
    assert fsivr(db, "import", str(second)) == 0
    out = capsys.readouterr().out
    assert "prompt hi: changed (text 'Hello' -> 'Hi there')" in out and "brought in by" not in out
    assert stored(db)[0]["hi"] == "Hi there"
    # Named by its `bundle:` key, whatever the file is called: the same bundle from another file.
    third = tmp_path / "elsewhere.yaml"
    third.write_text("bundle: pbx\nprompts:\n  - {name: hi, text: Hi}\n")
    assert fsivr(db, "import", str(third)) == 0


SCENARIO_V1 = """\
# The line of the shop: greet, then hang up.
scenario: shop
numbers: ["+48221230001"]
start: hello
nodes:
  hello: {type: play, text: "Hello", next: bye}   # the greeting
  bye: {type: hangup}
"""


def test_history_and_rollback_from_stored_versions(db: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SCENARIO_V1)
    assert fsivr(db, "import", str(path)) == 0
    path.write_text(SCENARIO_V1.replace('"Hello"', '"Good morning"'))
    assert fsivr(db, "import", "--dry-run", str(path)) == 0
    assert "scenario shop: changed (nodes changed: hello (text))" in capsys.readouterr().out
    assert fsivr(db, "import", str(path)) == 0
    assert "scenario shop: version 2 (updated; nodes changed: hello (text))" in capsys.readouterr().out

    assert fsivr(db, "scenario", "history", "shop") == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0][:2] == ["VERSION", "CREATED"]
    assert rows[1][0] == "1" and rows[2][:2] == ["2", "live"]
    assert str(path) in rows[1] and getpass.getuser() in rows[2]

    assert fsivr(db, "scenario", "rollback", "shop", "1") == 0
    assert "scenario shop: version 3 (the content of version 1)" in capsys.readouterr().out
    store = Store(db)
    try:
        assert store.run(scenario_versions)["shop"] == 3
    finally:
        store.close()
    # Version 1 came from its own file: the rollback brings the file back, comments and all.
    out_file = tmp_path / "export.yaml"
    assert fsivr(db, "scenario", "export", "shop", "-o", str(out_file)) == 0
    assert out_file.read_text() == SCENARIO_V1
    assert "note:" not in capsys.readouterr().err
    assert fsivr(db, "scenario", "history", "shop") == 0
    history = capsys.readouterr().out
    assert "rollback of scenario shop to version 1" in history

    assert fsivr(db, "scenario", "rollback", "shop", "3") == 0
    assert "version 3 (unchanged" in capsys.readouterr().out
    assert fsivr(db, "scenario", "rollback", "shop", "9") == 1
    assert "has no stored version 9" in capsys.readouterr().err
    assert fsivr(db, "scenario", "history", "nope") == 1


def test_data_from_before_recorded_imports_keeps_its_history_and_is_not_taken_over_silently(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text("prompts:\n  - {name: hi, text: Hello}\nscenarios:\n  - " +
                    SCENARIO_V1.replace("\n", "\n    ").rstrip() + "\n")
    assert fsivr(db, "import", str(path)) == 0
    store = Store(db)
    try:
        with store.session() as s:  # as a database upgraded from before history and owners were kept
            s.execute(ScenarioVersionRow.__table__.delete())
            s.execute(DirectoryOwnerRow.__table__.delete())
    finally:
        store.close()
    capsys.readouterr()

    other = tmp_path / "other.yaml"
    other.write_text("prompts:\n  - {name: hi, text: Hi}\n")
    assert fsivr(db, "import", str(other)) == 1
    assert "brought in by an import before fsivr recorded owners" in capsys.readouterr().err

    path.write_text(path.read_text().replace('"Hello", next', '"Good day", next'))
    assert fsivr(db, "import", str(path)) == 0  # unchanged prompt: nothing to take over
    capsys.readouterr()
    assert fsivr(db, "scenario", "history", "shop") == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()][1:]
    assert [r[0] for r in rows] == ["1", "2"] and "(before recorded imports)" in " ".join(rows[0])
    assert fsivr(db, "scenario", "rollback", "shop", "1") == 0
    assert "version 3 (the content of version 1)" in capsys.readouterr().out
