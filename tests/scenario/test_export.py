"""Whole-PBX export (issue 12 point 2), through the `fsivr` command: `export --all` imports into an
empty database as the same PBX; `scenario export --with-refs` imports elsewhere; comments survive
an unchanged single-file scenario, and an export that loses them says so."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from fsivr.cli import build_parser
from fsivr.config import Config
from fsivr.engine.pins import verify_pin
from fsivr.render.conf import load_data, render
from fsivr.scenario.persist import stored_scenarios
from fsivr.store.db import Store
from fsivr.store.directory import load_directory
from fsivr.store.routing import number_routes

REPO = Path(__file__).resolve().parents[2]

#: Every directory section with every field set somewhere, and scenarios using numbers with and
#: without exit destinations, a goto, a menu and after_call/fallback.
PBX = """\
mailboxes:
  - {box: office, email: office@example.com, pin: "1234"}
accounts:
  - {user: "201", password: pw-201, name: Ewa, caller_id: "+48221234999", extension: "201",
     mobile: ["+48600100201", "+48600100202"], email: ewa@example.com, mailbox: office}
  - {user: "202", password: pw-202}
groups:
  - {name: support, strategy: random_weighted, ring_timeout: 25, department: "210",
     members: ["202", {account: "201", ring_timeout: 10, weight: 4}]}
queues:
  - {name: hotline, strategy: round-robin, music: "local_stream://moh", max_wait: 300, tier_rules_apply: true,
     discard_abandoned_after: 60, params: {announce-frequency: 30}, department: "007",
     agents: ["201", {account: "202", level: 2, position: 3}]}
agents:
  - {account: "201", contact: mobile, status: Available, wrap_up_time: 5, max_no_answer: 2}
contacts:
  - {numbers: ["+48501000001", "+48501000002"], name: ACME, owner: "201", backup_owner: "202"}
gateways:
  - {name: backup, proxy: sip.backup.example, realm: backup.example, username: u1, password: gw-secret,
     register: true, transport: tcp, caller_id: "+48221234999", params: {expire-seconds: 600}}
prompts:
  - {name: hotline_hello, file: welcome.wav, language: pl, voice: jola}
scenarios:
  - scenario: hotline
    description: |
      The hotline: two lines
      of description
    numbers: ["+48221234999", {number: "7001", exit_destination: "201 XML default"}]
    start: hello
    after_call: note
    fallback: bye
    nodes:
      hello: {type: play, prompt: hotline_hello, next: menu}
      menu:
        type: menu
        text: "Press 1 for support"
        options: {"1": ring, "2": demo}
        timeout: bye
        invalid: bye
      ring: {type: group, group: support, answered: bye, no_answer: bye, busy: bye, failed: bye}
      demo: {type: goto, scenario: demo}
      bye: {type: hangup}
      note: {type: set, variables: {outcome: "{{ number }}"}}
"""


@pytest.fixture(autouse=True)
def prompts_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports check that file prompts are playable files there: the repository's demo prompts."""
    monkeypatch.setenv("FSIVR_PROMPTS_DIR", str(REPO / "prompts"))


def fsivr(db: str, *argv: str) -> int:
    args = build_parser().parse_args(["--database", db, *argv])
    return int(args.func(args))


def pbx(url: str) -> dict[str, Any]:
    """What makes a PBX: its directory, scenarios, routes and the FreeSWITCH XML rendered from them."""
    store = Store(url)
    try:
        with store.session() as s:
            directory = load_directory(s)
            scenarios = {d.spec.name: (d.spec, d.exits) for d in stored_scenarios(s)}
            routes = number_routes(s)
        xml = render(store.run(load_data), Config(database_url=url))
    finally:
        store.close()
    return {"directory": directory, "scenarios": scenarios, "routes": routes, "xml": xml}


def test_export_all_imports_into_an_empty_database_as_the_same_pbx(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], sip_realm: str) -> None:
    source = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    assert fsivr(source, "db", "upgrade") == 0
    bundle = tmp_path / "pbx.yaml"
    bundle.write_text(PBX)
    for path in (REPO / "examples" / "demo.yaml", REPO / "examples" / "office.yaml", bundle):
        assert fsivr(source, "import", "--force", str(path)) == 0
    capsys.readouterr()

    whole = tmp_path / "whole.yaml"
    assert fsivr(source, "export", "--all", str(whole)) == 0
    err = capsys.readouterr().err
    assert "comments and layout of the file it was imported from are not kept" in err
    assert "data tables" not in err
    # A backup holds what restores the secrets, never a SIP password or mailbox PIN in the clear
    # (fsivr.store.secrets): an account's a1-hash for the realm, the PIN's scrypt hash. A trunk's
    # password must reach the provider as it is: no hash can stand for it.
    text = whole.read_text()
    assert "gw-secret" in text and "pw-201" not in text and "pw-202" not in text
    doc = yaml.safe_load(text)
    accounts = {a["user"]: a for a in doc["accounts"]}
    assert "password" not in accounts["201"]
    assert accounts["201"]["a1_hash"] == f"{sip_realm}:{hashlib.md5(f'201:{sip_realm}:pw-201'.encode()).hexdigest()}"
    pin = doc["mailboxes"][0]["pin"]
    assert pin.startswith("scrypt$") and verify_pin("1234", pin)

    # The target is SQLite and PostgreSQL (db_url): export there again, and it is the same file.
    assert fsivr(db_url, "db", "upgrade") == 0
    assert fsivr(db_url, "import", str(whole)) == 0
    # The same PBX, but for the agents' statuses: the day's state, not configuration, so a backup
    # does not carry them and its agents start Logged Out (Agent.status).
    assert "status:" not in text
    restored, original = pbx(db_url), pbx(source)
    assert {a.account: a.status for a in original["directory"].agents}["201"] == "Available"
    assert {a.status for a in restored["directory"].agents} == {"Logged Out"}
    for side in (restored, original):
        side["directory"] = replace(side["directory"], agents=[replace(a, status=None)
                                                               for a in side["directory"].agents])
    assert restored == original
    again = tmp_path / "again.yaml"
    assert fsivr(db_url, "export", "--all", str(again)) == 0
    assert again.read_text().split("\n", 1)[1] == whole.read_text().split("\n", 1)[1]  # but the time line

    # What a bundle cannot carry is named: the lookup node's data tables come from their own files.
    csv = tmp_path / "vip.csv"
    csv.write_text("number,name\n+48221234999,Ewa\n")
    assert fsivr(db_url, "table", "import", "vip", str(csv)) == 0
    capsys.readouterr()
    assert fsivr(db_url, "export", "--all", str(again)) == 0
    assert ("note: data tables are not part of a bundle and were not exported (vip): import their files again "
            "with `fsivr table import`") in capsys.readouterr().err


def test_export_with_refs_imports_elsewhere(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    assert fsivr(source, "db", "upgrade") == 0
    bundle = tmp_path / "pbx.yaml"
    bundle.write_text(PBX)
    demo = tmp_path / "demo.yaml"
    shutil.copy(REPO / "examples" / "demo.yaml", demo)
    assert fsivr(source, "import", str(demo)) == 0
    assert fsivr(source, "import", str(bundle)) == 0
    capsys.readouterr()

    alone = tmp_path / "alone.yaml"
    assert fsivr(source, "scenario", "export", "hotline", "-o", str(alone)) == 0
    assert fsivr(db_url, "db", "upgrade") == 0
    capsys.readouterr()
    assert fsivr(db_url, "import", str(alone)) == 1  # its prompt, group and the demo are not there
    assert "prompt 'hotline_hello' does not exist" in capsys.readouterr().err

    with_refs = tmp_path / "with-refs.yaml"
    assert fsivr(source, "export", "hotline", "--with-refs", "-o", str(with_refs)) == 0
    assert fsivr(db_url, "import", str(with_refs)) == 0
    out = capsys.readouterr().out
    # The scenario, the one it goes to (and the one that goes back), what they name, and no more.
    for line in ("scenario hotline: version 1 (created)", "scenario demo: version 1 (created)",
                 "scenario demo-info: version 1 (created)", "group support: created", "account 201: created",
                 "account 202: created", "mailbox office: created", "prompt hotline_hello: created",
                 "prompt welcome: created", "account 101: created"):
        assert line in out
    assert "queue hotline" not in out and "gateway backup" not in out and "contact" not in out
    target = pbx(db_url)
    original = pbx(source)
    assert {n: target["scenarios"][n] for n in target["scenarios"]} == \
        {n: original["scenarios"][n] for n in ("hotline", "demo", "demo-info")}


def test_comments_survive_an_unchanged_scenario_file_and_a_lossy_export_says_so(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fsivr(db_url, "db", "upgrade") == 0
    single = tmp_path / "single.yaml"
    single.write_text("# my line\nscenario: s\nstart: bye\nnodes:\n  bye: {type: hangup}  # the end\n")
    assert fsivr(db_url, "import", str(single)) == 0
    capsys.readouterr()
    assert fsivr(db_url, "export", "s") == 0
    kept = capsys.readouterr()
    assert kept.out == single.read_text() and "note:" not in kept.err

    # From a bundle, the comments of the file are not kept: the export says so.
    assert fsivr(db_url, "import", str(REPO / "examples" / "demo.yaml")) == 0
    capsys.readouterr()
    assert fsivr(db_url, "scenario", "export", "demo") == 0
    lost = capsys.readouterr()
    assert "scenario: demo" in lost.out and "#" not in lost.out
    assert "note: written from the database: comments and layout of the file it was imported from are not kept" \
        in lost.err
