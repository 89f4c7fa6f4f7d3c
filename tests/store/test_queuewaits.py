"""The queue's recent history as the estimate reads it, on SQLite and PostgreSQL: answered waits
only, newest first, each with the agent's handling time from its call's record (the call's end
minus the moment the caller left the line); the estimate from waits, handling times or both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fsivr.store import queuewaits
from fsivr.store.callrecords import CallRecord, write_records
from fsivr.store.db import Store

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def ended_call(uuid: str, at: datetime, session: int = 1) -> CallRecord:
    return CallRecord(uuid=uuid, caller="+48501000001", number="2001", scenario="queue", started_at=at,
                      answered_at=at, ended_at=at, hangup_cause="NORMAL_CLEARING", hangup_by="caller",
                      session=session)


def wait(uuid: str, left_at: datetime, waited: int = 60, position: int = 1,
         outcome: str = "answered") -> queuewaits.Wait:
    return queuewaits.Wait("sales", position, waited, outcome, left_at, uuid)


def test_handling_times_come_from_the_calls_that_ended(store: Store) -> None:
    for w in [wait("a", T0), wait("b", T0 + timedelta(minutes=1)), wait("c", T0 + timedelta(minutes=2)),
              wait("gone", T0 + timedelta(minutes=3), outcome="hangup"),
              queuewaits.Wait("support", 1, 60, "answered", T0, "other-queue")]:
        store.run(lambda s, w=w: queuewaits.record(s, w))
    store.run(lambda s: write_records(s, [
        ended_call("a", T0 + timedelta(seconds=200)),
        # a channel that came back for a second session: its last end is the call's end
        ended_call("b", T0 + timedelta(minutes=1, seconds=10)),
        ended_call("b", T0 + timedelta(minutes=1, seconds=300), session=2),
        ended_call("other-queue", T0 + timedelta(seconds=999)),
    ]))  # "c" is still talking: no record ended yet
    history = store.run(lambda s: queuewaits.recent(s, "sales"))
    assert [(w.call_uuid, w.handled) for w in history] == [("c", None), ("b", 300), ("a", 200)]


def test_the_estimate_blends_waits_and_handling_times() -> None:
    # waits: 2 minutes a place; handling: 6 minutes a call
    history = [queuewaits.Wait("q", p, 120 * p, "answered", T0, str(i), 360) for i, p in enumerate([1, 2, 1])]
    assert queuewaits.estimate(history, 2, agents=1) == 2 * (120 + 360) // 2
    # three agents take calls of 6 minutes: a place frees every 2 minutes, as the waits say
    assert queuewaits.estimate(history, 2, agents=3) == 240
    # no handling time known (their calls have not ended): the waits alone
    no_handling = [queuewaits.Wait("q", 1, 120, "answered", T0, str(i)) for i in range(3)]
    assert queuewaits.estimate(no_handling, 3, agents=2) == 360
    # too few handled calls: the waits alone
    two_handled = no_handling[:1] + [queuewaits.Wait("q", 1, 120, "answered", T0, "h", 600)] * 2
    assert queuewaits.estimate(two_handled, 1, agents=1) == 120
    assert queuewaits.estimate(history[:2], 1) is None  # thin
    assert queuewaits.estimate(history, 0) is None
