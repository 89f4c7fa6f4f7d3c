"""A caller hanging up while any ringing node rings (or collects keys) leaves a complete record,
and nothing more is executed on the dead channel."""

from __future__ import annotations

import pytest

from fsivr.testing import Hangup, Target
from fsivr.testing.harness import Harness

BUSY = Target("busy")


@pytest.mark.parametrize("number, kwargs, hangup, last", [
    ("1001", {}, Hangup(on_app="bridge", offset=0.5), ("d", "hangup")),
    ("1003", {}, Hangup(on_app="bridge", offset=0.5), ("f", "hangup")),
    ("1010", {}, Hangup(on_app="bridge", offset=0.5), ("g", "hangup")),
    ("1011", {}, Hangup(on_app="bridge", offset=0.5), ("g", "hangup")),
    ("1020", {"digits": ["101"]}, Hangup(on_app="play_and_get_digits", offset=0.5), ("e", "hangup")),
    ("1020", {"digits": ["101"]}, Hangup(on_app="bridge", offset=0.5), ("e", "hangup")),
    ("1040", {"caller": "+48501000001", "registered": {"104": True}}, Hangup(on_app="bridge", offset=0.5),
     ("m", "hangup")),
    # the dial fails (everyone busy), then any_manager rings them again: hang up in that round
    ("1050", {"targets": {t: BUSY for t in ("sip:101", "sip:102", "sip:103")}},
     Hangup(on_app="bridge", occurrence=2, offset=0.5), ("a", "hangup")),
])
def test_caller_hangs_up_while_ringing(pbx: Harness, number: str, kwargs: dict, hangup: Hangup,
                                       last: tuple[str, str]) -> None:
    placed = pbx.call(number=number, hangup=hangup, record=True, **kwargs)
    assert placed.result.hangup_by == "caller"
    assert placed.path[-1] == last
    assert placed.record["hangup_by"] == "caller"
    hung = next(i for i, (d, data) in enumerate(placed.result.wire)
                if d == "recv" and b"Event-Name: CHANNEL_HANGUP\n" in data)
    after = [data.split(b"\n", 1)[0] for d, data in placed.result.wire[hung:] if d == "send"]
    assert all(line in (b"exit", b"") or line.startswith(b"api uuid_kill") for line in after), after


def test_caller_hangs_up_while_it_rings(pbx: Harness) -> None:
    placed = pbx.call(number="1001", targets={"sip:101": Target("no_answer"), "sip:102": Target("no_answer")},
                      hangup=Hangup(on_app="bridge", offset=3.0))
    assert placed.result.hangup_by == "caller"
    assert placed.path == [("d", "hangup")]
    record = placed.record
    assert record["hangup_by"] == "caller" and record["hangup_cause"] == "NORMAL_CLEARING"
    assert record["status"] not in (None, "", "in_progress")
    assert [leg.outcome for leg in placed.result.bridges[0].legs] == ["cancelled", "cancelled"]
    commands = [c.split(b"\n", 1)[0] for c in placed.result.commands]
    assert commands[-1] == b"exit"


def test_caller_hangs_up_during_the_conversation_was_answered(pbx: Harness) -> None:
    placed = pbx.call(number="1001", targets={"sip:101": Target("answered", answer_after=1, talk=60)},
                      hangup=Hangup(after=20.0))
    assert placed.result.hangup_by == "caller"
    assert placed.path == [("d", "answered")]
