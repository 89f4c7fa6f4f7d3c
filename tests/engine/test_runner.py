"""The runner through whole calls (real server, real socket, the FreeSWITCH simulator): the path and
its record, numbers without a scenario, a caller hanging up during each node, the post-call chain,
fallbacks and runaway loops - on SQLite and on PostgreSQL (the ``office`` fixture). Each test checks
both sides: what the simulated FreeSWITCH saw and what the server recorded. What each node type
does is tested beside its name in tests/nodes/."""

from __future__ import annotations

import gc
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import gevent
import pytest

from fsivr.config import Config
from fsivr.store.callrecords import get_call
from fsivr.testing import CallScript, Hangup
from fsivr.testing.harness import Harness, running

WARSAW = ZoneInfo("Europe/Warsaw")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=WARSAW)


def apps(placed, name: str) -> list:
    return [a for a in placed.result.apps if a.name == name]


def test_open_hours_menu_key_one(office: Harness) -> None:
    placed = office.call(number="100", caller="+48501000001", at=MONDAY_10, digits=["1"])
    assert placed.path == [("hours", "match"), ("welcome", "next"), ("greet", "next"), ("menu", "1"),
                           ("sales", "next"), ("bye", "hangup")]
    assert placed.result.answered
    assert placed.result.hangup_by == "server" and placed.result.hangup_cause == "NORMAL_CLEARING"
    assert placed.record["hangup_cause"] == "NORMAL_CLEARING"
    played = [a.arg for a in apps(placed, "playback")]
    assert played[0] == "say:Welcome to the office" and played[-1] == "say:Connecting you to sales"
    assert placed.result.ok, placed.result.error
    # One timeline, on the channel's clock (the simulator's virtual time starts at `at`).
    record = office.store.run(lambda s: get_call(s, placed.result.uuid))
    assert record.started_at == MONDAY_10
    assert record.started_at <= record.answered_at <= record.steps[0].started_at <= record.ended_at
    assert record.ended_at - record.started_at < timedelta(minutes=5)
    # The end is FreeSWITCH's moment of hangup: after the simulated media (prompts 2 s, the menu 4 s).
    assert record.ended_at - record.started_at >= timedelta(seconds=6)


def test_second_number_of_another_scenario(office: Harness) -> None:
    placed = office.call(number="200", at=MONDAY_10)
    assert placed.path == [("about", "next"), ("leave", "exit")]


def test_unknown_number_is_refused_politely(office: Harness) -> None:
    placed = office.call(number="999", at=MONDAY_10)
    assert placed.record is not None and placed.path == []
    assert placed.result.hangup_cause == "UNALLOCATED_NUMBER"
    assert not placed.result.answered


@pytest.mark.parametrize("hangup, path", [
    # before we even subscribed to events: a record with no path
    (Hangup(after=0.0), []),
    # time_condition takes no time; the caller is gone when the next node starts (at its answer)
    (Hangup(on_app="answer"), [("hours", "match"), ("welcome", "hangup")]),
    (Hangup(on_app="playback", occurrence=1, offset=0.5), [("hours", "match"), ("welcome", "hangup")]),
    # greet sets one value by uuid_setvar (it has a blank) and one by multiset (the 2nd multiset;
    # the 1st set the TTS voice)
    (Hangup(on_app="multiset", occurrence=2), [("hours", "match"), ("welcome", "next"), ("greet", "hangup")]),
    (Hangup(on_app="play_and_get_digits", occurrence=1, offset=1.0),
     [("hours", "match"), ("welcome", "next"), ("greet", "next"), ("menu", "hangup")]),
    (Hangup(on_app="playback", occurrence=2, offset=0.1),
     [("hours", "match"), ("welcome", "next"), ("greet", "next"), ("menu", "1"), ("sales", "hangup")]),
])
def test_caller_hangs_up_during_each_node(office: Harness, hangup: Hangup, path: list) -> None:
    before = office.app.runner.calls_active
    placed = office.call(number="100", at=MONDAY_10, digits=["1"], hangup=hangup, record=True)
    assert placed.result.hangup_by == "caller"
    assert placed.path == path
    # Before `myevents` no CHANNEL_HANGUP reaches us, only the disconnect notice: all we can
    # honestly record is that FreeSWITCH ended the session.
    assert placed.record["hangup_by"] == ("socket" if not path else "caller")
    assert placed.record["hangup_cause"] == "NORMAL_CLEARING"
    assert_nothing_executed_after_hangup(placed.result.wire)
    assert office.app.runner.calls_active == before


def assert_nothing_executed_after_hangup(wire: list[tuple[str, bytes]]) -> None:
    """After CHANNEL_HANGUP reached the server it may only end the session (linger allows that).

    The simulator labels the wire as the traces do: "recv" = FreeSWITCH to the controller.
    """
    sent_hangup = next((i for i, (direction, data) in enumerate(wire)
                        if direction == "recv" and (b"Event-Name: CHANNEL_HANGUP\n" in data
                                                    or b"text/disconnect-notice" in data)), None)
    assert sent_hangup is not None, "the simulator never told the server the call was over"
    after = [data.split(b"\n", 1)[0] for direction, data in wire[sent_hangup:] if direction == "send"]
    assert all(line in (b"exit", b"") or line.startswith(b"api uuid_kill") for line in after), after


def test_nothing_is_left_behind(office: Harness) -> None:
    for digits in (["1"], ["", ""], ["9", "9"], ["2"]):
        office.call(number="100", at=MONDAY_10, digits=digits)
    office.call(number="100", at=MONDAY_10, hangup=Hangup(on_app="play_and_get_digits"))
    gevent.sleep(0.1)
    assert office.app.server.active == set()
    assert office.app.runner.calls_active == 0
    gc.collect()
    call_greenlets = [g for g in gc.get_objects()
                      if isinstance(g, gevent.Greenlet) and not g.dead
                      and any(name in repr(getattr(g, "_run", "")) for name in ("OutboundConnection",
                                                                                 "OutboundServer._handle"))]
    assert call_greenlets == []


AFTER_CALL = """
scenarios:
  - scenario: post
    numbers: ["500"]
    start: hello
    after_call: note
    nodes:
      hello: {type: play, text: "Hello", next: bye}
      bye: {type: hangup}
      note: {type: set, variables: {summary: "{{ caller }} called {{ number }}"}, next: done}
      done: {type: hangup}
"""


def test_after_call_chain_runs_once_the_caller_is_gone() -> None:
    with running(AFTER_CALL) as harness:
        for hangup in (None, Hangup(on_app="playback")):
            placed = harness.call(number="500", at=MONDAY_10, hangup=hangup)
            main = [("hello", "next"), ("bye", "hangup")] if hangup is None else [("hello", "hangup")]
            assert placed.path == [*main, ("note", "next"), ("done", "hangup")]
            # Nothing was sent to the dead channel for the post-call set.
            assert not [a for a in placed.result.apps if a.name in ("set", "multiset") and "summary" in (a.arg or "")]


AFTER_EXIT = """
scenarios:
  - scenario: post
    numbers: ["501"]
    start: hello
    after_call: note
    nodes:
      hello: {type: play, text: "Hello", next: out}
      out: {type: exit}
      note: {type: set, variables: {summary: "{{ caller }} called {{ number }}"}, next: done}
      done: {type: hangup}
"""


def test_after_an_exit_the_post_call_chain_leaves_the_channel_alone() -> None:
    # Released to the dialplan, the channel is no longer ours: the post-call set only computes.
    with running(AFTER_EXIT) as harness:
        placed = harness.call(number="501", at=MONDAY_10)
    assert placed.path == [("hello", "next"), ("out", "exit"), ("note", "next"), ("done", "hangup")]
    assert not [a for a in placed.result.apps if a.name in ("set", "multiset") and "summary" in (a.arg or "")]
    assert not any(c.startswith(b"api uuid_setvar") for c in placed.result.commands)


PING_PONG = """
scenarios:
  - scenario: ping
    numbers: ["800"]
    start: p
    nodes:
      p: {type: goto, scenario: pong}
  - scenario: pong
    numbers: []
    start: q
    nodes:
      q: {type: goto, scenario: ping}
  - scenario: calm
    numbers: ["801"]
    start: hi
    nodes:
      hi: {type: play, text: "Hi", next: bye}
      bye: {type: hangup}
"""


def test_a_goto_loop_across_scenarios_ends_as_runaway_without_starving_other_calls() -> None:
    with running(PING_PONG) as harness:
        looping = harness.simulator.start_call(CallScript(number="800", at=MONDAY_10))
        calm = harness.call(number="801", at=MONDAY_10)
        assert calm.path == [("hi", "next"), ("bye", "hangup")]
        result = looping.wait(30.0)
        assert harness.app.runner.idle.wait(10.0) and harness.app.records.flush(10.0)
        record = harness.store.run(lambda s: get_call(s, result.uuid))
    # Ended by the guard after MAX_BUSY_STEPS steps that never reached FreeSWITCH, and hung up.
    assert 200 <= len(record.steps) <= 210
    assert result.hangup_by == "server"


FALLBACK = """
scenarios:
  - scenario: fb
    numbers: ["830"]
    start: s
    fallback: sorry
    nodes:
      s: {type: set, variables: {x: "{{ 1 / 0 }}"}, next: ok}
      ok: {type: play, text: "fine", next: bye}
      sorry: {type: play, text: "Sorry, something went wrong", next: bye}
      bye: {type: hangup}
  - scenario: fb2
    numbers: ["831"]
    start: s
    fallback: f
    nodes:
      s: {type: set, variables: {x: "{{ 1 / 0 }}"}, next: bye}
      f: {type: set, variables: {y: "{{ 2 / 0 }}"}, next: bye}
      bye: {type: hangup}
"""


def test_unhandled_error_goes_to_the_fallback_once() -> None:
    with running(FALLBACK) as harness:
        placed = harness.call(number="830", at=MONDAY_10)
        assert placed.path == [("s", "error"), ("sorry", "next"), ("bye", "hangup")]
        assert "division by zero" in placed.record["path"][0]["detail"]["error"]
        # A fallback that fails too ends the call: it is taken once, so it cannot loop.
        placed = harness.call(number="831", at=MONDAY_10)
        assert placed.path == [("s", "error"), ("f", "error")]
        assert placed.result.hangup_by == "server"


def test_unknown_number_runs_the_configured_default_scenario(office_bundle: str) -> None:
    cfg = Config()
    cfg.default_scenario = "info"
    with running(office_bundle, config=cfg) as harness:
        placed = harness.call(number="999", at=MONDAY_10)
    assert placed.path == [("about", "next"), ("leave", "exit")]
    assert placed.record["scenario"] == "info"
