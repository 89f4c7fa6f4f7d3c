"""last_agent kept from call records as the writer stores them: per caller (in E.164) the target
that answered last; an older record arriving later never replaces a newer answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fsivr.store.callrecords import CallRecord, StepRecord, write_records
from fsivr.store.db import Store
from fsivr.store.tables import last_agent

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def record(uuid: str, caller: str, at: datetime, *rings: tuple[str, str]) -> CallRecord:
    steps = [StepRecord(seq=0, node="d", node_type="dial", outcome=rings[-1][1] if rings else "next",
                        started_at=at, ended_at=at + timedelta(seconds=30),
                        detail={"rings": [{"outcome": o, "cause": "", "target": t, "dial": ""} for t, o in rings]}
                        if rings else None)]
    return CallRecord(uuid=uuid, caller=caller, number="100", scenario="s", started_at=at, answered_at=at,
                      ended_at=at + timedelta(minutes=1), hangup_cause="NORMAL_CLEARING", hangup_by="caller",
                      steps=steps)


def test_the_last_answer_per_caller_is_kept(store: Store) -> None:
    store.run(lambda s: write_records(s, [
        record("a", "+48501000001", T0, ("sip:101", "no_answer"), ("sip:102", "answered")),
        record("b", "0048501000002", T0, ("+48600100200", "answered")),
        record("c", "+48501000003", T0, ("sip:103", "busy")),
        record("d", "anonymous", T0),
    ]))
    got = store.run(lambda s: last_agent(s, "501000001", T0 - timedelta(days=1)))
    assert got is not None and (got["agent"], got["employee"], got["call_uuid"]) == ("sip:102", "102", "a")
    other = store.run(lambda s: last_agent(s, "+48501000002", T0))
    assert other is not None and other["agent"] == "+48600100200" and other["employee"] == ""
    assert store.run(lambda s: last_agent(s, "+48501000003", T0)) is None  # nobody answered
    assert store.run(lambda s: last_agent(s, "+48501000001", T0 + timedelta(seconds=1))) is None  # too old

    # A newer answer replaces it; a record of an older call written afterwards does not.
    store.run(lambda s: write_records(s, [record("e", "+48501000001", T0 + timedelta(days=1),
                                                 ("sip:101", "answered"))]))
    store.run(lambda s: write_records(s, [record("f", "+48501000001", T0 - timedelta(days=1),
                                                 ("sip:104", "answered"))]))
    got = store.run(lambda s: last_agent(s, "+48501000001", T0))
    assert got is not None and (got["agent"], got["call_uuid"]) == ("sip:101", "e")
