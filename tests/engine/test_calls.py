"""Whole calls through the real server, over a real socket, against the FreeSWITCH simulator.

Every node type of the walking skeleton and every outcome, a caller hanging up during each node,
numbers without a scenario — on SQLite and on PostgreSQL. Each test checks both sides: what the
simulated FreeSWITCH saw (applications, hangup) and what the server recorded (the path).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
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
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, tzinfo=WARSAW)
CHRISTMAS_10 = datetime(2026, 12, 25, 10, 0, tzinfo=WARSAW)  # a Friday, and a holiday

BUNDLE = """
prompts:
  - {name: welcome, text: "Welcome to the office"}
scenarios:
  - scenario: main
    numbers: ["100"]
    start: hours
    nodes:
      hours:
        type: time_condition
        timezone: Europe/Warsaw
        rules: [{days: mon-fri, hours: "08:00-16:00"}]
        holidays: ["2026-12-25"]
        match: welcome
        nomatch: closed
      welcome: {type: play, prompt: welcome, next: greet}
      greet: {type: set, variables: {greeting: "Hello {{ caller }}", plain: "x{{ number }}"}, next: menu}
      menu:
        type: menu
        text: "Press 1 for sales, 2 for information"
        options: {"1": sales, "2": info}
        input_timeout: 4
        max_attempts: 2
        invalid_text: "That key is not in the menu"
        timeout: bye
        invalid: sorry
      sales: {type: play, text: "Connecting you to sales", next: bye}
      info: {type: goto, scenario: info}
      sorry: {type: hangup, cause: CALL_REJECTED}
      closed: {type: play, text: "We are closed", next: bye}
      bye: {type: hangup}
  - scenario: info
    numbers: ["200"]
    start: about
    nodes:
      about: {type: play, text: "We sell telephones", next: leave}
      leave: {type: exit}
"""


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest) -> Iterator[Harness]:
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_module_database")
    with running(BUNDLE, database_url=url, config=Config()) as harness:
        yield harness


def apps(placed, name: str) -> list:
    return [a for a in placed.result.apps if a.name == name]


def test_open_hours_menu_key_one(server: Harness) -> None:
    placed = server.call(number="100", caller="+48501000001", at=MONDAY_10, digits=["1"])
    assert placed.path == [("hours", "match"), ("welcome", "next"), ("greet", "next"), ("menu", "1"),
                           ("sales", "next"), ("bye", "hangup")]
    assert placed.result.answered
    assert placed.result.hangup_by == "server" and placed.result.hangup_cause == "NORMAL_CLEARING"
    assert placed.record["hangup_cause"] == "NORMAL_CLEARING"
    played = [a.arg for a in apps(placed, "playback")]
    assert played[0] == "say:Welcome to the office" and played[-1] == "say:Connecting you to sales"
    assert placed.result.ok, placed.result.error
    # One timeline, on the channel's clock (the simulator's virtual time starts at `at`).
    record = server.store.run(lambda s: get_call(s, placed.result.uuid))
    assert record.started_at == MONDAY_10
    assert record.started_at <= record.answered_at <= record.steps[0].started_at <= record.ended_at
    assert record.ended_at - record.started_at < timedelta(minutes=5)
    # The end is FreeSWITCH's moment of hangup: after the simulated media (prompts 2 s, the menu 4 s).
    assert record.ended_at - record.started_at >= timedelta(seconds=6)


def test_set_renders_templates_into_channel_variables(server: Harness) -> None:
    placed = server.call(number="100", caller="+48501000002", at=MONDAY_10, digits=["1"])
    assert placed.result.variables.get("fsivr_greeting") == "Hello +48501000002"
    assert placed.result.variables.get("fsivr_plain") == "x100"


def test_closed_on_saturday_and_on_holidays(server: Harness) -> None:
    for at in (SATURDAY_10, CHRISTMAS_10):
        placed = server.call(number="100", at=at)
        assert placed.path == [("hours", "nomatch"), ("closed", "next"), ("bye", "hangup")], at
        assert [a.arg for a in apps(placed, "playback")] == ["say:We are closed"]


def test_menu_timeout_replays_with_the_invalid_prompt(server: Harness) -> None:
    placed = server.call(number="100", at=MONDAY_10, digits=["", ""])
    assert placed.outcomes["menu"] == "timeout"
    assert placed.path[-1] == ("bye", "hangup")
    assert len(apps(placed, "play_and_get_digits")) == 2
    assert "say:That key is not in the menu" in [a.arg for a in apps(placed, "playback")]


def test_menu_wrong_keys_take_invalid(server: Harness) -> None:
    placed = server.call(number="100", at=MONDAY_10, digits=["9", "7"])
    assert placed.outcomes["menu"] == "invalid"
    assert placed.path[-1] == ("sorry", "hangup")
    assert placed.result.hangup_cause == "CALL_REJECTED"


def test_wrong_key_then_a_good_one(server: Harness) -> None:
    placed = server.call(number="100", at=MONDAY_10, digits=["9", "1"])
    assert placed.outcomes["menu"] == "1"


def test_goto_continues_in_another_scenario_and_exit_leaves_the_ivr(server: Harness) -> None:
    placed = server.call(number="100", at=MONDAY_10, digits=["2"])
    assert placed.path[-3:] == [("info", "goto"), ("info.about", "next"), ("info.leave", "exit")]
    # exit: we never hang up; the socket session ends and FreeSWITCH's dialplan takes the call.
    assert placed.result.hangup_by != "server"
    assert not any(c.startswith(b"api uuid_kill") for c in placed.result.commands)
    assert placed.record["hangup_by"] in ("ivr_exit", "socket", "caller")


def test_second_number_of_another_scenario(server: Harness) -> None:
    placed = server.call(number="200", at=MONDAY_10)
    assert placed.path == [("about", "next"), ("leave", "exit")]


def test_unknown_number_is_refused_politely(server: Harness) -> None:
    placed = server.call(number="999", at=MONDAY_10)
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
def test_caller_hangs_up_during_each_node(server: Harness, hangup: Hangup, path: list) -> None:
    before = server.app.runner.calls_active
    placed = server.call(number="100", at=MONDAY_10, digits=["1"], hangup=hangup, record=True)
    assert placed.result.hangup_by == "caller"
    assert placed.path == path
    # Before `myevents` no CHANNEL_HANGUP reaches us, only the disconnect notice: all we can
    # honestly record is that FreeSWITCH ended the session.
    assert placed.record["hangup_by"] == ("socket" if not path else "caller")
    assert placed.record["hangup_cause"] == "NORMAL_CLEARING"
    assert_nothing_executed_after_hangup(placed.result.wire)
    assert server.app.runner.calls_active == before


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


def test_caller_hangs_up_during_goto_target_and_exit(server: Harness) -> None:
    placed = server.call(number="200", at=MONDAY_10, hangup=Hangup(on_app="playback", occurrence=1))
    assert placed.path == [("about", "hangup")]


def test_nothing_is_left_behind(server: Harness) -> None:
    for digits in (["1"], ["", ""], ["9", "9"], ["2"]):
        server.call(number="100", at=MONDAY_10, digits=digits)
    server.call(number="100", at=MONDAY_10, hangup=Hangup(on_app="play_and_get_digits"))
    gevent.sleep(0.1)
    assert server.app.server.active == set()
    assert server.app.runner.calls_active == 0
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


VOICES = """
prompts:
  - {name: hello_pl, text: "Dzien dobry", language: pl}
  - {name: hello_kal, text: "Hello", voice: kal}
scenarios:
  - scenario: voices
    numbers: ["820"]
    start: a
    nodes:
      a: {type: play, prompt: hello_pl, next: b}
      b: {type: play, prompt: hello_kal, next: c}
      c: {type: play, text: "Bye", next: z}
      z: {type: hangup}
"""


def test_prompt_language_and_voice_choose_the_tts_voice() -> None:
    cfg = Config()
    cfg.tts_voices = ["pl=jola"]
    with running(VOICES, config=cfg) as harness:
        placed = harness.call(number="820", at=MONDAY_10)
    voices = [a.arg for a in placed.result.apps if a.name == "multiset" and "tts_voice" in (a.arg or "")]
    assert voices == ["tts_engine=flite tts_voice=jola", "tts_engine=flite tts_voice=kal",
                      "tts_engine=flite tts_voice=slt"]


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


FS_SOUNDS = "/usr/share/freeswitch/sounds/fsivr"


def test_prompt_files_are_played_from_where_freeswitch_sees_them(tmp_path) -> None:
    (tmp_path / "hello.wav").write_bytes(b"RIFF")
    cfg = Config()
    cfg.prompts_dir, cfg.freeswitch_prompts_dir = str(tmp_path), FS_SOUNDS
    bundle = """
prompts:
  - {name: hello, file: hello.wav}
scenarios:
  - scenario: files
    numbers: ["840"]
    start: a
    nodes:
      a: {type: play, prompt: hello, next: z}
      z: {type: hangup}
"""
    with running(bundle, config=cfg) as harness:
        placed = harness.call(number="840", at=MONDAY_10, files={f"{FS_SOUNDS}/hello.wav": 1.0})
    assert [a.arg for a in placed.result.apps if a.name == "playback"] == [f"{FS_SOUNDS}/hello.wav"]


def test_unknown_number_runs_the_configured_default_scenario() -> None:
    cfg = Config()
    cfg.default_scenario = "info"
    with running(BUNDLE, config=cfg) as harness:
        placed = harness.call(number="999", at=MONDAY_10)
    assert placed.path == [("about", "next"), ("leave", "exit")]
    assert placed.record["scenario"] == "info"
