"""The campaign dialler over real sockets on SQLite and PostgreSQL, on a clock the test moves: the
dialler (fsivr/worker/campaign.py) on a live inbound link to the simulator's InboundSwitch, the
answered legs running the campaign's scenario in a real server (the test harness's App).

The dialler's clock and the switch's own clock (``Simulator(epoch=...)``, ``advance``) move
together in steps, so the pace is measured exactly on the switch's stamps of the originates.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import gevent
import gevent.event
import pytest
from farends import TcpProxy
from sqlalchemy import select
from sqlalchemy.engine import make_url
from switchrig import Clock, switched

from fsivr.config import Config
from fsivr.esl.link import EventLink
from fsivr.store import campaigns
from fsivr.store.db import Store
from fsivr.store.models import CallAttempt, CallRow, CallStepRow, CampaignEntryRow, CampaignRow
from fsivr.store.types import utcnow
from fsivr.testing import Simulator
from fsivr.testing.harness import Harness, running
from fsivr.testing.inbound import InboundSwitch
from fsivr.testing.script import Hangup
from fsivr.worker.callback import CallbackSender
from fsivr.worker.campaign import Dialler, Settings
from fsivr.worker.queuecallback import QueueCallbackSender

ANNA = "+48501200001"

BUNDLE = f"""
contacts:
  - {{number: "{ANNA}", name: "Anna Nowak"}}
scenarios:
  - scenario: debt
    start: who
    nodes:
      who: {{type: lookup, table: contacts, key: "{{{{ number }}}}", fields: {{name: name}}, found: amount,
             not_found: amount}}
      amount: {{type: say, kind: number, value: "{{{{ amount_owed }}}}", language: en, next: bye}}
      bye: {{type: hangup}}
"""

#: 07:00 UTC = 08:00 in Warsaw: an hour before the campaign's window.
EPOCH = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
STEP = 0.1


@dataclass
class Rig:
    h: Harness
    sim: Simulator
    switch: InboundSwitch
    clock: Clock
    dialler: Dialler

    def step(self, seconds: float = STEP) -> None:
        """Time passes on both clocks; one pass of the dialler; its calls run to their end."""
        self.clock.at += timedelta(seconds=seconds)
        self.sim.advance(seconds)
        self.dialler.tick()
        deadline = gevent.get_hub().loop.now() + 10
        while self.dialler.busy() or any(not h.done() for h in self.sim.originated.values()):
            assert gevent.get_hub().loop.now() < deadline, "calls did not end"
            gevent.sleep(0.005)
        assert self.h.app.runner.idle.wait(10.0)
        assert self.h.app.records.flush(10.0)

    def rows(self) -> list[CampaignEntryRow]:
        with self.h.store.session() as s:
            found = list(s.execute(select(CampaignEntryRow).order_by(CampaignEntryRow.line)).scalars())
            s.expunge_all()
        return found

    def state(self) -> str:
        with self.h.store.session() as s:
            return str(s.execute(select(CampaignRow.state)).scalar_one())


@pytest.fixture
def rig(db_url: str) -> Iterator[Rig]:
    with running(BUNDLE, database_url=db_url, config=Config(say_modules=["en"])) as h, switched(h, EPOCH) as sw:
        dialler = Dialler(h.store, sw.link, "sofia/gateway/trunk/{number}", sw.socket_address, "test-worker",
                          originate_timeout=30, record_grace=5, poll_interval=0.05, clock=sw.clock, alone=True)
        sw.connect()
        yield Rig(h, sw.sim, sw.switch, sw.clock, dialler)


def load(rig: Rig, rows: list[tuple[str, str]], **settings: object) -> None:
    header = ["Phone", "Amount owed"]
    prepared = campaigns.prepare("debts.csv", header, [(i + 2, list(r)) for i, r in enumerate(rows)])
    assert not prepared.bad
    rig.h.store.run(lambda s: campaigns.create(s, "debts", "debt", prepared, Settings(**settings), rig.clock()))  # type: ignore[arg-type]


def test_dials_within_hours_at_the_pace_with_each_rows_columns_and_greets_contacts_by_name(rig: Rig) -> None:
    numbers = [ANNA, *(f"+4850120{i:04d}" for i in range(2, 21))]
    load(rig, [(n, str(100 + i)) for i, n in enumerate(numbers)], pace=2.0, concurrency=3, attempts=1,
         allowed_hours=("09:00-17:00",), timezone="Europe/Warsaw")
    rig.h.store.run(lambda s: campaigns.control(s, "debts", "start", rig.clock()))
    # 08:00 in Warsaw: nobody is called before the window opens.
    for _ in range(5):
        rig.step(60)
    assert rig.sim.originate_log == []
    rig.clock.at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    rig.sim.advance_to(rig.clock.at)
    for _ in range(30):
        rig.step()
    # Paused: calls in progress end, no new ones.
    rig.h.store.run(lambda s: campaigns.control(s, "debts", "pause", rig.clock()))
    placed = len(rig.sim.originate_log)
    assert placed >= 5
    for _ in range(20):
        rig.step()
    assert len(rig.sim.originate_log) == placed
    rig.h.store.run(lambda s: campaigns.control(s, "debts", "resume", rig.clock()))
    for _ in range(200):
        rig.step()
        if rig.state() == "done":
            break
    assert rig.state() == "done"

    # The pace on the switch's own clock: 2 a second at most, in any second.
    stamps = [o.at_us for o in rig.sim.originate_log]
    assert stamps == sorted(stamps) and len(stamps) == len(numbers)
    gaps = [(b - a) / 1e6 for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 0.5 - 1e-6
    assert all(datetime.fromtimestamp(t / 1e6, UTC) >= datetime(2026, 12, 1, 8, 0, tzinfo=UTC) for t in stamps)
    assert rig.sim.originate_peak <= 3

    rows = rig.rows()
    assert [r.result for r in rows] == ["listened"] * len(numbers)
    assert all(r.attempts == 1 and r.duration is not None and r.answered_at is not None for r in rows)
    with rig.h.store.session() as s:
        steps = list(s.execute(select(CallStepRow).order_by(CallStepRow.started_at)).scalars())
    # Each call said its own row's amount; the contact was greeted by name (found in contacts).
    said = sorted(str(st.detail["said"]) for st in steps if st.node == "amount")
    assert said == sorted(f"say en number {100 + i}" for i in range(len(numbers)))
    found = [st for st in steps if st.node == "who" and st.outcome == "found"]
    assert len(found) == 1


def test_retries_per_settings_and_a_callee_hanging_up_is_answered_not_listened(rig: Rig) -> None:
    busy, gone, rejected = "+48501300001", "+48501300002", "+48501300003"
    rig.sim.originate_outcomes[busy] = ["USER_BUSY", "NO_ANSWER", "USER_BUSY"]
    rig.sim.originate_outcomes[rejected] = "CALL_REJECTED"
    rig.sim.originate_answers[gone] = {"hangup": Hangup(on_app="say")}
    load(rig, [(busy, "1"), (gone, "2"), (rejected, "3")], pace=10.0, concurrency=5, attempts=3,
         retry_on=("busy", "no_answer"), spacing=60)
    rig.h.store.run(lambda s: campaigns.control(s, "debts", "start", rig.clock()))
    rig.step()
    first = rig.clock.at
    for _ in range(4):  # one new call each 0.1 s at 10 a second
        rig.step()
    rows = {r.number: r for r in rig.rows()}
    assert rows[busy].state == "pending" and rows[busy].result == "busy" and rows[busy].attempts == 1
    assert rows[busy].next_attempt_at == first + timedelta(seconds=60)
    assert rows[gone].result == "answered" and rows[gone].state == "done"
    # failed is not in retry_on: done after one attempt.
    assert rows[rejected].result == "failed" and rows[rejected].state == "done"
    assert rows[rejected].hangup_cause == "CALL_REJECTED"
    for _ in range(3):
        rig.step(30)
        rig.step(30)
    rows = {r.number: r for r in rig.rows()}
    assert rows[busy].attempts == 3 and rows[busy].result == "busy" and rows[busy].state == "done"
    assert rig.state() == "done"
    calls = [o.number for o in rig.sim.originate_log]
    assert calls.count(busy) == 3 and calls.count(gone) == 1 and calls.count(rejected) == 1


@pytest.mark.parametrize("report_delay", [None, 0.05], ids=["leg-end-first", "job-first"])
def test_failed_attempts_are_recorded_once_though_their_legs_report_their_end(rig: Rig,
                                                                             report_delay: float | None) -> None:
    """A busy or unanswered attempt's leg existed (switch_ivr_originate.c made it before it rang): its
    CHANNEL_HANGUP_COMPLETE (fsivr_job_kind=campaign) reaches the dialler as well as the ``-ERR``
    BACKGROUND_JOB, in either order (fsivr.testing.legs). Each attempt is one row, failed with
    originate's cause, ended when it failed; each row is retried by its own count and no call is
    left in flight."""
    rig.sim.leg_report_delay = report_delay
    ends: list[str] = []
    # after the dialler's own listener: when this one has the event, the dialler has noted it
    rig.dialler.link.add_listener(lambda e: ends.append(e.get("Unique-ID") or "")
                                  if e.name == "CHANNEL_HANGUP_COMPLETE" else None)
    busy, silent = "+48501350001", "+48501350002"
    rig.sim.originate_outcomes[busy] = "USER_BUSY"
    rig.sim.originate_outcomes[silent] = "NO_ANSWER"
    load(rig, [(busy, "1"), (silent, "2")], pace=10.0, concurrency=1, attempts=2, retry_on=("busy", "no_answer"),
         spacing=60)
    rig.h.store.run(lambda s: campaigns.control(s, "debts", "start", rig.clock()))
    for _ in range(3):
        rig.step()
    rig.step(60)
    for _ in range(5):
        rig.step()
    deadline = gevent.get_hub().loop.now() + 5
    while len(ends) < 4:
        assert gevent.get_hub().loop.now() < deadline, rig.sim.leg_events
        gevent.sleep(0.01)
    rig.step(60)  # a pass, a minute later, writes the hangups the dialler noted since
    assert rig.state() == "done"
    with rig.h.store.session() as s:
        attempts = list(s.execute(select(CallAttempt).order_by(CallAttempt.id)).scalars())
        s.expunge_all()
    assert [(a.number, a.attempt, a.state, a.hangup_cause) for a in attempts] == [
        (busy, 1, "failed", "USER_BUSY"), (silent, 1, "failed", "NO_ANSWER"),
        (busy, 2, "failed", "USER_BUSY"), (silent, 2, "failed", "NO_ANSWER")]
    assert all(a.ended_at == a.started_at for a in attempts)  # at the -ERR, on the dialler's clock
    assert len(rig.sim.originate_log) == 4 and rig.sim.originate_live == 0
    assert ends == [a.call_uuid for a in attempts]
    rows = {r.number: r for r in rig.rows()}
    assert (rows[busy].attempts, rows[busy].result, rows[busy].state) == (2, "busy", "done")
    assert (rows[silent].attempts, rows[silent].result, rows[silent].state) == (2, "no_answer", "done")


def test_the_callback_senders_on_the_same_link_leave_campaign_legs_alone(rig: Rig) -> None:
    """``fsivr worker`` runs the callback senders on the dialler's link (senders.callback_senders):
    every CHANNEL_HANGUP_COMPLETE reaches all of them. Each must take only the legs it placed. A
    queue callback sender that took a campaign leg for its own wrote its end (on the wall clock)
    onto the call's record before the server did, and the dialler then settled a listened call as
    answered, reading a record still in progress (the SIGKILL campaign test's 'answered' rows)."""
    # Each listens on the link from here on (the link holds their listeners).
    CallbackSender(rig.h.store, rig.dialler.link, endpoint="sofia/gateway/trunk/{number}",
                   socket_address="127.0.0.1:1", originate_timeout=30)
    QueueCallbackSender(rig.h.store, rig.dialler.link, endpoint="sofia/gateway/trunk/{number}",
                        hold_endpoint="loopback/fsivr_queue_hold/fsivr_hold", originate_timeout=30)
    gevent.sleep(0.2)  # their subscriptions (the link is up already) reach the switch
    listener, gone = "+48501400001", "+48501400002"
    rig.sim.originate_answers[gone] = {"hangup": Hangup(on_app="say")}
    load(rig, [(listener, "7"), (gone, "8")], pace=10.0, concurrency=5, attempts=1)
    rig.h.store.run(lambda s: campaigns.control(s, "debts", "start", rig.clock()))
    for _ in range(5):
        rig.step()
    assert rig.h.app.records.flush(10.0)
    rig.step()
    with rig.h.store.session() as s:
        ended = {a.number: a.ended_at for a in s.execute(select(CallAttempt)).scalars()}
        records = {r.number: r for r in s.execute(select(CallRow)).scalars()}
    # Each attempt's end is the dialler's note on its own clock, not another sender's wall clock.
    assert set(ended) == {listener, gone}
    assert all(at is not None and EPOCH <= at <= rig.clock.at for at in ended.values()), ended
    assert records[listener].hangup_by == "server" and records[gone].hangup_by == "caller"
    assert {r.number: r.result for r in rig.rows()} == {listener: "listened", gone: "answered"}


@pytest.mark.postgres
def test_a_database_outage_is_one_line_and_the_campaign_goes_on(pg_database: str,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """The dialler reaches PostgreSQL through a proxy the test cuts: nothing is dialled meanwhile,
    the outage is said once (not once a pass), and the campaign finishes once it is back."""
    url = make_url(pg_database)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.up()
    with running(BUNDLE, database_url=pg_database, config=Config(say_modules=["en"])) as h, \
            InboundSwitch(sim=h.simulator) as switch:
        proxied = Store(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
        link = EventLink(*switch.address, "ClueCon", timeout=5.0, min_backoff=0.05, max_backoff=0.2)
        host, port = h.app.server.address[:2]
        dialler = Dialler(proxied, link, "sofia/gateway/trunk/{number}", f"{host}:{port}", "test-worker",
                          originate_timeout=30, record_grace=5, poll_interval=0.05, alone=True)
        link.start()
        assert link.wait_connected(5.0)
        prepared = campaigns.prepare("d.csv", ["Phone", "Amount owed"],
                                     [(i + 2, [f"+4850140{i:04d}", "7"]) for i in range(6)])
        h.store.run(lambda s: campaigns.create(s, "debts", "debt", prepared, Settings(pace=50, concurrency=2),
                                               utcnow()))
        h.store.run(lambda s: campaigns.control(s, "debts", "start", utcnow()))
        proxy.down()
        stop = gevent.event.Event()
        runner = gevent.spawn(dialler.run, stop.is_set)
        try:
            deadline = gevent.get_hub().loop.now() + 30
            while "the database is unreachable" not in caplog.text:
                assert gevent.get_hub().loop.now() < deadline, "the outage was not noticed"
                gevent.sleep(0.05)
            gevent.sleep(0.5)  # several passes meanwhile
            assert h.simulator.originate_log == []
            proxy.up()

            def state() -> str:
                with h.store.session() as s:
                    return str(s.execute(select(CampaignRow.state)).scalar_one())

            deadline = gevent.get_hub().loop.now() + 60
            while state() != "done":
                assert gevent.get_hub().loop.now() < deadline, caplog.text[-3000:]
                gevent.sleep(0.05)
        finally:
            stop.set()
            runner.join(30)
            link.stop()
            proxied.close()
            proxy.down()
        assert caplog.text.count("the database is unreachable") == 1
        assert "the database is reachable again" in caplog.text
        assert len(h.simulator.originate_log) == 6
        rows = _rows(h)
        assert [r.result for r in rows] == ["listened"] * 6 and all(r.attempts == 1 for r in rows)


def _rows(h: Harness) -> list[CampaignEntryRow]:
    with h.store.session() as s:
        found = list(s.execute(select(CampaignEntryRow).order_by(CampaignEntryRow.line)).scalars())
        s.expunge_all()
    return found
