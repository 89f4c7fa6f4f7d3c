"""The agent IVR (agent_login + agent_menu) through real calls: the server runs its live event link
to the simulator's inbound port (as ``fsivr serve`` does to FreeSWITCH), the mod_callcenter sync
puts the store's agents into the simulator's mod_callcenter, and each status key is checked by
asking the simulator (``callcenter_config agent list``) and the store — on SQLite and PostgreSQL.

Also: right and wrong PINs, the lock-out per agent across calls (and its end), the PIN change,
the own-phone shortcut, the Polish prompts, and a status mod_callcenter changes by itself
(max-no-answer → On Break) written back to the store without a command echoed back.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
import pytest
from sqlalchemy import MetaData, select

from fsivr.callcenter.commands import parse_list
from fsivr.cli import main
from fsivr.config import Config
from fsivr.engine.pins import hash_pin, verify_pin
from fsivr.scenario import repository
from fsivr.scenario.bundle import BundleError, parse_text
from fsivr.scenario.export import export_all
from fsivr.scenario.validate import validate_bundle
from fsivr.speech.agent import KEYS, sentence
from fsivr.speech.tts import rendered_voice
from fsivr.store import agents as stored
from fsivr.store import versions
from fsivr.store.db import Store
from fsivr.testing import Target
from fsivr.testing.harness import LINK_PASSWORD, Harness, Placed, running
from fsivr.testing.inbound import InboundSwitch

from .conftest import apps

#: Ten keys: nothing else a call leaves (uuids, timestamps) holds this run of digits by chance.
PIN = "8642097531"
NEW_PIN = "9753108642"
OTHER_PIN = "1357924680"
WARSAW = ZoneInfo("Europe/Warsaw")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=WARSAW)
BOUND = 15.0  # a guard only: nothing here depends on how fast the machine is
OUTSIDE = "+48501000001"

BUNDLE = f"""
accounts:
  - {{user: "101", password: "pw-101", name: "Anna", extension: "201"}}
  - {{user: "102", password: "pw-102", name: "Piotr", extension: "202"}}
  - {{user: "103", password: "pw-103", name: "Ewa", extension: "203"}}
  - {{user: "104", password: "pw-104", name: "Jan", extension: "204"}}
  - {{user: "105", password: "pw-105", name: "Ola", extension: "205"}}
  - {{user: "106", password: "pw-106", name: "Igor", extension: "206"}}
queues:
  - {{name: sales, strategy: longest-idle-agent, agents: ["101", "102", "103", "104", "105", "106"]}}
agents:
  - {{account: "101", pin_hash: "{hash_pin(PIN)}"}}
  - {{account: "102", pin_hash: "{hash_pin(OTHER_PIN)}"}}
  - {{account: "103", pin_hash: "{hash_pin(PIN)}"}}
  - {{account: "104", pin_hash: "{hash_pin(PIN)}"}}
  - {{account: "105", pin_hash: "{hash_pin(PIN)}", max_no_answer: 1}}
  - {{account: "106"}}
scenarios:
  - scenario: agents
    numbers: ["7000"]
    start: login
    nodes:
      login: {{type: agent_login, max_attempts: 3, lockout_after: 4, lockout_window: 600, ok: menu, denied: bye}}
      menu: {{type: agent_menu, ended: bye, on_break: bye, not_ready: bye, logged_out: bye, timeout: bye}}
      bye: {{type: hangup}}
  - scenario: agents-pl
    numbers: ["7001"]
    start: login
    nodes:
      login: {{type: agent_login, language: pl, identify_by_caller_id: false, ok: menu, denied: bye}}
      menu: {{type: agent_menu, language: pl, ended: bye, on_break: bye, not_ready: bye, logged_out: bye,
             timeout: bye}}
      bye: {{type: hangup}}
"""


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pbx(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    tmp = tmp_path_factory.mktemp("agent-ivr")
    url = f"sqlite:///{tmp / 'fsivr.sqlite3'}" if request.param == "sqlite" else \
        request.getfixturevalue("pg_module_database")
    cfg = Config()
    cfg.prompts_dir = str(tmp / "prompts")  # Polish sentences are rendered (espeak-ng) into it
    with running(BUNDLE, database_url=url, config=cfg, live_link=True) as harness:
        wait_for(lambda: {"101", "106"} <= set(harness.simulator.callcenter.agents), "the sync added the agents")
        yield harness


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not predicate():
        assert time.monotonic() < deadline, f"not within {BOUND:g} s: {what}"
        gevent.sleep(0.02)


def switch_status(h: Harness, agent: str) -> str:
    """What mod_callcenter says, asked as anybody would: ``callcenter_config agent list <agent>``."""
    rows = parse_list(h.simulator.callcenter_config(f"agent list {agent}"))
    assert len(rows) == 1, rows
    return rows[0]["status"]


def store_agent(h: Harness, agent: str) -> stored.AgentLogin:
    found = h.store.run(lambda s: stored.find(s, agent))
    assert found is not None
    return found


def agree(h: Harness, agent: str, status: str, reason: str | None = None) -> None:
    assert switch_status(h, agent) == status
    row = store_agent(h, agent)
    assert (row.status, row.status_reason) == (status, reason)


def status_commands(h: Harness, agent: str) -> list[str]:
    """The status commands the server sent over its live link for ``agent``."""
    assert h.switch is not None
    prefix = f"api callcenter_config agent set status {agent} "
    return [line[len(prefix):] for _, line in h.switch.received if line.startswith(prefix)]


def login(h: Harness, agent: str, *menu: str, pin: str = PIN, caller: str = OUTSIDE, at: datetime = T0,
          number: str = "7000") -> Placed:
    return h.call(number=number, caller=caller, at=at, digits=[f"{agent}#", f"{pin}#", *menu])


def step(placed: Placed, node: str) -> dict:
    assert placed.record is not None
    return next(s for s in placed.record["path"] if s["node"] == node)["detail"]


def test_right_pin_logs_in_available_over_the_live_link(pbx: Harness) -> None:
    agree(pbx, "101", "Logged Out")
    sent = len(status_commands(pbx, "101"))  # the sync's agent add + its stored status
    placed = login(pbx, "101", "1")
    assert placed.path == [("login", "ok"), ("menu", "ended"), ("bye", "hangup")]
    assert step(placed, "login") == {"agent": "101", "by": "number", "wrong": 0, "status": "Available"}
    # key 1 ends the call and leaves the agent working
    assert step(placed, "menu")["status"] == "Available"
    agree(pbx, "101", "Available")
    # sent over the live link (not the call's socket), once: the sync did not send it again
    gevent.sleep(3 * pbx.app.config.callcenter_interval)
    assert status_commands(pbx, "101")[sent:] == ["Available"]
    assert not any("agent set status" in c.decode(errors="replace") for c in placed.result.commands)
    # what the agent heard, in English (the configured language)
    spoken = [a.arg for a in apps(placed, "play_and_get_digits")]
    assert any(sentence("ask_agent", "en") in s for s in spoken)
    assert any(sentence("menu", "en") in s for s in spoken)


def test_wrong_pin_is_denied_and_the_status_stays(pbx: Harness) -> None:
    before = switch_status(pbx, "102")
    sent = len(status_commands(pbx, "102"))
    placed = pbx.call(number="7000", caller=OUTSIDE, at=T0,
                      digits=["102#", "0000#", "102#", "1111#", "102#", PIN + "#", "1"])
    assert placed.path == [("login", "denied"), ("bye", "hangup")]
    assert step(placed, "login") == {"reason": "no valid log-in", "wrong": 3}
    assert len(apps(placed, "play_and_get_digits")) == 6  # three attempts: number + PIN each
    assert switch_status(pbx, "102") == before and store_agent(pbx, "102").status == before
    assert status_commands(pbx, "102")[sent:] == []


def test_lockout_holds_across_calls_for_that_agent_only_and_ends(pbx: Harness) -> None:
    at = T0 + timedelta(hours=1)
    first = pbx.call(number="7000", caller=OUTSIDE, at=at, digits=["103#", "1#", "103#", "2#", "103#", "3#"])
    assert first.outcomes["login"] == "denied"
    # redialled from another phone: the fourth wrong PIN locks agent 103 out at once
    second = pbx.call(number="7000", caller="+48501000002", at=at + timedelta(minutes=1),
                      digits=["103#", "4#", "103#", PIN + "#"])
    assert second.outcomes["login"] == "denied"
    assert step(second, "login")["reason"] == "locked out"
    # now the right PIN is not even asked for
    third = login(pbx, "103", "1", at=at + timedelta(minutes=2))
    assert third.outcomes["login"] == "denied"
    assert len(apps(third, "play_and_get_digits")) == 1
    assert store_agent(pbx, "103").status == "Logged Out"
    # another agent, from the same phone, is not affected
    other = login(pbx, "104", "1", at=at + timedelta(minutes=2))
    assert other.outcomes["login"] == "ok"
    # past the window (600 s after the failures) agent 103 may log in again
    later = login(pbx, "103", "1", at=at + timedelta(minutes=15))
    assert later.path == [("login", "ok"), ("menu", "ended"), ("bye", "hangup")]
    agree(pbx, "103", "Available")


def test_an_unknown_agent_and_one_without_a_pin_are_told_as_a_wrong_pin(pbx: Harness) -> None:
    for agent in ("999", "106"):
        placed = pbx.call(number="7000", caller=OUTSIDE, at=T0 + timedelta(hours=2),
                          digits=[f"{agent}#", PIN + "#"] * 3)
        assert placed.path == [("login", "denied"), ("bye", "hangup")]
        assert step(placed, "login")["wrong"] == 3
    assert switch_status(pbx, "106") == "Logged Out"


@pytest.mark.parametrize(("key", "status", "reason", "outcome"), [
    ("3", "On Break", "break", "on_break"),
    ("4", "On Break", "not_ready", "not_ready"),
    ("*", "Logged Out", None, "logged_out"),
])
def test_each_status_key_sets_mod_callcenter_and_the_store(pbx: Harness, key: str, status: str,
                                                           reason: str | None, outcome: str) -> None:
    placed = login(pbx, "104", key, at=T0 + timedelta(hours=3))
    assert placed.path == [("login", "ok"), ("menu", outcome), ("bye", "hangup")]
    detail = step(placed, "menu")
    assert (detail["key"], detail["status"], detail["applied"]) == (key, status, True)
    agree(pbx, "104", status, reason)
    # the quoted form a status with a space needs (trace 11)
    assert status_commands(pbx, "104")[-2:] == ["Available", f"'{status}'" if " " in status else status]
    # the sync keeps it so (it does not push an older store read back)
    gevent.sleep(3 * pbx.app.config.callcenter_interval)
    agree(pbx, "104", status, reason)
    said = [a.arg for a in apps(placed, "playback")]
    assert any(sentence("not_ready" if reason == "not_ready" else "break" if reason else "logged_out", "en") in s
               for s in said)


def test_a_reimport_during_the_day_leaves_every_agent_where_they_are(pbx: Harness) -> None:
    """Statuses are the day's state, not configuration: importing the bundle again (an admin's
    change elsewhere in it) must not log out the agents who are working, in the store or in
    mod_callcenter; a status the bundle names is applied, and an export names none."""
    placed = login(pbx, "103", "3", at=T0 + timedelta(hours=4))  # 3: on break
    assert placed.path == [("login", "ok"), ("menu", "on_break"), ("bye", "hangup")]
    agree(pbx, "103", "On Break", "break")
    sent = len(status_commands(pbx, "103"))
    assert pbx.import_yaml(BUNDLE)  # the same bundle, no status in it
    gevent.sleep(3 * pbx.app.config.callcenter_interval)  # sync rounds after the directory changed
    agree(pbx, "103", "On Break", "break")
    assert status_commands(pbx, "103")[sent:] == []
    # a status the bundle sets is applied (and the old reason goes with the old status)
    assert pbx.import_yaml(BUNDLE.replace('{account: "103", pin_hash', '{account: "103", status: Available, pin_hash'))
    wait_for(lambda: switch_status(pbx, "103") == "Available", "the sync sent the imported status")
    agree(pbx, "103", "Available")
    exported = pbx.store.run(lambda s: export_all(s, os.environ["FSIVR_SIP_REALM"])).text
    assert "status" not in exported


def test_a_status_change_reloads_no_cache(pbx: Harness) -> None:
    """A status is the day's state: writing it (the agent IVR; mod_callcenter's own changes written
    back) bumps no change counter, so no serve re-reads its directory (~0.4 s of CPU at 10,000
    accounts) nor rebuilds the callcenter state for it; a PIN changed by phone neither."""
    sync = pbx.app.callcenter
    assert sync is not None
    before, loads = pbx.store.run(versions.read), sync.loads
    placed = login(pbx, "105", "3", at=T0 + timedelta(hours=5))  # on break
    assert placed.path == [("login", "ok"), ("menu", "on_break"), ("bye", "hangup")]
    agree(pbx, "105", "On Break", "break")
    # mod_callcenter changes it by itself (max-no-answer): written back, no counter either
    assert pbx.simulator.callcenter_config("agent set status 105 Available") == "+OK\n"
    wait_for(lambda: store_agent(pbx, "105").status_reason == "freeswitch", "the write-back")
    assert pbx.store.run(lambda s: stored.set_pin(s, "105", hash_pin(PIN)))  # the same PIN, a new hash
    gevent.sleep(3 * pbx.app.config.callcenter_interval)
    assert pbx.store.run(versions.read) == before
    assert sync.loads == loads


def test_no_key_replays_the_menu_then_timeout(pbx: Harness) -> None:
    placed = login(pbx, "101", "", "9", "", at=T0 + timedelta(hours=4))
    assert placed.path == [("login", "ok"), ("menu", "timeout"), ("bye", "hangup")]
    assert len(apps(placed, "play_and_get_digits")) == 2 + 3


def test_the_own_phone_skips_the_agent_number(pbx: Harness) -> None:
    # an internal call from agent 101's extension: only the PIN is asked
    placed = pbx.call(number="7000", caller="201", at=T0 + timedelta(hours=5), digits=[PIN + "#", "3"])
    assert placed.path == [("login", "ok"), ("menu", "on_break"), ("bye", "hangup")]
    assert step(placed, "login")["by"] == "caller_id"
    agree(pbx, "101", "On Break", "break")


def test_pin_change_twice_then_the_new_pin_logs_in(pbx: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    at = T0 + timedelta(hours=6)
    mismatch = login(pbx, "102", "2", NEW_PIN + "#", PIN + "#", "1", pin=OTHER_PIN, at=at)
    assert mismatch.path == [("login", "ok"), ("menu", "ended"), ("bye", "hangup")]
    assert step(mismatch, "menu")["pin"] == "mismatch"
    too_short = login(pbx, "102", "2", "12#", "1", pin=OTHER_PIN, at=at)
    assert step(too_short, "menu")["pin"] == "invalid"
    assert verify_pin(OTHER_PIN, store_agent(pbx, "102").pin_hash or "")

    changed = login(pbx, "102", "2", NEW_PIN + "#", NEW_PIN + "#", "1", pin=OTHER_PIN, at=at)
    assert changed.path == [("login", "ok"), ("menu", "ended"), ("bye", "hangup")]
    assert step(changed, "menu")["pin"] == "changed"
    assert any(sentence("pin_changed", "en") in a.arg for a in apps(changed, "playback"))
    assert login(pbx, "102", "1", pin=OTHER_PIN, at=at).outcomes["login"] == "denied"
    assert login(pbx, "102", "1", pin=NEW_PIN, at=at).outcomes["login"] == "ok"
    # hashed in the store; in no log line, no channel variable left, no row anywhere
    assert (store_agent(pbx, "102").pin_hash or "").startswith("scrypt$")
    assert NEW_PIN not in caplog.text and OTHER_PIN not in caplog.text
    assert "fsivr_digits" not in {k for k, v in changed.result.variables.items() if NEW_PIN in (v or "")}
    meta = MetaData()
    meta.reflect(pbx.store.engine)
    with pbx.store.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                text = " ".join(str(v) for v in row)
                assert NEW_PIN not in text and OTHER_PIN not in text, table.name


def test_polish_prompts(pbx: Harness) -> None:
    placed = login(pbx, "103", "1", number="7001", at=T0 + timedelta(hours=7))
    assert placed.path == [("login", "ok"), ("menu", "ended"), ("bye", "hangup")]
    voice = rendered_voice(pbx.app.config.voice_for("pl"))
    assert voice is not None
    renderer = pbx.app.services.prompts.renderer
    played = " ".join(a.arg for a in apps(placed, "play_and_get_digits") + apps(placed, "playback"))
    for key in ("ask_agent", "ask_pin", "logged_in", "menu"):
        text = sentence(key, "pl", min=4)
        assert renderer.is_rendered(text, voice), key
        assert Path(renderer.relative(text, voice)).name in played, key
    bye = f"{sentence('available', 'pl')} {sentence('goodbye', 'pl')}"
    assert Path(renderer.relative(bye, voice)).name in played
    assert "say:" not in played  # nothing fell back to FreeSWITCH's English TTS


def test_every_language_has_every_sentence() -> None:
    for lang in ("en", "pl", "ru"):
        for key in KEYS:
            assert sentence(key, lang, min=4)
    assert sentence("menu", "pl") != sentence("menu", "en") != sentence("menu", "ru")


def test_mod_callcenters_own_status_change_is_written_back_without_an_echo(pbx: Harness) -> None:
    assert login(pbx, "105", "1", at=T0 + timedelta(hours=8)).outcomes["login"] == "ok"
    agree(pbx, "105", "Available")
    assert pbx.switch is not None
    # only 105 is free for the caller; it lets the offer ring out, and max-no-answer is 1
    for other in ("101", "102", "103", "104"):
        pbx.simulator.callcenter_config(f"agent set status {other} 'Logged Out'")
    # (changed in mod_callcenter behind the server's back: written back too)
    wait_for(lambda: all(store_agent(pbx, a).status == "Logged Out" for a in ("101", "102", "103", "104")),
             "the other agents' changes written back")
    pbx.simulator.set_agent_behaviour("105", Target("no_answer"))
    uuid = "5b7f2d1e-0000-4000-8000-000000000105"
    inline = "set:caller_id_number=+48501000009,set:caller_id_name=Caller,callcenter:sales inline"
    assert pbx.switch.run_api(f"originate {{origination_uuid={uuid}}}loopback/park/ctx {inline}").startswith("+OK")
    try:
        wait_for(lambda: store_agent(pbx, "105").status == "On Break", "mod_callcenter's status change written back")
    finally:
        pbx.switch.run_api(f"uuid_kill {uuid}")
    agree(pbx, "105", "On Break", "freeswitch")
    gevent.sleep(3 * pbx.app.config.callcenter_interval)
    # the module set it; the server only listened: no status command for 105 after the log-in
    assert status_commands(pbx, "105")[-1] == "Available"
    agree(pbx, "105", "On Break", "freeswitch")


# --- setting the PIN: bundle, export, re-import, CLI; the example ----------------------------------

AGENT_BUNDLE = """
accounts:
  - {user: "101", password: "pw-101", name: "Anna"}
queues:
  - {name: sales, agents: ["101"]}
agents:
  - {account: "101"%s}
"""


def test_a_plain_pin_in_a_bundle_is_refused() -> None:
    with pytest.raises(BundleError) as refused:
        parse_text(AGENT_BUNDLE % ', pin_hash: "4711"')
    message = str(refused.value)
    assert "agents[0].pin_hash" in message and "stored hashed" in message and "4711" not in message
    assert not validate_bundle(parse_text(AGENT_BUNDLE % f', pin_hash: "{hash_pin(PIN)}"')).errors


def test_export_leaves_the_hash_out_and_a_reimport_keeps_the_pin(db_url: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(db_url)
    store.upgrade()
    try:
        path = tmp_path / "b.yaml"
        path.write_text(AGENT_BUNDLE % f', pin_hash: "{hash_pin(PIN)}"')
        repository.import_file(store, path)
        hashed = store_hash(store)
        assert verify_pin(PIN, hashed)
        # the SIP password goes out as its a1-hash for the configured realm (fsivr/store/secrets.py)
        exported = store.run(lambda s: export_all(s, os.environ["FSIVR_SIP_REALM"])).text
        assert "pin_hash" not in exported and hashed not in exported and "scrypt$" not in exported
        # the export imported back (no pin_hash) leaves the PIN the agent chose as it is
        path.write_text(exported)
        repository.import_file(store, path, force=True)
        assert store_hash(store) == hashed
        # `fsivr pin agent 101`: the PIN from standard input, only its hash stored
        capsys.readouterr()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("sys.stdin", io.StringIO(NEW_PIN + "\n"))
            assert main(["--database", db_url, "pin", "agent", "101"]) == 0
            assert NEW_PIN not in capsys.readouterr().out
            assert verify_pin(NEW_PIN, store_hash(store))
            mp.setattr("sys.stdin", io.StringIO(NEW_PIN + "\n"))
            assert main(["--database", db_url, "pin", "agent", "999"]) == 1
            assert "no agent '999'" in capsys.readouterr().err
    finally:
        store.close()


def store_hash(store: Store) -> str:
    found = store.run(lambda s: stored.find(s, "101"))
    assert found is not None and found.pin_hash is not None
    return found.pin_hash


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("args", "path"), [
    (["--digits", "101#,4711#,3"], [("login", "ok"), ("menu", "on_break"), ("bye", "hangup")]),
    (["--caller", "101", "--digits", "4711#,*"], [("login", "ok"), ("menu", "logged_out"), ("bye", "hangup")]),
    (["--digits", "101#,1111#,101#,2222#,101#,3333#"], [("login", "denied"), ("bye", "hangup")]),
])
def test_the_agents_example_simulates(args: list[str], path: list[tuple[str, str]]) -> None:
    done = subprocess.run([sys.executable, "-m", "fsivr", "simulate", str(REPO / "examples" / "agents.yaml"),
                           *args, "--json"], capture_output=True, text=True, timeout=90, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert [(s["node"], s["outcome"]) for s in json.loads(done.stdout)["path"]] == path


def test_a_status_set_while_the_link_is_down_reaches_mod_callcenter_when_it_is_back(db_url: str) -> None:
    with running(BUNDLE, database_url=db_url, live_link=True) as h:
        assert h.switch is not None and h.app.link is not None
        wait_for(lambda: "104" in h.simulator.callcenter.agents, "the sync added the agents")
        address = h.switch.address
        h.switch.stop()  # FreeSWITCH's inbound side goes away; the calls' sockets stay
        wait_for(lambda: not h.app.link.connected, "the link noticed")
        placed = login(h, "104", "4")
        assert placed.path == [("login", "ok"), ("menu", "not_ready"), ("bye", "hangup")]
        assert step(placed, "menu")["applied"] is False
        # saved, not in mod_callcenter yet
        assert (store_agent(h, "104").status, switch_status(h, "104")) == ("On Break", "Logged Out")
        back = InboundSwitch(password=LINK_PASSWORD, sim=h.simulator)
        back.start(*address)
        try:
            # the link comes back, the sync reconciles mod_callcenter from the store
            wait_for(lambda: switch_status(h, "104") == "On Break", "the status applied after the reconnect")
            agree(h, "104", "On Break", "not_ready")
        finally:
            back.stop()


def test_a_sync_round_holding_on_does_not_keep_the_agent_waiting(db_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from fsivr.callcenter import agents as desk_module

    monkeypatch.setattr(desk_module, "LOCK_WAIT", 0.2)
    with running(BUNDLE, database_url=db_url, live_link=True) as h:
        sync = h.app.callcenter
        assert sync is not None
        wait_for(lambda: "104" in h.simulator.callcenter.agents, "the sync added the agents")
        # a round stuck on a slow FreeSWITCH, as far as the agent IVR can tell
        assert sync.lock.acquire(timeout=BOUND)
        try:
            # an agent-status-change (104 stays Logged Out) whose write-back waits for the lock: by
            # the time it runs the store has moved on, and it must not put the old status back
            assert h.simulator.callcenter_config("agent set status 104 'Logged Out'") == "+OK\n"
            gevent.sleep(0.05)
            placed = login(h, "104", "3")
            assert placed.path == [("login", "ok"), ("menu", "on_break"), ("bye", "hangup")]
            assert step(placed, "menu")["applied"] is False
            assert (store_agent(h, "104").status, switch_status(h, "104")) == ("On Break", "Logged Out")
        finally:
            sync.lock.release()
        # the sync's next round sends what the store says
        wait_for(lambda: switch_status(h, "104") == "On Break", "the sync applied the saved status")
        agree(h, "104", "On Break", "break")
