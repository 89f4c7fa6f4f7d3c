"""Shared by the node tests: a small PBX (accounts, groups, contacts, gateways, one scenario per node
type under test) running in the real server, called through the simulator over real sockets
(fsivr.testing.harness); the office scenario (``office`` fixture) lives in tests/conftest.py.
The agent-menu tests (test_queue_agent_*.py) share ``queue_pbx`` and the helpers after it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pytest

from fsivr.callcenter.commands import parse_list
from fsivr.config import Config
from fsivr.testing import Target
from fsivr.testing.expand import GLOBALS
from fsivr.testing.harness import Harness, Placed, running

#: How the rung phones behave for each outcome of a ringing node (dial, group, forward tests).
OUTCOME_TARGETS = {
    "answered": Target("answered", answer_after=2, talk=3),
    "no_answer": Target("no_answer"),
    "busy": Target("busy"),
    "failed": Target("failed", cause="NORMAL_TEMPORARY_FAILURE"),
}

PBX = """
accounts:
  - {user: "101", password: "pw-101", name: "Anna", extension: "101", mobile: "+48600100101"}
  - {user: "102", password: "pw-102", name: "Piotr", extension: "102", mobile: "+48600100102"}
  - {user: "103", password: "pw-103", name: "Ewa", extension: "103"}
  - {user: "104", password: "pw-104", name: "Jan", extension: "104", mobile: ["+48600100104", "+48600100999"]}
  - {user: "reception", password: "pw-r", name: "Reception"}
groups:
  - {name: sales, strategy: simultaneous, ring_timeout: 15, members: ["101", "102"]}
  - name: support
    strategy: sequential
    ring_timeout: 20
    members: [{account: "101", ring_timeout: 10}, "102", {account: "103", ring_timeout: 5}]
  - name: lottery
    strategy: random_weighted
    ring_timeout: 10
    members: [{account: "101", weight: 4}, {account: "102", weight: 1}, {account: "103", weight: 1}]
contacts:
  - {number: "+48501000001", name: "ACME", owner: "104", backup_owner: "102"}
  - {number: "+48501000002", name: "Orphan Ltd"}
  - {number: "+48501000003", name: "NoMobile", owner: "103", backup_owner: "101"}
gateways:
  - {name: trunk, proxy: sip.operator.example, caller_id: "+48221234567"}
  - {name: backup, proxy: sip.other.example}
scenarios:
  - scenario: dial
    numbers: ["1001"]
    start: d
    nodes:
      d: {type: dial, targets: [sip:101, sip:102], ring_timeout: 20,
          answered: s, no_answer: s, busy: s, failed: s}
      s: {type: status_condition, answered: bye, no_answer: bye, busy: bye, failed: bye}
      bye: {type: hangup}
  - scenario: twice
    numbers: ["1009"]
    start: d1
    nodes:
      d1: {type: dial, targets: [sip:101], answered: d2, no_answer: d2, busy: d2, failed: d2}
      d2: {type: dial, targets: [sip:102], answered: s, no_answer: s, busy: s, failed: s}
      s: {type: status_condition, answered: bye, no_answer: bye, busy: bye, failed: bye}
      bye: {type: hangup}
  - scenario: dial-mixed
    numbers: ["1002"]
    start: d
    nodes:
      d:
        type: dial
        strategy: sequential
        targets: ["103", ext:101, {target: group:sales, ring_timeout: 7}, "+48600100200", "gateway:backup/+48600100300"]
        answered: bye
      bye: {type: hangup}
  - scenario: forward
    numbers: ["1003"]
    start: f
    nodes:
      f: {type: forward, number: "+48600100200", ring_timeout: 25,
          answered: s, no_answer: s, busy: s, failed: s}
      s: {type: status_condition, answered: bye, no_answer: bye, busy: bye, failed: bye}
      bye: {type: hangup}
  - scenario: forward-backup
    numbers: ["1004"]
    start: f
    nodes:
      f: {type: forward, number: "+48600100200", gateway: backup, caller_id: "+48227654321", answered: bye}
      bye: {type: hangup}
  - scenario: group
    numbers: ["1005", "1006", "1007"]
    start: pick
    nodes:
      pick: {type: set, variables: {x: "1"}, next: route}
      route: {type: goto, scenario: group-sales}
  - scenario: group-sales
    numbers: ["1010"]
    start: g
    nodes:
      g: {type: group, group: sales, answered: s, no_answer: s, busy: s, failed: s}
      s: {type: status_condition, answered: bye, no_answer: bye, busy: bye, failed: bye}
      bye: {type: hangup}
  - scenario: group-support
    numbers: ["1011"]
    start: g
    nodes:
      g: {type: group, group: support, answered: bye, no_answer: bye, busy: bye, failed: bye}
      bye: {type: hangup}
  - scenario: group-lottery
    numbers: ["1012"]
    start: g
    nodes:
      g: {type: group, group: lottery, answered: bye}
      bye: {type: hangup}
  - scenario: extension
    numbers: ["1020"]
    start: e
    nodes:
      e: {type: extension, text: "Dial the extension", digits: 3, ring_timeout: 15,
          answered: s, no_answer: s, busy: s, failed: s, invalid: sorry}
      s: {type: status_condition, answered: bye, no_answer: bye, busy: bye, failed: bye}
      sorry: {type: play, text: "No such extension", next: bye}
      bye: {type: hangup}
  - scenario: menu-extension
    numbers: ["1021"]
    start: m
    nodes:
      m:
        type: menu
        text: "Press 1 for sales or dial an extension"
        options: {"1": sales}
        allow_extension: true
        max_attempts: 2
        extension: s
        timeout: bye
        invalid: bye
      sales: {type: group, group: sales, answered: bye}
      s: {type: status_condition, answered: bye, no_answer: bye, busy: bye, failed: bye}
      bye: {type: hangup}
  - scenario: status
    numbers: ["1030"]
    start: s
    nodes:
      s: {type: status_condition, answered: bye, no_answer: bye, busy: bye, failed: bye}
      bye: {type: hangup}
  - scenario: manager
    numbers: ["1040", "1041"]
    start: m
    nodes:
      m: {type: responsible_manager, ring_timeout: 15, mobile_after: 10,
          answered: bye, no_answer: bye, not_found: bye}
      bye: {type: hangup}
  - scenario: manager-backup
    numbers: ["1042"]
    start: m
    nodes:
      m: {type: responsible_manager, also_backup_owner: true, answered: bye, no_answer: bye, not_found: bye}
      bye: {type: hangup}
  - scenario: any
    numbers: ["1050"]
    start: d
    nodes:
      d: {type: dial, targets: [sip:101, group:sales, sip:103], answered: bye, no_answer: a, busy: a, failed: a}
      a: {type: any_manager, ring_timeout: 10, max_wait: 40, retry_interval: 5,
          answered: s, no_answer: s}
      s: {type: status_condition, answered: bye, no_answer: bye, busy: bye, failed: bye}
      bye: {type: hangup}
  - scenario: any-alone
    numbers: ["1051"]
    start: a
    nodes:
      a: {type: any_manager, answered: bye, no_answer: bye}
      bye: {type: hangup}
"""


@pytest.fixture(scope="package")
def pbx() -> Iterator[Harness]:
    cfg = Config()
    cfg.default_gateway = "trunk"
    with running(PBX, config=cfg) as harness:
        yield harness


def dial_strings(placed: Placed) -> list[str]:
    return [b.dial_string for b in placed.result.bridges]


def legs(placed: Placed, bridge: int = 0) -> list[tuple[str, str]]:
    return [(leg.target, leg.outcome) for leg in placed.result.bridges[bridge].legs]


def apps(placed: Placed, name: str) -> list:
    return [a for a in placed.result.apps if a.name == name]


# ----------------------------------------------------------------------------------- agent menu

HOLD_MUSIC = GLOBALS["hold_music"]


@contextmanager
def queue_pbx(bundle: str, *, agents_by_queue: Mapping[str, str], database_url: str | None = None) -> Iterator[Harness]:
    """``bundle`` in the real server on real time (the controller reacts to the agent's keys while
    the bridge lasts), each queue of ``agents_by_queue`` (queue -> its one agent) in the simulator's
    mod_callcenter with that agent Available in it, as the live sync would have put them there
    (agent name = account user)."""
    with running(bundle, database_url=database_url, time_scale=1.0) as h:
        for queue, agent in agents_by_queue.items():
            h.simulator.add_queue(queue)
            for cmd in (f"agent add {agent} callback", f"agent set contact {agent} user/{agent}",
                        f"agent set status {agent} Available", f"tier add {queue} {agent}"):
                assert h.simulator.callcenter_config(cmd) == "+OK\n", cmd
        yield h


def menu_of(placed: Placed) -> list[dict]:
    """What the agent did in the menu, as the queue node ``q`` recorded it."""
    assert placed.record is not None, "the server left no call record"
    step = next(s for s in placed.record["path"] if s["node"] == "q")
    return step["detail"].get("agent_menu", [])


def music_runs(placed: Placed) -> list:
    """The hold music broadcasts the caller's channel ran (what the caller heard)."""
    return [a for a in placed.result.apps if a.name == "playback" and a.arg == HOLD_MUSIC]


def agents(h: Harness) -> dict[str, dict[str, str]]:
    """The simulator's mod_callcenter agents by name (``agent list``)."""
    return {r["name"]: r for r in parse_list(h.simulator.callcenter_config("agent list"))}
