"""callcenter_config as real FreeSWITCH answers it (trace 11's recorded replies), argument quoting,
and the plan that turns one mod_callcenter state into another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fsivr.callcenter.commands import (
    QUEUE_LIST_PARAMS,
    CommandError,
    ListError,
    arg,
    parse_list,
    plan,
    state_from_lists,
)
from fsivr.callcenter.state import AgentConf, CallcenterState, QueueConf, TierConf, build_state
from fsivr.store.directory import Account, Agent, Gateway, Queue, QueueAgent


def trace_replies(traces_dir: Path) -> dict[str, list[str]]:
    """api command → the bodies real FreeSWITCH answered it with, in order (trace 11, inbound)."""
    out: dict[str, list[str]] = {}
    last = None
    for line in (traces_dir / "11-callcenter-config-api.jsonl").read_text().splitlines()[1:]:
        rec = json.loads(line)
        if rec.get("conn") != "inbound":
            continue
        if rec["dir"] == "send":
            last = rec["data"].strip()
        elif rec["dir"] == "recv" and last and rec["data"].startswith("Content-Type: api/response"):
            out.setdefault(last, []).append(rec["data"].encode("latin-1").split(b"\n\n", 1)[1].decode())
            last = None
    return out


def test_real_lists_parse(traces_dir: Path) -> None:
    replies = trace_replies(traces_dir)
    state = state_from_lists(replies["api callcenter_config queue list"][1],
                             replies["api callcenter_config agent list"][0],
                             replies["api callcenter_config tier list"][0])
    assert sorted(state.queues) == ["esl-q0@default", "esl-q1@default", "esl-q3@default", "support@default"]
    q3 = dict(state.queues["esl-q3@default"].params)
    assert q3["strategy"] == "longest-idle-agent" and q3["time-base-score"] == "queue"
    assert q3["discard-abandoned-after"] == "60" and q3["agent-no-answer-status"] == "On Break"
    assert "calls-answered" not in q3  # a counter, not configuration
    assert state.agents["esl-a1@default"] == AgentConf(
        "esl-a1@default", "[leg_timeout=10]sofia/internal/agent-101@127.0.0.1:5080", "On Break", "callback",
        max_no_answer=3, wrap_up_time=5)
    assert state.agents["esl-a2@default"].status == "Logged Out"
    assert state.tiers[("esl-q3@default", "esl-a2@default")] == TierConf("esl-q3@default", "esl-a2@default", 3, 2)
    # No rows: no header, just +OK (list_result_callback prints the header with the first row).
    assert replies["api callcenter_config agent list"][-1] == "+OK\n"
    assert parse_list(replies["api callcenter_config agent list"][-1]) == []
    assert parse_list(replies["api callcenter_config tier list"][-1]) == []


def test_errors_are_not_lists(traces_dir: Path) -> None:
    replies = trace_replies(traces_dir)
    for reply in (replies["api callcenter_config queue list bogus esl-q3@default"][0],
                  replies["api callcenter_config bogus_section list"][0]):
        with pytest.raises(ListError):
            parse_list(reply)


def test_arguments() -> None:
    assert arg("Available") == "Available"
    # trace 11: an unquoted On Break is two arguments and -ERR Invalid Agent Status!
    assert arg("On Break") == "'On Break'" and arg("Logged Out") == "'Logged Out'"
    assert arg("Available (On Demand)") == "'Available (On Demand)'"
    for bad in ("it's", "a\\b", " ", "x\ny"):
        with pytest.raises(CommandError):
            arg(bad)


def state(**agents: AgentConf) -> CallcenterState:
    return CallcenterState(queues={"q": QueueConf("q", (("strategy", "ring-all"), ("max-wait-time", "0")))},
                           agents=dict(agents), tiers={("q", a): TierConf("q", a) for a in agents})


def test_plan_from_nothing_and_back() -> None:
    wanted = state(a1=AgentConf("a1", "user/a1", "Available", wrap_up_time=5))
    todo = plan(CallcenterState(), wanted, QUEUE_LIST_PARAMS)
    assert todo.queues_from_xml == ["q"]
    assert todo.commands == [
        "queue load q", "agent add a1 callback", "agent set contact a1 user/a1",
        "agent set max_no_answer a1 0", "agent set wrap_up_time a1 5", "agent set reject_delay_time a1 0",
        "agent set busy_delay_time a1 0", "agent set no_answer_delay_time a1 0",
        "agent set status a1 Available", "tier add q a1 1 1"]
    assert plan(wanted, wanted).commands == []
    assert plan(wanted, CallcenterState()).commands == ["agent del a1", "queue unload q"]


def test_plan_compares_what_queue_list_shows() -> None:
    wanted = CallcenterState(queues={"q": QueueConf("q", (("tier-rules-apply", "true"), ("announce-frequency", "30")))})
    # From FreeSWITCH: announce-frequency is not a queue list column, booleans are switch_true.
    shown = CallcenterState(queues={"q": QueueConf("q", (("tier-rules-apply", "true"),))})
    assert plan(shown, wanted, QUEUE_LIST_PARAMS).commands == []
    shown_yes = CallcenterState(queues={"q": QueueConf("q", (("tier-rules-apply", "yes"),))})
    assert plan(shown_yes, wanted, QUEUE_LIST_PARAMS).commands == []
    shown_false = CallcenterState(queues={"q": QueueConf("q", (("tier-rules-apply", "false"),))})
    assert plan(shown_false, wanted, QUEUE_LIST_PARAMS).commands == ["queue reload q"]
    # From what was applied before, every parameter counts.
    before = CallcenterState(queues={"q": QueueConf("q", (("tier-rules-apply", "true"), ("announce-frequency", "60")))})
    assert plan(before, wanted).commands == ["queue reload q"]


def test_state_from_the_directory() -> None:
    accounts = {"101": Account("101", extension="101"), "102": Account("102", mobile=["+48600100200"]),
                "103": Account("103")}
    s = build_state([Queue("q", agents=[QueueAgent("101"), QueueAgent("102", 2, 3), QueueAgent("103")])],
                    [Agent("101", status="Available"), Agent("102", contact="mobile"), Agent("103", contact="mobile")],
                    accounts, [Gateway("zeta"), Gateway("alpha")], domain="pbx.example.com")
    assert s.agents["101"].contact == "user/101@pbx.example.com" and s.agents["101"].status == "Available"
    assert s.agents["102"].contact == "sofia/gateway/alpha/+48600100200"  # first gateway by name
    # No mobile to ring: left out, with the reason, and so is its tier.
    assert "103" not in s.agents and ("q", "103") not in s.tiers and "agent '103'" in s.problems[0]
    assert s.tiers[("q", "102")] == TierConf("q", "102", 2, 3)
