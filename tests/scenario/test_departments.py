"""Departments (spec §5: the agent's ``*2`` transfer, "three-digit id → queue or group"): the bundle
key on queues and groups, what is refused (naming the entry), stored and exported on SQLite and
PostgreSQL, moved between entries by a re-import."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fsivr.scenario import repository
from fsivr.scenario.bundle import BundleError, parse_text
from fsivr.scenario.export import export_all
from fsivr.scenario.validate import BundleInvalid, known_in_store, validate_bundle
from fsivr.store.db import Store
from fsivr.store.directory import departments, load_groups, load_queues

BUNDLE = """\
accounts:
  - {user: "101", password: "pw", extension: "101"}
  - {user: "102", password: "pw", extension: "102"}
groups:
  - {name: support, members: ["102"], department: "200"}
  - {name: nobody-keys-me, members: ["102"]}
queues:
  - {name: sales, agents: ["101"], department: "007"}
"""


def test_parsed_as_text_with_leading_zeros() -> None:
    bundle = parse_text(BUNDLE, "d.yaml")
    assert validate_bundle(bundle).ok
    assert [g.department for g in bundle.directory.groups] == ["200", None]
    assert bundle.directory.queues[0].department == "007"


@pytest.mark.parametrize(("value", "message"), [
    ('"12"', "queue 'sales': department must be exactly three digits, got '12'"),
    ('"1234"', "queue 'sales': department must be exactly three digits, got '1234'"),
    ('"12a"', "queue 'sales': department must be exactly three digits, got '12a'"),
    ("7", "queue 'sales': department must be exactly three digits, got 7 (quote it"),
    ("[1]", "queue 'sales': department must be exactly three digits, got [1]"),
])
def test_not_three_digits_refused_naming_the_entry(value: str, message: str) -> None:
    with pytest.raises(BundleError) as err:
        parse_text(BUNDLE.replace('department: "007"', f"department: {value}"), "d.yaml")
    assert message in str(err.value)
    assert "queues[0].department" in str(err.value) or "line 8" in str(err.value)


def test_unique_across_queues_and_groups() -> None:
    report = validate_bundle(parse_text(BUNDLE.replace('department: "007"', 'department: "200"'), "d.yaml"))
    assert not report.ok
    assert any("queue sales: department '200' already belongs to group 'support'" in e for e in report.errors), \
        report.errors


def test_stored_exported_and_moved(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(BUNDLE)
    store = Store(db_url)
    try:
        store.upgrade()
        repository.import_file(store, path)
        assert store.run(departments) == {"200": ("group", "support"), "007": ("queue", "sales")}
        assert store.run(load_groups)["support"].department == "200"
        assert store.run(load_queues)["sales"].department == "007"
        # export → the same keys, as text (a leading 0 kept)
        doc = yaml.safe_load(store.run(export_all).text)
        assert {g["name"]: g.get("department") for g in doc["groups"]} == {"support": "200", "nobody-keys-me": None}
        assert doc["queues"][0]["department"] == "007"
        # a swap in one import: the unique indexes do not get in the way
        path.write_text(BUNDLE.replace('department: "200"', 'department: "X"').replace('department: "007"',
                        'department: "200"').replace('department: "X"', 'department: "007"'))
        repository.import_file(store, path, force=True)
        assert store.run(departments) == {"007": ("group", "support"), "200": ("queue", "sales")}
        # another bundle may not take a department the store gives to an entry it does not name
        other = tmp_path / "other.yaml"
        other.write_text('groups:\n  - {name: billing, department: "200"}\n')
        with pytest.raises(BundleInvalid) as err:
            repository.import_file(store, other, force=True)
        assert "group billing: department '200' already belongs to queue 'sales'" in str(err.value)
        assert store.run(known_in_store).departments["200"] == ("queue", "sales")
    finally:
        store.close()
