"""Callbacks end to end over real sockets: a real fsivr server (the test harness's App), the worker
with its callback sender on a live inbound link, and the simulator's InboundSwitch as FreeSWITCH
(``bgapi originate`` placing the answered leg into the server through ``&socket``).

Nothing waits on the wall clock: the worker's clock is a variable the test moves, and the server's
calls run on the simulator's switch clock (``Simulator(epoch=...)``), which ``call.now()`` follows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import gevent
import pytest
from sqlalchemy import event, select
from switchrig import Clock, switched

from fsivr.engine.callbacks import Callbacks, _tail, callback_key, caller_prefix
from fsivr.esl.link import EventLink
from fsivr.store.db import Store
from fsivr.store.models import CallAttempt, CallRow, OutboxRow
from fsivr.store.phone import caller_spellings
from fsivr.testing import Simulator
from fsivr.testing.harness import Harness, running
from fsivr.testing.inbound import InboundSwitch
from fsivr.worker.callback import CallbackSender
from fsivr.worker.loop import Worker, WorkerSettings

ACCESS = "+48221234500"   # the company's access number for employees
SHOP = "+48221234567"     # the company's public number (a caller who is served)
EMPLOYEE = "+48600100101"
CUSTOMER = "+48501000001"

BUNDLE = f"""
gateways:
  - {{name: trunk, proxy: sip.operator.example, register: false, caller_id: "{SHOP}"}}
prompts:
  - {{name: hello, text: "Hello.", language: en}}
  - {{name: dial_now, text: "Dial the number and press hash.", language: en}}
scenarios:
  - scenario: access
    description: call me back through the company - an employee's call is rejected unanswered
    numbers: ["{ACCESS}"]
    start: known
    nodes:
      known: {{type: authorize, caller_ids: ["{EMPLOYEE}"], ok: register, denied: reject}}
      register:
        type: callback
        scenario: company_line
        allowed_hours: "08:00-20:00"
        timezone: Europe/Warsaw
        attempts: 2
        spacing: 60
        caller_id: "{SHOP}"
        next: reject
      reject: {{type: hangup, cause: CALL_REJECTED}}
  - scenario: company_line
    description: the line the employee is called back on - key in a number, get connected
    start: line
    nodes:
      line: {{type: forward, prompt: dial_now, caller_id: "{SHOP}", answered: done, no_answer: done,
              busy: done, failed: done, invalid: done}}
      done: {{type: hangup}}
  - scenario: missed
    description: the public number - leave a callback request, or (after hours) be served
    numbers: ["{SHOP}"]
    start: ask
    nodes:
      ask:
        type: callback
        scenario: greet
        delay: 300
        allowed_hours: "09:00-18:00"
        timezone: Europe/Warsaw
        attempts: 3
        spacing: 600
        next: bye
      bye: {{type: hangup, cause: NORMAL_CLEARING}}
  - scenario: served
    description: another number that answers and plays - a caller reaching it is served
    numbers: ["+48221234599"]
    start: hi
    nodes:
      hi: {{type: play, prompt: hello, next: end}}
      end: {{type: hangup}}
  - scenario: greet
    start: hi
    nodes:
      hi: {{type: play, prompt: hello, next: end}}
      end: {{type: hangup}}
"""


@dataclass
class Rig:
    h: Harness
    sim: Simulator
    switch: InboundSwitch
    link: EventLink
    clock: Clock
    worker: Worker

    def call_in(self, number: str, caller: str) -> None:
        """A call placed by the simulator on its switch clock (the server's call.now())."""
        # At the test's clock: a call at the real time would fall within the allowed hours on
        # some days and not on others.
        self.h.call(number=number, caller=caller, at=self.clock.at)

    def rows(self) -> list[OutboxRow]:
        with self.h.store.session() as s:
            found = list(s.execute(select(OutboxRow).where(OutboxRow.kind == "callback")
                                   .order_by(OutboxRow.id)).scalars())
            s.expunge_all()
        return found

    def attempts(self) -> list[CallAttempt]:
        with self.h.store.session() as s:
            found = list(s.execute(select(CallAttempt).order_by(CallAttempt.id)).scalars())
            s.expunge_all()
        return found

    def work(self) -> bool:
        busy = self.worker.run_once()
        # A placed call runs in the server; wait for it and its record (real sockets, no sleeps).
        for handle in list(self.sim.originated.values()):
            handle.wait(10.0)
        assert self.h.app.runner.idle.wait(10.0)
        assert self.h.app.records.flush(10.0)
        return busy

    def wait_for(self, check: object, timeout: float = 5.0) -> None:
        deadline = gevent.get_hub().loop.now() + timeout
        while not check():  # type: ignore[operator]
            assert gevent.get_hub().loop.now() < deadline, "condition not met in time"
            gevent.sleep(0.01)

    def originates(self) -> int:
        return sum(1 for _, line in self.switch.received if line.startswith("bgapi originate"))


#: 05:00 UTC = 06:00 in Warsaw (winter time): before every allowed window.
EPOCH = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)


@pytest.fixture
def rig(db_url: str) -> Iterator[Rig]:
    with running(BUNDLE, database_url=db_url) as h, switched(h, EPOCH) as sw:
        sender = CallbackSender(h.store, sw.link, endpoint="sofia/gateway/trunk/{number}",
                                socket_address=sw.socket_address, originate_timeout=30, link_wait=5.0,
                                clock=sw.clock)
        sw.connect()
        worker = Worker(h.store, {"callback": sender}, WorkerSettings(lease_seconds=120, poll_interval=0.05),
                        clock=sw.clock, name="test-worker")
        yield Rig(h, sw.sim, sw.switch, sw.link, sw.clock, worker)


def test_missed_call_callback_waits_for_allowed_hours_then_retries_and_records_each_attempt(rig: Rig) -> None:
    rig.call_in(SHOP, CUSTOMER)
    [row] = rig.rows()
    # 06:00 Warsaw + 300 s delay is before 09:00: due at 09:00 Warsaw = 08:00 UTC.
    assert row.state == "pending" and row.next_attempt_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert row.payload["scenario"] == "greet" and row.payload["number"] == CUSTOMER

    rig.clock.at = datetime(2026, 12, 1, 7, 59, tzinfo=UTC)
    assert not rig.work() and rig.originates() == 0

    # 09:00: the customer's line is busy — FreeSWITCH's BACKGROUND_JOB says -ERR USER_BUSY.
    rig.clock.at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    rig.sim.originate_outcomes[CUSTOMER] = "USER_BUSY"
    assert rig.work()
    [first] = rig.attempts()
    assert (first.attempt, first.state, first.reply, first.hangup_cause) == (1, "failed", "-ERR USER_BUSY", "USER_BUSY")
    [row] = rig.rows()
    assert row.state == "pending" and row.next_attempt_at == datetime(2026, 12, 1, 8, 10, tzinfo=UTC)
    assert "USER_BUSY" in (row.last_error or "")

    rig.clock.at = datetime(2026, 12, 1, 8, 9, tzinfo=UTC)
    assert not rig.work()
    # 09:10: answered; the server runs the job's scenario (greet), not the dialled number's.
    del rig.sim.originate_outcomes[CUSTOMER]
    rig.clock.at = datetime(2026, 12, 1, 8, 10, tzinfo=UTC)
    assert rig.work()
    second = rig.attempts()[1]
    assert second.attempt == 2 and second.state == "answered" and second.reply == f"+OK {second.call_uuid}"
    with rig.h.store.session() as s:
        record = s.execute(select(CallRow).where(CallRow.uuid == second.call_uuid)).scalars().first()
        assert record is not None and record.scenario == "greet"
    rig.wait_for(lambda: rig.attempts()[1].hangup_cause is not None)
    assert rig.attempts()[1].hangup_cause == "NORMAL_CLEARING"
    assert rig.rows()[0].state == "sent"
    assert rig.originates() == 2


def test_retry_spacing_that_leaves_the_window_waits_for_the_next_day_and_attempts_run_out(rig: Rig) -> None:
    rig.call_in(SHOP, CUSTOMER)
    rig.sim.originate_outcomes[CUSTOMER] = "NO_ANSWER"
    # 17:55 Warsaw: inside; +600 s spacing is 18:05, outside: the retry waits for 09:00 next day.
    rig.clock.at = datetime(2026, 12, 1, 16, 55, tzinfo=UTC)
    assert rig.work()
    assert rig.rows()[0].next_attempt_at == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    # A claim outside the window dials nothing and costs no attempt.
    rig.clock.at = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    with rig.h.store.session() as s:  # as if an operator made it due at night (outbox retry)
        s.get(OutboxRow, rig.rows()[0].id).next_attempt_at = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # type: ignore[union-attr]
    rig.clock.at = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    assert rig.work() and rig.originates() == 1
    row = rig.rows()[0]
    assert row.attempts == 1 and row.next_attempt_at == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    for hour_utc in (8, 8):
        rig.clock.at = rig.rows()[0].next_attempt_at
        assert rig.work(), hour_utc
    assert [a.hangup_cause for a in rig.attempts()] == ["NO_ANSWER"] * 3
    row = rig.rows()[0]
    assert row.state == "dead" and "attempt 3 of 3: NO_ANSWER" in (row.last_error or "")
    rig.clock.at += timedelta(days=1)
    assert not rig.work() and rig.originates() == 3


@pytest.mark.parametrize("report_delay", [None, 0.2], ids=["leg-end-first", "job-first"])
def test_a_failed_attempts_own_hangup_leaves_it_recorded_once(rig: Rig, report_delay: float | None) -> None:
    """FreeSWITCH made the leg before it rang (switch_ivr_originate.c), so a busy attempt's leg
    reports CHANNEL_HANGUP_COMPLETE (fsivr_job_kind=callback) too, before or just after the
    ``-ERR USER_BUSY`` BACKGROUND_JOB (fsivr.testing.legs). The attempt is written once: failed, with
    originate's cause, its end the first one that came - a leg's end read later (the worker's clock
    moved meanwhile) does not move it."""
    rig.sim.leg_report_delay = report_delay
    ends: list[str] = []
    # after the sender's own listener: when this one has the event, the sender has taken it
    rig.link.add_listener(lambda e: ends.append(e.get("Unique-ID") or "")
                          if e.name == "CHANNEL_HANGUP_COMPLETE" else None)
    rig.call_in(SHOP, CUSTOMER)
    rig.sim.originate_outcomes[CUSTOMER] = "USER_BUSY"
    rig.clock.at = failed_at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert rig.work()
    rig.clock.at += timedelta(minutes=5)
    [first] = rig.attempts()
    rig.wait_for(lambda: first.call_uuid in ends)
    gevent.sleep(0.1)  # the sender's write of it, in its own greenlet
    [first] = rig.attempts()
    assert (first.state, first.reply, first.hangup_cause, first.ended_at) == (
        "failed", "-ERR USER_BUSY", "USER_BUSY", failed_at)
    [row] = rig.rows()
    assert row.attempts == 1 and row.state == "pending" and "USER_BUSY" in (row.last_error or "")
    assert [n for u, n in rig.sim.leg_events if u == first.call_uuid] == [
        "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"]


def test_a_caller_served_by_a_new_call_has_their_callback_cancelled(rig: Rig) -> None:
    rig.call_in(SHOP, CUSTOMER)
    # Calling the public number again is not being served (it is hung up): that registers another.
    rig.call_in(SHOP, CUSTOMER)
    assert [r.state for r in rig.rows()] == ["pending", "pending"]
    # Answered and played to: served. The number spelled another way is still the same caller.
    rig.call_in("+48221234599", "0048" + CUSTOMER[3:])
    assert [r.state for r in rig.rows()] == ["dead", "dead"]
    assert all("called again and was served" in (r.last_error or "") for r in rig.rows())
    rig.clock.at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert not rig.work() and rig.originates() == 0


def test_a_callback_another_server_registered_is_cancelled_and_other_callers_cost_no_write(rig: Rig) -> None:
    """Each server reads the callers with a waiting callback every reload_interval (an answered call
    asking the database each time doubled its CPU per call); a caller in that list is cancelled as
    before, and a call from anyone else writes nothing to the outbox."""
    callbacks = rig.h.app.services.callbacks
    assert callbacks is not None
    writes: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
            writes.append(statement)

    engine = rig.h.app.store.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        rig.call_in("+48221234599", "+48501999888")  # answered, served; no callback anywhere
        assert writes == []
        # Another fsivr serve on the same database registers one (its own Callbacks).
        other = Callbacks(rig.h.store)
        other.register(callback_key(CUSTOMER, "a0a0a0a0-0000-4000-8000-000000000001", "cb"),
                       {"number": CUSTOMER, "scenario": "callback"}, rig.clock.at, rig.clock.at,
                       "a0a0a0a0-0000-4000-8000-000000000001")
        rig.wait_for(lambda: callbacks.may_wait(CUSTOMER), timeout=rig.h.app.config.reload_interval + 5)
        rig.call_in("+48221234599", CUSTOMER)
        assert [r.state for r in rig.rows()] == ["dead"]
        assert "called again and was served" in (rig.rows()[0].last_error or "")
        assert len(writes) == 1
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_senders_database_writes_wait_off_the_hub(rig: Rig) -> None:
    """The callback sender writes from the worker's hub (its attempts, a leg's end from the live
    link): a write that has to wait for the database (another connection holds the lock) waits on
    the threadpool, and the hub - the dialler, the link - runs meanwhile."""
    sender = rig.worker.senders["callback"]
    url = rig.h.store.url
    blocker = Store(url.render_as_string(hide_password=False))
    try:
        with blocker.engine.connect() as conn:
            if url.get_backend_name() == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("LOCK TABLE call_attempts IN ACCESS EXCLUSIVE MODE")
            ticks: list[float] = []

            def ticker() -> None:
                while True:
                    ticks.append(gevent.get_hub().loop.now())
                    gevent.sleep(0.01)

            tick = gevent.spawn(ticker)
            write = gevent.spawn(sender._set, "a0a0a0a0-0000-4000-8000-0000000000ff", state="failed")
            gevent.sleep(0.3)
            assert not write.ready()  # waiting for the lock...
            assert len(ticks) >= 3  # ...while the hub ran the other greenlet (a blocked hub: one tick)
            conn.rollback()
        write.get(timeout=10)
        tick.kill()
    finally:
        blocker.close()


@pytest.mark.parametrize("number", ["+48501234567", "+48221234567", "+442079460958", "+78123456789", "101",
                                    "anonymous"])
def test_every_spelling_of_a_caller_passes_the_cheap_check_its_callback_key_would(number: str) -> None:
    """An answered call compares its caller's last digits with the waiting callbacks' before it
    parses the number: every spelling a trunk may send must pass where the key would match."""
    key_number = caller_prefix(number).split(":")[1]
    for spelling in caller_spellings(number):
        assert _tail(spelling) == _tail(key_number), spelling


def test_through_the_company_employee_is_rejected_unanswered_called_back_and_dials_out(rig: Rig) -> None:
    rig.clock.at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 Warsaw
    rig.sim.advance(4 * 3600)
    placed = rig.h.call(number=ACCESS, caller=EMPLOYEE, at=rig.clock.at)
    # Hung up before any answer: the employee's call costs nothing; CALL_REJECTED (603 Decline on
    # SIP) says it was refused on purpose, so no carrier retries it on another route.
    assert placed.result.hangup_cause == "CALL_REJECTED"
    assert "answer" not in [app.name for app in placed.result.apps]
    with rig.h.store.session() as s:
        first = s.execute(select(CallRow).where(CallRow.uuid == placed.result.uuid)).scalars().first()
        assert first is not None and first.answered_at is None and first.hangup_cause == "CALL_REJECTED"
    [row] = rig.rows()
    assert row.payload["caller_id"] == SHOP
    # Registered on the switch's clock (09:00 UTC, inside 08:00-20:00 Warsaw, no delay): due as soon
    # as the call ran, which took the server a moment — the worker looks a minute later.
    assert EPOCH + timedelta(hours=4) <= row.next_attempt_at < EPOCH + timedelta(hours=4, seconds=30)
    rig.clock.at = datetime(2026, 12, 1, 9, 1, tzinfo=UTC)
    # Somebody not on the list is rejected the same way, and gets no callback.
    stranger = rig.h.call(number=ACCESS, caller="+48777000111", at=rig.clock.at)
    assert stranger.result.hangup_cause == "CALL_REJECTED" and len(rig.rows()) == 1
    rig.sim.originate_answers[EMPLOYEE] = {"digits": ["0048221112233#"]}
    rig.clock.at += timedelta(seconds=1)  # the call ran a moment on its own clock
    assert rig.work()
    [attempt] = rig.attempts()
    assert attempt.state == "answered" and attempt.number == EMPLOYEE
    handle = rig.sim.originated[attempt.call_uuid]
    result = handle.wait(10)
    # The employee was called from the company's number, keyed a number, and was connected to it
    # through the company's gateway with the company's caller ID.
    assert handle.session.script.caller == SHOP
    [bridge] = result.bridges
    assert "sofia/gateway/trunk/0048221112233" in bridge.dial_string
    assert f"origination_caller_id_number={SHOP}" in bridge.dial_string
    assert bridge.result == "SUCCESS"
    with rig.h.store.session() as s:
        record = s.execute(select(CallRow).where(CallRow.uuid == attempt.call_uuid)).scalars().first()
        assert record is not None and record.scenario == "company_line"


def test_link_dropped_mid_attempt_is_reconciled_not_placed_twice(rig: Rig) -> None:
    rig.call_in(SHOP, CUSTOMER)
    rig.clock.at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    # The link breaks right after FreeSWITCH took the bgapi: the call is placed, its
    # BACKGROUND_JOB is lost with the connection.
    rig.switch.drop_after_bgapi = "originate"
    connects = rig.link.connects
    assert rig.work()
    assert rig.link.connects > connects
    [attempt] = rig.attempts()
    row = rig.rows()[0]
    if attempt.state == "placing":
        # The call had ended before the link was back, and its record may not have been written
        # yet: the job waits, and the next claim finds the record. Nobody is dialled meanwhile.
        assert row.state == "pending" and "outcome unknown" in (row.last_error or "")
        rig.clock.at = row.next_attempt_at
        assert rig.work()
        [attempt] = rig.attempts()
    assert attempt.state == "answered" and attempt.reply and attempt.reply.startswith("reconciled")
    assert rig.rows()[0].state == "sent"
    assert rig.originates() == 1
    with rig.h.store.session() as s:
        assert s.execute(select(CallRow).where(CallRow.uuid == attempt.call_uuid)).scalars().first() is not None


@pytest.mark.parametrize("value", ["plain", "a,b", "it's", 'say "hi"', "back\\slash", "x=y,z='q'", "tab\\tno"])
def test_originate_variables_arrive_as_written(value: str) -> None:
    """The {} block as FreeSWITCH splits it (switch_event_create_brackets: "," then "=", each with
    switch_separate_string's cleanup; ported in the simulator) gives back exactly the value."""
    from fsivr.testing.expand import separate_char
    from fsivr.worker.originate import brace_vars

    block = brace_vars({"fsivr_job": "callback:+48501000001:u:n", "note": value})
    assert block[0] == "{" and block[-1] == "}"
    items = [separate_char(item, "=", 2) for item in separate_char(block[1:-1], ",", 1024)]
    assert dict((k, v) for k, v in items) == {"fsivr_job": "callback:+48501000001:u:n", "note": value}


@pytest.mark.parametrize("value", ["${system(rm -rf /)}", "a}b", "{x}", "line\nbreak", " padded"])
def test_originate_refuses_what_freeswitch_would_expand_or_mangle(value: str) -> None:
    from fsivr.worker.originate import brace_vars

    with pytest.raises(ValueError):
        brace_vars({"note": value})
