"""Phone numbers at the door: a number that cannot be routed or called is refused by `validate`
and `import` with the reason (before, one such number was imported and then stopped `render-conf`
for every number); the ones that can are stored in E.164 whatever way they were written."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsivr.cli import build_parser
from fsivr.scenario.bundle import parse_text
from fsivr.store.db import Store
from fsivr.store.directory import load_accounts, load_contacts

BAD = """\
accounts:
  - {user: "101", password: "pw", extension: "101", mobile: ["600 100 101", "0600-100"]}
contacts:
  - {number: "hello", name: "X"}
  - {numbers: ["0048 501 000 001", "+999 123456789"], name: "ACME"}
scenarios:
  - scenario: s
    numbers: ["22 123 45 67", "+48221234567"]
    start: auth
    nodes:
      auth: {type: authorize, caller_ids: ["+48 22 123 45 67"], ok: bye, denied: bye}
      bye: {type: hangup}
"""

#: The directory is sound: validation goes on to the nodes, whose numbers are checked too.
BAD_NODE = """scenarios:
  - scenario: s
    numbers: ["+48221234567"]
    start: auth
    nodes:
      auth: {type: authorize, caller_ids: ["+48 22 123 45 67", "12"], ok: bye, denied: bye}
      bye: {type: hangup}
"""

GOOD = """\
accounts:
  - {user: "101", password: "pw", extension: "101", mobile: ["600 100 101", "+48 (600) 100-102"]}
contacts:
  - {numbers: ["0048 501 000 001", "22 123 45 67"], name: "ACME", owner: "101"}
scenarios:
  - scenario: s
    numbers: ["+48221234567", "*98"]
    start: bye
    nodes:
      bye: {type: hangup}
"""


def fsivr(db: str, *argv: str) -> int:
    args = build_parser().parse_args(["--database", db, *argv])
    return int(args.func(args))


def test_validate_and_import_refuse_numbers_with_the_reason(db_url: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert fsivr(db_url, "db", "upgrade") == 0
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    capsys.readouterr()
    assert fsivr(db_url, "scenario", "validate", str(path)) == 1
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "accounts[0].mobile[1]: '0600-100' cannot be called: no such number in the numbering plan of PL" in text
    assert "contacts[0].number: 'hello' is not a phone number" in text
    assert "contacts[1].numbers[1]: '+999 123456789' is not a phone number (no such country code)" in text
    assert "numbers[0]: number '22 123 45 67' cannot be routed" in text
    assert fsivr(db_url, "import", str(path)) != 0
    store = Store(db_url)
    try:
        assert store.run(load_contacts) == {}  # nothing imported
    finally:
        store.close()
    path.write_text(BAD_NODE)
    assert fsivr(db_url, "scenario", "validate", str(path)) == 1
    assert "s.nodes.auth.caller_ids: caller_ids[1]: '12' cannot be called: too short" in capsys.readouterr().out
    assert fsivr(db_url, "import", str(path)) != 0


def test_numbers_are_stored_in_e164(db_url: str, tmp_path: Path) -> None:
    assert fsivr(db_url, "db", "upgrade") == 0
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    assert fsivr(db_url, "import", str(path)) == 0
    store = Store(db_url)
    try:
        assert store.run(load_accounts)["101"].mobile == ["+48600100101", "+48600100102"]
        assert sorted(store.run(load_contacts)) == ["+48221234567", "+48501000001"]
    finally:
        store.close()
    # A DID stays as the trunk delivers it: the dialplan matches it as written.
    assert parse_text(GOOD).scenarios[0].spec.numbers == ["+48221234567", "*98"]
