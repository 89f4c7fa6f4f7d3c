"""The park node through real calls: the slot said, then picked up by a phone (the caller leaves
the IVR bridged to it) or not picked up within the lot's timeout (back to the scenario); a full
lot; the slot a timed-out caller left rests before it is used again."""

from __future__ import annotations

from pathlib import Path

import gevent

from fsivr.config import Config
from fsivr.testing import CallScript, Hangup, Retrieve
from fsivr.testing.harness import running

from .conftest import apps

BUNDLE = """
scenarios:
  - scenario: parking
    numbers: ["3001"]
    start: park
    nodes:
      park: {type: park, lot: main, text: "You are parked on slot", next: again, full: busy}
      again: {type: play, text: "Nobody picked up", next: bye}
      busy: {type: play, text: "All slots are taken", next: bye}
      bye: {type: hangup}
"""


def lots(*entries: str) -> Config:
    cfg = Config()
    cfg.parking_lots = list(entries)
    return cfg


def test_park_then_picked_up_by_a_phone_leaves_the_ivr_bridged() -> None:
    with running(BUNDLE, config=lots("main 701-703 90")) as harness:
        placed = harness.call(CallScript(number="3001", caller="+48221234567",
                                         valet_retrieve=[Retrieve(after=4.0, talk=3.0)]))
    assert placed.path == [("park", "left")]
    step = placed.record["path"][0]
    assert step["detail"]["slot"] == "701" and step["detail"]["lot"] == "main"
    said = [a.arg for a in placed.result.apps if a.name == "playback"]
    assert said == ["say:You are parked on slot", "say:seven zero one"]
    assert [a.arg for a in apps(placed, "valet_park")] == ["main 701"]
    # the retriever's bridge: the caller talked to it and the IVR never hung up on them
    assert placed.result.variables.get("bridge_uuid") == step["detail"]["picked_up_by"]
    assert placed.record["hangup_by"] != "server"


def test_park_not_picked_up_returns_to_the_scenario_after_the_lots_timeout() -> None:
    with running(BUNDLE, config=lots("main 701-703 45")) as harness:
        placed = harness.call(number="3001")
        # the slot rests after a timeout (a stale valet token): the next caller gets the next one
        second = harness.call(number="3001")
    assert placed.path == [("park", "next"), ("again", "next"), ("bye", "hangup")]
    assert "valet_parking_timeout=45" in [a.arg for a in apps(placed, "multiset")]
    park = next(a for a in placed.result.apps if a.name == "valet_park")
    assert park.arg == "main 701" and 44.0 <= park.duration <= 47.0
    assert second.record["path"][0]["detail"]["slot"] == "702"


def test_full_lot_takes_full_and_a_free_slot_is_the_lowest_nobody_holds() -> None:
    with running(BUNDLE, config=lots("main 701-702 30"), time_scale=0.02) as harness:
        sim = harness.simulator
        # two callers hold both slots (nobody picks them up for 30 s)
        holders = [sim.start_call(CallScript(number="3001", timeout=30)) for _ in range(2)]
        for _ in range(500):
            if len(sim.valet.lot("main")) == 2:
                break
            gevent.sleep(0.01)
        assert sorted(sim.valet.lot("main")) == ["701", "702"]
        third = harness.call(number="3001")
        for h in holders:
            h.wait(30)
    assert third.path == [("park", "full"), ("busy", "next"), ("bye", "hangup")]
    assert not any(a.name == "valet_park" for a in third.result.apps)


def test_caller_hanging_up_while_parked_ends_the_call() -> None:
    with running(BUNDLE, config=lots("main 701-703")) as harness:
        placed = harness.call(CallScript(number="3001", hangup=Hangup(on_app="valet_park", offset=5.0)))
    assert placed.path == [("park", "hangup")]


POLISH = """
scenarios:
  - scenario: parking
    numbers: ["3001"]
    start: park
    nodes:
      park: {type: park, lot: main, text: "Jesteś zaparkowany na miejscu", language: pl, next: bye}
      bye: {type: hangup}
"""


def test_the_slot_is_said_in_the_language_by_tts_or_freeswitchs_say_module(tmp_path: Path) -> None:
    cfg = lots("main 701-703 10")
    cfg.prompts_dir = str(tmp_path / "prompts")  # the Polish text is rendered (espeak-ng) into its _tts
    with running(POLISH, config=cfg) as harness:
        words_said = harness.call(number="3001").record["path"][0]["detail"]["said"]
    assert words_said == "siedem zero jeden"
    cfg = lots("main 701-703 10")
    cfg.prompts_dir = str(tmp_path / "prompts")
    cfg.say_modules = ["pl"]
    with running(POLISH, config=cfg) as harness:
        placed = harness.call(number="3001")
    assert [a.arg for a in apps(placed, "say")] == ["pl:pl number iterated 701"]
    assert placed.path == [("park", "next"), ("bye", "hangup")]
