"""Reading scenario and bundle YAML: shapes, strict scalars, and errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsivr.scenario.bundle import BundleError, load_file, parse_text
from fsivr.scenario.validate import Known, validate_bundle

OFFICE = """\
scenario: office
description: Office hours, greeting, sales, voicemail
numbers: ["+48221234567", {number: "0221234568", exit_destination: "100 XML default"}]
start: welcome
nodes:
  welcome: {type: test_play, prompt: welcome, next: menu}
  menu:
    type: test_menu
    prompt: main
    options: {1: sales, 2: box}
    timeout: sales
  sales:
    type: test_dial
    targets: [sip:101, "+48600100200"]
    no_answer: box
  box: {type: test_voicemail, box: office, next: bye}
  bye: {type: test_hangup}
"""


def test_single_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "office.yaml"
    path.write_text(OFFICE)
    bundle = load_file(path)
    assert len(bundle.scenarios) == 1
    doc = bundle.scenarios[0]
    spec = doc.spec
    assert spec.name == "office" and spec.start == "welcome" and spec.after_call is None
    assert spec.numbers == ["+48221234567", "0221234568"]  # the plus and the leading zero survive
    assert doc.exits == {"0221234568": "100 XML default"}
    assert spec.nodes["menu"]["options"] == {"1": "sales", "2": "box"}  # keys are text
    assert doc.source == OFFICE
    assert bundle.directory.is_empty()


def test_scalars_stay_what_users_mean() -> None:
    bundle = parse_text("""\
scenario: s
start: a
nodes:
  a: {type: test_set, variables: {day: 2026-12-25, answer: no, code: 0123, n: 5, x: 1.5, on: yes}, next: b}
  b: {type: test_hangup}
""")
    assert bundle.scenarios[0].spec.nodes["a"]["variables"] == {
        "day": "2026-12-25", "answer": "no", "code": "0123", "n": 5, "x": 1.5, "on": "yes"}


def test_duplicate_keys_are_errors_naming_the_line() -> None:
    with pytest.raises(BundleError) as err:
        parse_text("scenario: s\nstart: a\nnodes:\n  a: {type: test_hangup}\n  a: {type: test_hangup}\n", "dup.yaml")
    assert err.value.problems == ["dup.yaml:5: duplicate key 'a' (first on line 4)"]


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(BundleError) as err:
        parse_text("scenario: s\nnodes: [\n  a: 1\n", "bad.yaml")
    assert err.value.problems[0].startswith("bad.yaml:")


def test_bundle_sections() -> None:
    bundle = parse_text("""\
accounts:
  - {user: 101, password: p, name: Anna, extension: 101, mobile: "+48600100101", mailbox: office}
  - {user: "102", password: "pw", extension: "102", mobile: ["+48600100102", "+48600100103"]}
groups:
  - {name: sales, strategy: random_weighted, ring_timeout: 15, members: ["101", {account: "102", weight: 4}]}
queues:
  - {name: support, strategy: longest-idle-agent, agents: ["101", {account: "102", level: 2}]}
mailboxes:
  - {box: office, email: office@example.com, pin: "1234"}
contacts:
  - {number: "+48501000001", name: ACME, owner: "102", backup_owner: "101"}
  - {numbers: ["+48501000002", "+48501000003"], name: Beta, owner: "101"}
prompts:
  - {name: welcome, text: Welcome, language: en}
  - {name: music, file: music/hold.wav}
gateways:
  - {name: trunk, proxy: sip.example.com, username: u, password: p, register: true}
scenarios:
  - {scenario: a, start: x, nodes: {x: {type: test_hangup}}}
  - {scenario: b, start: x, nodes: {x: {type: test_goto, scenario: a}}}
""")
    d = bundle.directory
    assert [a.user for a in d.accounts] == ["101", "102"]
    assert d.accounts[0].extension == "101" and d.accounts[0].mobile == ["+48600100101"]
    assert d.accounts[1].mobile == ["+48600100102", "+48600100103"]
    assert [(m.account, m.weight) for m in d.groups[0].members] == [("101", 1), ("102", 4)]
    assert d.groups[0].strategy == "random_weighted"
    assert [(a.account, a.level) for a in d.queues[0].agents] == [("101", 1), ("102", 2)]
    assert [c.number for c in d.contacts] == ["+48501000001", "+48501000002", "+48501000003"]
    assert d.gateways[0].register is True
    assert [s.spec.name for s in bundle.scenarios] == ["a", "b"]
    assert all(s.source is None for s in bundle.scenarios)
    assert validate_bundle(bundle).ok


def test_shape_errors_are_all_reported_with_lines() -> None:
    with pytest.raises(BundleError) as err:
        parse_text("""\
accounts:
  - {user: "101", extension: "101", colour: red}
groups:
  - {name: sales, strategy: round_robin}
prompts:
  - {name: silent}
scenarios:
  - {scenario: a, nodes: {x: {type: test_hangup}}}
extra: 1
""", "b.yaml")
    problems = err.value.problems
    assert "b.yaml:2: accounts[0].colour: unknown key; allowed: user, password, a1_hash, name, caller_id, " \
           "extension, mobile, email, mailbox" in problems
    assert any(p.startswith("b.yaml:4: groups[0].strategy: must be one of simultaneous") for p in problems)
    assert any(p.startswith("b.yaml:6: prompts[0]: a prompt needs `file`") for p in problems)
    assert "b.yaml:8: scenarios[0]: `start` is required" in problems
    assert any(p.startswith("b.yaml:9: extra: unknown key") for p in problems)


def test_prompt_files_stay_inside_the_prompts_directory() -> None:
    with pytest.raises(BundleError, match=r"prompts\[0\]\.file: must be a path inside"):
        parse_text("prompts: [{name: x, file: ../../etc/passwd}]\n")


def test_validation_errors_name_node_field_and_line() -> None:
    bundle = parse_text("""\
scenario: s
start: a
nodes:
  a:
    type: test_play
    prompt: hello
    volume: loud
    next: b
  b:
    type: test_dial
    targets: [sip:999, group:nobody, "+48600100200", ext:101]
    answered: gone
  c: {type: nosuch}
""", "s.yaml")
    report = validate_bundle(bundle)
    assert not report.ok
    assert "s.yaml:7: s.nodes.a.volume: must be int, got str 'loud'" in report.errors
    assert "s.yaml:12: s.nodes.b.answered: points to a missing node 'gone'" in report.errors
    assert "s.yaml:13: s.nodes.c.type: unknown node type 'nosuch'" in report.errors


def test_references_must_exist_in_bundle_or_store() -> None:
    text = """\
scenario: s
start: a
nodes:
  a: {type: test_play, prompt: hello, next: b}
  b: {type: test_dial, targets: [sip:999, group:nobody, "+48600100200", ext:101], answered: c}
  c: {type: test_voicemail, box: nobox, queue: q, gateway: gw, next: d}
  d: {type: test_group, group: sales, answered: e}
  e: {type: test_goto, scenario: other}
"""
    report = validate_bundle(parse_text(text, "s.yaml"))
    assert report.errors == [
        "s.yaml:4: s.nodes.a.prompt: prompt 'hello' does not exist",
        "s.yaml:5: s.nodes.b.targets: account '999' does not exist",
        "s.yaml:5: s.nodes.b.targets: group 'nobody' does not exist",
        "s.yaml:5: s.nodes.b.targets: extension '101' does not exist",
        "s.yaml:6: s.nodes.c.box: mailbox 'nobox' does not exist",
        "s.yaml:6: s.nodes.c.queue: queue 'q' does not exist",
        "s.yaml:6: s.nodes.c.gateway: gateway 'gw' does not exist",
        "s.yaml:7: s.nodes.d.group: group 'sales' does not exist",
        "s.yaml:8: s.nodes.e.scenario: scenario 'other' does not exist",
    ]
    known = Known(names={"prompt": {"hello"}, "account": {"999"}, "group": {"nobody", "sales"},
                         "extension": {"101"}, "mailbox": {"nobox"}, "queue": {"q"}, "gateway": {"gw"},
                         "scenario": {"other"}})
    report = validate_bundle(parse_text(text, "s.yaml"), known)
    assert report.ok, report.errors
    assert any("outcome 'no_answer' has no next node" in w for w in report.warnings)
    assert all(w.startswith("s.yaml:") for w in report.warnings)


def test_numbers_run_one_scenario() -> None:
    bundle = parse_text("""\
scenarios:
  - {scenario: a, numbers: ["100", "200"], start: x, nodes: {x: {type: test_hangup}}}
  - {scenario: b, numbers: ["200"], start: x, nodes: {x: {type: test_hangup}}}
""", "n.yaml")
    report = validate_bundle(bundle, Known(routes={"100": "c"}))
    assert report.errors == [
        "n.yaml:2: a.numbers: '100' already runs scenario 'c'; remove it there first",
        "n.yaml:3: b.numbers: '200' is also a number of scenario 'a'; a number runs one scenario",
    ]


def test_directory_references_are_checked() -> None:
    bundle = parse_text("""\
accounts:
  - {user: "101", password: "pw", extension: "7", mailbox: nobox}
  - {user: "102", password: "pw", extension: "7"}
groups:
  - {name: g, members: ["101", "999", "101"]}
contacts:
  - {number: "+48501000001", owner: "998"}
""", "d.yaml")
    report = validate_bundle(bundle, Known(extensions={}))
    assert "d.yaml:3: accounts[1]: extension '7' appears more than once" in report.errors
    assert "d.yaml:2: accounts[0].mailbox: mailbox 'nobox' does not exist" in report.errors
    assert "d.yaml:5: group g: member account '999' does not exist" in report.errors
    assert "d.yaml:5: group g: account '101' is a member twice" in report.errors
    assert "d.yaml:7: contact +48501000001: owner account '998' does not exist" in report.errors


def test_dial_targets() -> None:
    from fsivr.scenario.validate import check_target

    names = {"account": {"101"}, "extension": {"21"}, "group": {"sales"}, "gateway": {"trunk"}}
    for ok in ("sip:101", "ext:21", "group:sales", "+48600100200", "tel:0600100200", "gateway:trunk/+4860010",
               "101", "21", "sales"):
        assert check_target(ok, names) is None, ok
    assert check_target("sip:102", names) == "account '102' does not exist"
    assert check_target("ext:22", names) == "extension '22' does not exist"
    assert check_target("gateway:other/+4860010", names) == "gateway 'other' does not exist"
    assert "no account, extension, group" in (check_target("nobody", names) or "")
    assert "unknown target kind" in (check_target("fax:1", names) or "")


def test_values_longer_than_their_columns_are_refused() -> None:
    with pytest.raises(BundleError) as err:
        parse_text(f'accounts: [{{user: "{"1" * 65}"}}]\nscenario: s\nstart: a\nnodes: {{a: {{type: test_hangup}}}}\n'
                   f'description: "{"x" * 5000}"\n', "l.yaml")
    assert err.value.problems == ["l.yaml:1: accounts[0].user: is too long (65 characters, at most 64)"]


def test_an_account_needs_a_password() -> None:
    # FreeSWITCH lets anyone register as a directory user without a password (sofia_reg.c).
    with pytest.raises(BundleError) as err:
        parse_text('accounts:\n  - {user: "101", password: "pw"}\n  - {user: "reception", name: Desk}\n', "p.yaml")
    assert err.value.problems == [
        "p.yaml:3: accounts[1]: account 'reception': `password` is required "
        "(without one anyone could register as it)"]


def test_directory_data_the_ringing_nodes_cannot_dial_is_refused() -> None:
    with pytest.raises(BundleError) as err:
        parse_text("""\
accounts:
  - {user: "10 1", password: "pw"}
  - {user: "102", password: "pw", mobile: ["+48600100102", "+48 600,user/x"]}
  - {user: "103", password: "pw", mobile: "0600-100"}
groups:
  - {name: g, ring_timeout: 0, members: [{account: "102", ring_timeout: 0}]}
gateways:
  - {name: "trunk/x"}
""", "r.yaml")
    problems = err.value.problems
    assert "r.yaml:2: accounts[0].user: '10 1' cannot be dialled: use letters, digits and _ . + - " \
           "(starting with a letter or digit, at most 64)" in problems
    assert "r.yaml:3: accounts[1].mobile[1]: '+48 600,user/x' is not a phone number " \
           "(no digits a number is made of)" in problems
    assert "r.yaml:4: accounts[2].mobile: '0600-100' cannot be called: no such number in the numbering " \
           "plan of PL" in problems
    assert "r.yaml:6: groups[0].ring_timeout: must be a whole number >= 1, got 0" in problems
    assert "r.yaml:6: groups[0].members[0].ring_timeout: must be a whole number >= 1, got 0" in problems
    assert any(p.startswith("r.yaml:8: gateways[0].name: gateway 'trunk/x' cannot be dialled") for p in problems)
    assert len(problems) == 6


def test_exit_destination_is_an_extension_and_never_one_of_our_numbers() -> None:
    # It becomes `transfer <data>`, which FreeSWITCH variable-expands: ${system(...)} would run.
    with pytest.raises(BundleError) as err:
        parse_text("""\
scenario: s
numbers:
  - {number: "100", exit_destination: "${system(rm -rf /)}"}
  - {number: "101", exit_destination: "200 XML default extra"}
start: a
nodes: {a: {type: test_hangup}}
""", "x.yaml")
    assert err.value.problems[0].startswith(
        "x.yaml:3: numbers[0].exit_destination: '${system(rm -rf /)}' is not a destination: use EXTENSION or "
        "EXTENSION XML CONTEXT")
    assert err.value.problems[1].startswith("x.yaml:4: numbers[1].exit_destination: '200 XML default extra'")
    assert len(err.value.problems) == 2

    loop = parse_text("""\
scenarios:
  - scenario: a
    numbers: [{number: "100", exit_destination: "101 XML public"}, {number: "102", exit_destination: "300"}]
    start: h
    nodes: {h: {type: test_hangup}}
  - scenario: b
    numbers: ["101"]
    start: h
    nodes: {h: {type: test_hangup}}
""", "loop.yaml")
    report = validate_bundle(loop, Known(routes={"300": "elsewhere"}))
    assert report.errors == [
        "loop.yaml:3: a.numbers: exit_destination '101 XML public' is a number routed to fsivr itself; "
        "use a goto node to run another scenario",
        "loop.yaml:3: a.numbers: exit_destination '300' is a number routed to fsivr itself; "
        "use a goto node to run another scenario"]
    ok = parse_text('scenario: s\nnumbers: [{number: "100", exit_destination: "+48221234567 XML default"}]\n'
                    'start: a\nnodes: {a: {type: test_hangup}}\n')
    assert ok.scenarios[0].exits == {"100": "+48221234567 XML default"}


LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
scenario: s
start: x
nodes: {x: {type: test_hangup, bomb: *h}}
"""


def test_an_alias_bomb_is_refused_quickly_with_a_clear_error() -> None:
    import time
    import tracemalloc

    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(BundleError) as err:
            parse_text(LAUGHS, "bomb.yaml")
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # 9^8 = 43 million strings if expanded.
    assert err.value.problems == ["bomb.yaml:6: the document expands to more than 200000 values through aliases "
                                  "(&anchor / *alias); write the values out instead"]
    assert elapsed < 2.0 and peak < 20_000_000


def test_the_alias_limit_counts_only_what_aliases_add(monkeypatch: pytest.MonkeyPatch) -> None:
    # A hosted PBX's bundle written out in full (10,000 accounts, 2,000 scenarios: ~250,000 values,
    # bench/scale.py) is larger than the limit; only values added by aliases count against it.
    from fsivr.scenario import yamlio

    monkeypatch.setattr(yamlio, "MAX_ALIAS_VALUES", 100)
    written = "accounts:\n" + "".join(f'  - {{user: "u{i}", name: "User {i}"}}\n' for i in range(200))
    data, _lines = yamlio.load_yaml(written, "big.yaml")
    assert len(data["accounts"]) == 200
    aliased = "x: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\ny: [" + ", ".join(["*a"] * 12) + "]\n"
    with pytest.raises(yamlio.YamlError, match="more than 100 values through aliases"):
        yamlio.load_yaml(aliased, "small-bomb.yaml")


def test_ordinary_aliases_still_work_and_a_recursive_one_is_an_error() -> None:
    bundle = parse_text("""\
scenario: s
start: a
nodes:
  a: &ring {type: test_dial, targets: [sip:101], no_answer: b}
  b: {<<: *ring, no_answer: c}
  c: {type: test_hangup}
""", "ok.yaml")
    nodes = bundle.scenarios[0].spec.nodes
    assert nodes["b"] == {"type": "test_dial", "targets": ["sip:101"], "no_answer": "c"}
    with pytest.raises(BundleError) as err:
        parse_text("scenario: s\nstart: a\nnodes: {a: &x {type: test_hangup, loop: [*x]}}\n", "loop.yaml")
    assert "recursive anchor" in err.value.problems[0] and err.value.problems[0].startswith("loop.yaml:3:")
