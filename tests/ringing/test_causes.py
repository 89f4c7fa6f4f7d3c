"""The FreeSWITCH result → outcome table (fsivr.ringing.causes.CAUSE_OUTCOMES), entry by entry.

Three levels: the table itself against an independent statement of what each cause means to a
caller; each real cause through a whole socket call (the simulated bridge fails with exactly that
cause and the dial node must take the right outcome); and the EXECUTE_COMPLETE events recorded
from real FreeSWITCH 1.11.1 in trace 04, including the stale bridge variables.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fsivr.esl.frames import Event
from fsivr.ringing.causes import CAUSE_OUTCOMES, classify, classify_event
from fsivr.testing import Target
from fsivr.testing.harness import Harness
from fsivr.testing.profiles import Q850

# What each entry must mean, written out independently of the implementation.
EXPECTED = {
    "SUCCESS": "answered", "ANSWER": "answered", "EARLY": "answered", "PICKED_OFF": "answered",
    "NO_ANSWER": "no_answer", "NOANSWER": "no_answer", "NO_USER_RESPONSE": "no_answer",
    "ALLOTTED_TIMEOUT": "no_answer", "RECOVERY_ON_TIMER_EXPIRE": "no_answer", "ORIGINATOR_CANCEL": "no_answer",
    "CANCEL": "no_answer", "LOSE_RACE": "no_answer",
    "USER_BUSY": "busy", "BUSY": "busy", "CALL_REJECTED": "busy", "DONTCALL": "busy",
    "USER_NOT_REGISTERED": "failed", "SUBSCRIBER_ABSENT": "failed", "UNALLOCATED_NUMBER": "failed",
    "NO_ROUTE_DESTINATION": "failed", "NO_ROUTE_TRANSIT_NET": "failed", "INVALID_NUMBER_FORMAT": "failed",
    "NUMBER_CHANGED": "failed", "NORMAL_TEMPORARY_FAILURE": "failed", "NORMAL_CIRCUIT_CONGESTION": "failed",
    "SWITCH_CONGESTION": "failed", "NETWORK_OUT_OF_ORDER": "failed", "DESTINATION_OUT_OF_ORDER": "failed",
    "INVALIDARGS": "failed", "INVALID_PROFILE": "failed", "INVALID_GATEWAY": "failed", "GATEWAY_DOWN": "failed",
    "SERVICE_UNAVAILABLE": "failed", "REQUESTED_CHAN_UNAVAIL": "failed", "CHAN_NOT_IMPLEMENTED": "failed",
    "INCOMPATIBLE_DESTINATION": "failed", "BEARERCAPABILITY_NOTAVAIL": "failed", "FACILITY_REJECTED": "failed",
    "MANDATORY_IE_MISSING": "failed", "PROGRESS_TIMEOUT": "failed", "MEDIA_TIMEOUT": "failed",
    "EXCHANGE_ROUTING_ERROR": "failed", "INTERWORKING": "failed", "SYSTEM_SHUTDOWN": "failed",
    "NORMAL_CLEARING": "failed", "NORMAL_UNSPECIFIED": "failed", "NONE": "failed",
}

#: DIALSTATUS spellings (switch_ivr_originate.c) that are not cause names themselves.
DIALSTATUS_ONLY = {"ANSWER", "EARLY", "NOANSWER", "CANCEL", "BUSY", "DONTCALL", "INVALIDARGS", "SUCCESS"}


def test_the_table_is_what_this_test_documents() -> None:
    assert CAUSE_OUTCOMES == EXPECTED


@pytest.mark.parametrize("cause", sorted(EXPECTED))
def test_each_entry(cause: str) -> None:
    assert classify(cause) == (EXPECTED[cause], cause)
    assert classify(cause.lower()) == (EXPECTED[cause], cause)


def test_dialstatus_decides_only_without_originate_disposition() -> None:
    assert classify(None, "BUSY") == ("busy", "BUSY")
    assert classify("_undef_", "NOANSWER") == ("no_answer", "NOANSWER")
    assert classify("USER_NOT_REGISTERED", "USER_NOT_REGISTERED") == ("failed", "USER_NOT_REGISTERED")
    # the precise cause wins over the coarser DIALSTATUS
    assert classify("CALL_REJECTED", "DONTCALL") == ("busy", "CALL_REJECTED")


def test_unknown_or_missing_results_are_failed_never_answered() -> None:
    assert classify(None, None) == ("failed", "UNKNOWN")
    assert classify("SOMETHING_NEW") == ("failed", "SOMETHING_NEW")


# Every entry that is a real hangup cause (not a DIALSTATUS spelling), through a socket call.
REAL_CAUSES = sorted(c for c in EXPECTED if c not in DIALSTATUS_ONLY and c in Q850 and c != "SUCCESS")


@pytest.mark.parametrize("cause", REAL_CAUSES)
def test_each_cause_through_a_call(pbx: Harness, cause: str) -> None:
    failing = Target("failed", cause=cause)
    placed = pbx.call(number="1001", targets={"sip:101": failing, "sip:102": failing})
    assert placed.result.bridges[0].result == cause
    assert placed.path == [("d", EXPECTED[cause]), ("s", EXPECTED[cause]), ("bye", "hangup")]


def test_real_causes_cover_the_ones_the_issue_names() -> None:
    named = {"NO_ANSWER", "USER_BUSY", "CALL_REJECTED", "NO_USER_RESPONSE", "UNALLOCATED_NUMBER",
             "USER_NOT_REGISTERED", "SUBSCRIBER_ABSENT", "NORMAL_TEMPORARY_FAILURE", "ORIGINATOR_CANCEL"}
    assert named <= set(REAL_CAUSES)


def test_a_failed_bridge_after_an_answered_one_is_not_read_as_answered(pbx: Harness) -> None:
    # bridge_hangup_cause / last_bridge_hangup_cause keep the first bridge's values (trace 04);
    # originate_disposition is this bridge's (and we unset it before each bridge).
    placed = pbx.call(number="1009", targets={"sip:101": Target("answered", talk=2), "sip:102": Target("busy")})
    assert placed.path == [("d1", "answered"), ("d2", "busy"), ("s", "busy"), ("bye", "hangup")]
    assert placed.result.variables.get("bridge_hangup_cause") == "NORMAL_CLEARING"  # stale, as in FreeSWITCH
    multisets = [a.arg for a in placed.result.apps if a.name == "multiset" and "continue_on_fail" in (a.arg or "")]
    assert len(multisets) == 2
    assert all("originate_disposition= DIALSTATUS=" in m for m in multisets)


# ---- the real FreeSWITCH trace ------------------------------------------------------------------

#: Bridges of trace 04 in order, and what a scenario must see for each.
TRACE_04 = [
    ("loopback/answer/esltest", "answered", "SUCCESS"),
    ("user/1000@127.0.0.1", "failed", "USER_NOT_REGISTERED"),
    ("user/nosuchuser@127.0.0.1", "failed", "SUBSCRIBER_ABSENT"),
    ("error/user_busy", "busy", "USER_BUSY"),
    ("loopback/busy/esltest", "busy", "USER_BUSY"),
    ("{originate_timeout=3}loopback/noanswer/esltest", "no_answer", "NO_ANSWER"),
    ("sofia/internal/nobody@127.0.0.1:5080", "failed", "NORMAL_CLEARING"),
    ("loopback/answer/esltest", "answered", "SUCCESS"),
]


def bridge_completions(traces_dir: Path) -> list[Event]:
    out = []
    for line in (traces_dir / "04-bridge.jsonl").read_text().splitlines()[1:]:
        rec = json.loads(line)
        if rec.get("dir") != "recv" or not rec["conn"].startswith("outbound"):
            continue
        raw = rec["data"].encode("latin-1")
        head, _, body = raw.partition(b"\n\n")
        if b"text/event-plain" not in head:
            continue
        event = Event.from_plain(body)
        if event.get("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" and event.get("Application") == "bridge":
            out.append(event)
    return out


def test_trace_04_bridges_classify_as_real_freeswitch_meant(traces_dir: Path) -> None:
    events = bridge_completions(traces_dir)
    assert [e.get("Application-Data") for e in events] == [t[0] for t in TRACE_04]
    assert [classify_event(e) for e in events] == [(t[1], t[2]) for t in TRACE_04]
    # The trap the table avoids: after the first bridge, bridge_hangup_cause says NORMAL_CLEARING
    # for every failed bridge.
    assert {e.variable("bridge_hangup_cause") for e in events[1:7]} == {"NORMAL_CLEARING"}
