"""The in-memory directory: look-ups, the periodic refresh, and no database read per call."""

from __future__ import annotations

import gevent

from fsivr.config import Config
from fsivr.engine.directory import DirectoryCache, static_cache
from fsivr.store.directory import Account, Contact, Gateway
from fsivr.testing import Target
from fsivr.testing.harness import Harness, running

from .conftest import dial_strings

BUNDLE = """
accounts:
  - {user: "101", password: "x", extension: "101"}
  - {user: "102", password: "x", extension: "102"}
scenarios:
  - scenario: s
    numbers: ["1"]
    start: e
    nodes:
      e: {type: extension, digits: 3, answered: bye, invalid: bye}
      bye: {type: hangup}
"""


def test_contact_lookup_in_e164_whatever_the_spelling() -> None:
    cache = static_cache(contacts=[Contact("+48501000001", owner="101"), Contact("+1 (555) 010-0002", owner="102"),
                                   Contact("+48601000009", owner="x"), Contact("+49601000009", owner="y")])
    assert cache.contact_for("+48501000001").owner == "101"
    assert cache.contact_for("0048501000001").owner == "101"
    assert cache.contact_for("501000001").owner == "101"  # national form, default region PL
    assert cache.contact_for("+15550100002").owner == "102"
    # Same last nine digits in two countries: the national form is the default region's number.
    assert cache.contact_for("601000009").owner == "x"
    assert cache.contact_for("0049601000009").owner == "y"
    assert cache.contact_for("anonymous") is None
    assert cache.contact_for("1234") is None


def test_default_gateway() -> None:
    assert static_cache(gateways=[Gateway("b"), Gateway("a")]).gateway().name == "a"
    assert static_cache(gateways=[Gateway("b"), Gateway("default")]).gateway().name == "default"
    assert static_cache(gateways=[Gateway("b")]).gateway("b").name == "b"
    assert static_cache(gateways=[Gateway("b")]).gateway("c") is None
    assert static_cache().gateway() is None


def test_employee_by_extension() -> None:
    cache = static_cache(accounts=[Account("anna", extension="101"), Account("desk")])
    assert cache.employee("101").user == "anna"
    assert cache.employee("desk") is None
    assert cache.account("desk").user == "desk"


def test_refresh_swaps_only_on_change() -> None:
    data = {"accounts": [Account("a")]}
    from fsivr.engine.directory import Snapshot

    cache = DirectoryCache(lambda: Snapshot(accounts={a.user: a for a in data["accounts"]}), interval=0)
    assert cache.refresh() is True
    first = cache.snapshot
    assert cache.refresh() is False and cache.snapshot is first
    data["accounts"] = [Account("a", extension="7")]
    assert cache.refresh() is True and cache.employee("7").user == "a"


def test_directory_changes_reach_calls_without_a_scenario_change() -> None:
    cfg = Config()
    cfg.directory_interval = 0.05
    with running(BUNDLE, config=cfg) as h:
        assert h.call(number="1", digits=["102"]).path[0] == ("e", "answered")
        # Give extension 102 to someone else, change no scenario: only the directory tick sees it.
        h.import_yaml("""
accounts:
  - {user: "102", password: "x", extension: null}
  - {user: "201", password: "x", extension: "102"}
""")
        deadline = gevent.Timeout(5)
        with deadline:
            while h.app.services.directory.employee("102").user != "201":
                gevent.sleep(0.02)
        placed = h.call(number="1", digits=["102"], targets={"sip:201": Target("busy")})
        assert placed.path[0] == ("e", "busy")
        assert dial_strings(placed)[0].endswith("user/201")


def test_a_call_reads_no_directory_from_the_database(pbx: Harness) -> None:
    directory = pbx.app.services.directory
    loads = []
    original = directory.loader

    def counting():  # type: ignore[no-untyped-def]
        loads.append(1)
        return original()

    directory.loader = counting
    try:
        pbx.call(number="1001")
        pbx.call(number="1040", caller="+48501000001")
        pbx.call(number="1011")
    finally:
        directory.loader = original
    assert loads == []  # the tick runs every 10 s; the calls took far less


def test_one_undialable_entry_skips_its_leg_not_the_whole_node(caplog) -> None:  # type: ignore[no-untyped-def]
    # Data written to the store before bundles checked these (or by hand) must cost one leg only.
    from fsivr.ringing.targets import Resolver
    from fsivr.store.directory import Group, GroupMember

    cache = static_cache(accounts=[Account("101", extension="101"), Account("a b", extension="102")],
                         groups=[Group("sales", members=[GroupMember("101"), GroupMember("a b")]),
                                 Group("zero", ring_timeout=0, members=[GroupMember("101")])],
                         gateways=[Gateway("trunk")])
    resolver = Resolver(cache)
    assert [leg.endpoint for leg in resolver.group_legs("sales")] == ["user/101"]
    assert resolver.group_legs("zero") == []
    assert resolver.legs(ringing_target("ext:102"), 20) == []
    assert resolver.number_leg("+48 600", 20) is None
    assert resolver.number_leg("+48600100200", 20).endpoint == "sofia/gateway/trunk/+48600100200"
    assert any("'a b' cannot be dialled" in p for p in resolver.problems)
    assert any("'+48 600'" in p for p in resolver.problems)
    assert any("ring time 0 s" in p for p in resolver.problems)


def ringing_target(text: str):  # type: ignore[no-untyped-def]
    from fsivr.ringing import parse_target

    return parse_target(text)
