"""Importing bundles (all or nothing, versions), loading for the server, exporting back to YAML."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fsivr.engine.scenario import compile_scenario
from fsivr.scenario.bundle import parse_text
from fsivr.scenario.persist import export_scenario, import_bundle, load_scenario, load_scenarios
from fsivr.scenario.validate import BundleInvalid
from fsivr.store.db import Store
from fsivr.store.directory import (
    load_accounts,
    load_contacts,
    load_gateways,
    load_groups,
    load_mailboxes,
    load_prompts,
    load_queues,
)
from fsivr.store.models import ScenarioEdgeRow, ScenarioNodeRow
from fsivr.store.routing import number_routes, scenario_versions

DIRECTORY = """\
accounts:
  - {user: "101", password: p1, name: Anna, extension: "101", mobile: "+48600100101", mailbox: office}
  - {user: "102", password: p2, name: Piotr, extension: "102"}
  - {user: "103", password: "pw-103", name: Ewa}
groups:
  - name: sales
    strategy: sequential
    ring_timeout: 15
    members: ["102", {account: "101", ring_timeout: 10, weight: 4}]
queues:
  - {name: support, music: local_stream://moh, max_wait: 300, agents: ["101", {account: "102", level: 2}]}
mailboxes:
  - {box: office, email: office@example.com, pin: "1234"}
contacts:
  - {number: "+48501000001", name: ACME, owner: "103", backup_owner: "101"}
prompts:
  - {name: welcome, text: Welcome, language: en, voice: anna}
  - {name: main, file: main.wav}
gateways:
  - {name: trunk, proxy: sip.example.com, username: u, password: p, register: true, params: {expire-seconds: 600}}
"""

OFFICE = """\
# The office line: comments survive export.
scenario: office
description: Office
numbers: ["+48221234567", {number: "1000", exit_destination: "100 XML default"}]
start: welcome
nodes:
  welcome: {type: test_play, prompt: welcome, next: menu}
  menu:
    type: test_menu
    prompt: main
    options: {1: sales, 2: box, 9: info}
    timeout: sales
    invalid: null
  sales: {type: test_group, group: sales, answered: bye, no_answer: box}
  box: {type: test_voicemail, box: office, next: bye}
  info: {type: test_goto, scenario: info}
  bye: {type: test_hangup}
"""

INFO = """\
scenario: info
start: hello
after_call: thanks
nodes:
  hello: {type: test_play, prompt: welcome, volume: 3}
  thanks: {type: test_set, variables: {sms: "Thanks for calling {{ caller }}", n: 2}}
"""


def bundle_text(*scenarios: str, directory: str = DIRECTORY) -> str:
    items = "".join("  - " + s.replace("\n", "\n    ").rstrip() + "\n" for s in scenarios)
    return directory + "scenarios:\n" + items


def imported(store: Store, text: str, filename: str = "b.yaml") -> dict[str, int]:
    return import_bundle(store, parse_text(text, filename)).versions


def test_import_then_load_for_the_server(store: Store) -> None:
    result = import_bundle(store, parse_text(bundle_text(OFFICE, INFO)))
    assert result.versions == {"office": 1, "info": 1}
    assert sorted(result.changed) == ["info", "office"]

    assert store.run(scenario_versions) == {"office": 1, "info": 1}
    assert store.run(number_routes) == {"+48221234567": ("office", None), "1000": ("office", "100 XML default")}
    loaded = dict((spec.name, (spec, v)) for spec, v in store.run(load_scenarios))
    office, version = loaded["office"]
    assert version == 1
    assert office.nodes["menu"] == {"type": "test_menu", "prompt": "main", "timeout": "sales",
                                    "options": {"1": "sales", "2": "box", "9": "info"}}
    assert list(office.nodes) == ["welcome", "menu", "sales", "box", "info", "bye"]
    assert office.numbers == ["+48221234567", "1000"]
    info, _ = loaded["info"]
    assert info.after_call == "thanks"
    assert info.nodes["thanks"]["variables"] == {"sms": "Thanks for calling {{ caller }}", "n": 2}
    compiled = compile_scenario(office, version)  # what the server does with it
    assert compiled.edges["menu"] == {"timeout": "sales", "1": "sales", "2": "box", "9": "info"}


def test_directory_round_trips_through_the_store(store: Store) -> None:
    imported(store, bundle_text(INFO))
    with store.session() as s:
        accounts, groups, queues = load_accounts(s), load_groups(s), load_queues(s)
        mailboxes, contacts, prompts, gateways = load_mailboxes(s), load_contacts(s), load_prompts(s), load_gateways(s)
    assert accounts["101"].mobile == ["+48600100101"] and accounts["101"].mailbox == "office"
    assert accounts["101"].is_employee and not accounts["103"].is_employee
    sales = groups["sales"]
    assert (sales.strategy, sales.ring_timeout) == ("sequential", 15)
    assert [(m.account, m.ring_timeout, m.weight) for m in sales.members] == [("102", None, 1), ("101", 10, 4)]
    assert [(a.account, a.level) for a in queues["support"].agents] == [("101", 1), ("102", 2)]
    assert queues["support"].max_wait == 300
    assert mailboxes["office"].pin == "1234"
    assert (contacts["+48501000001"].owner, contacts["+48501000001"].backup_owner) == ("103", "101")
    assert prompts["welcome"].text == "Welcome" and prompts["main"].file == "main.wav"
    assert gateways["trunk"].register is True and gateways["trunk"].params == {"expire-seconds": 600}


def test_unchanged_scenarios_keep_their_version(store: Store) -> None:
    assert imported(store, bundle_text(OFFICE, INFO)) == {"office": 1, "info": 1}
    result = import_bundle(store, parse_text(bundle_text(OFFICE, INFO)))
    assert result.versions == {"office": 1, "info": 1} and result.changed == []

    changed_info = INFO.replace("volume: 3", "volume: 4")
    assert imported(store, bundle_text(OFFICE, changed_info)) == {"office": 1, "info": 2}
    # A change of numbers is a change too: servers route by them.
    assert imported(store, bundle_text(OFFICE.replace('"1000"', '"1001"'), changed_info)) == {
        "office": 2, "info": 2}
    assert store.run(number_routes)["1001"] == ("office", "100 XML default")
    assert "1000" not in store.run(number_routes)


def test_a_bad_scenario_never_replaces_a_good_live_one(store: Store) -> None:
    imported(store, bundle_text(OFFICE, INFO))
    before = store.run(load_scenarios)
    with store.session() as s:
        rows_before = (s.scalar(select(func.count()).select_from(ScenarioNodeRow)),
                       s.scalar(select(func.count()).select_from(ScenarioEdgeRow)))

    good_change = OFFICE.replace("description: Office", "description: Office v2")
    broken = INFO.replace("prompt: welcome", "prompt: missing_prompt")
    new_directory = DIRECTORY.replace("name: Anna", "name: Anna Changed")
    with pytest.raises(BundleInvalid) as err:
        imported(store, bundle_text(good_change, broken, directory=new_directory), "bad.yaml")
    assert err.value.report.errors == [
        "bad.yaml:43: info.nodes.hello.prompt: prompt 'missing_prompt' does not exist"]

    assert store.run(load_scenarios) == before
    assert store.run(scenario_versions) == {"office": 1, "info": 1}
    with store.session() as s:
        assert load_accounts(s)["101"].name == "Anna"  # the directory is untouched too
        assert (s.scalar(select(func.count()).select_from(ScenarioNodeRow)),
                s.scalar(select(func.count()).select_from(ScenarioEdgeRow))) == rows_before


def test_references_resolve_against_the_store(store: Store) -> None:
    imported(store, DIRECTORY)  # the directory alone, first
    assert imported(store, OFFICE.replace("{type: test_goto, scenario: info}", "{type: test_hangup}"),
                    "office.yaml") == {"office": 1}
    # `info` exists in neither the store nor the file:
    with pytest.raises(BundleInvalid, match=r"scenario 'info' does not exist"):
        imported(store, OFFICE, "office.yaml")


def test_numbers_move_between_scenarios_of_one_bundle_but_not_from_others(store: Store) -> None:
    a = 'scenario: a\nnumbers: ["100"]\nstart: x\nnodes: {x: {type: test_hangup}}\n'
    b = 'scenario: b\nnumbers: ["200"]\nstart: x\nnodes: {x: {type: test_hangup}}\n'
    imported(store, bundle_text(a, b, directory=""))
    swapped = (a.replace('"100"', '"200"'), b.replace('"200"', '"100"'))
    assert imported(store, bundle_text(*swapped, directory="")) == {"a": 2, "b": 2}
    assert store.run(number_routes) == {"200": ("a", None), "100": ("b", None)}

    c = 'scenario: c\nnumbers: ["100"]\nstart: x\nnodes: {x: {type: test_hangup}}\n'
    with pytest.raises(BundleInvalid, match=r"'100' already runs scenario 'b'"):
        imported(store, c, "c.yaml")


def test_extensions_can_be_swapped(store: Store) -> None:
    imported(store, DIRECTORY)
    swapped = DIRECTORY.replace('extension: "101"', 'extension: "X"').replace(
        'extension: "102"', 'extension: "101"').replace('extension: "X"', 'extension: "102"')
    imported(store, swapped)
    with store.session() as s:
        accounts = load_accounts(s)
    assert (accounts["101"].extension, accounts["102"].extension) == ("102", "101")
    taken = 'accounts: [{user: "104", password: "pw", extension: "101"}]\n'
    with pytest.raises(BundleInvalid, match=r"'101' already belongs to account '102'"):
        imported(store, taken)


def test_export_reimports_to_the_same_scenario(store: Store) -> None:
    imported(store, bundle_text(OFFICE, INFO))  # from a bundle: no source kept, YAML is generated
    with store.session() as s:
        text = export_scenario(s, "office")
    assert "comments survive" not in text
    doc = parse_text(text).scenarios[0]
    with store.session() as s:
        spec, version = load_scenario(s, "office") or (None, 0)
    assert doc.spec == spec and doc.exits == {"1000": "100 XML default"}
    result = import_bundle(store, parse_text(text))
    assert result.changed == [] and result.versions == {"office": version}

    with store.session() as s:
        info_text = export_scenario(s, "info")
    assert parse_text(info_text).scenarios[0].spec == store.run(lambda s: load_scenario(s, "info"))[0]  # type: ignore[index]


def test_export_returns_the_imported_file_while_it_is_current(store: Store) -> None:
    imported(store, bundle_text(INFO))
    imported(store, OFFICE, "office.yaml")
    with store.session() as s:
        assert export_scenario(s, "office") == OFFICE
    # Changed through a bundle: the old file no longer describes it, so it is generated.
    imported(store, bundle_text(OFFICE.replace("description: Office", "description: New"), directory=""))
    with store.session() as s:
        text = export_scenario(s, "office")
    assert "description: New" in text and "comments survive" not in text
    with store.session() as s, pytest.raises(LookupError):
        export_scenario(s, "nope")
