"""The worker's campaign dialler: calls the rows of running campaigns with a pace and a concurrency
limit, within the campaign's hours, and records what each call came to.

Each pass (``tick``):

1. *claim*: per running campaign, in one transaction holding the campaign's row lock (so several
   workers share one pace and one limit), as many due rows as the limit (rows ``calling``) and
   the pacer (``next_slot_at``: one slot every 1/pace s, never banked while idle) allow. Each
   claimed row gets its ``call_attempts`` row (``placing``, keyed ``campaign:<c>:<row>``, the
   attempt's number, the call's uuid) in that same transaction — written before anything is
   sent, so a worker killed at any point leaves the attempt to be reconciled, never re-sent;
2. *place*: one greenlet per call sends ``bgapi originate`` over the live link; FreeSWITCH's
   BACKGROUND_JOB (after the far end answered or failed: mod_commands.c originate_function) is
   recorded: ``-ERR USER_BUSY`` → busy, ``NO_ANSWER``/``NO_USER_RESPONSE`` → no_answer, any other
   cause → failed, each tried again per the campaign's ``retry_on``/``attempts``/``spacing``;
   ``+OK`` → the call runs the scenario in ``fsivr serve``;
3. *settle*: an answered call is done once its call record is closed: ``listened`` when the
   scenario ended it, ``answered`` when the callee hung up first (or a step failed); the row takes
   the call's answer time, end time and duration from the record;
4. *reconcile*: an attempt still ``placing`` that no greenlet of this process waits for (the
   worker that sent it died, or the link dropped and took the BACKGROUND_JOB) is looked up by its
   uuid: while FreeSWITCH has the channel (ringing or talking) it waits; a call record means it was
   answered; with neither once it could no longer have rung (originate_timeout) nor left a record
   (outbound_record_grace), it was not answered — the attempt is ``unknown`` and counts as failed.

All database work runs on gevent's threadpool: the link's reader keeps reading events meanwhile.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import gevent
from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from fsivr.engine.hours import AllowedHours
from fsivr.esl.frames import Event
from fsivr.esl.link import EventLink, LinkError
from fsivr.store.callrecords import IN_PROGRESS
from fsivr.store.campaigns import RETRYABLE
from fsivr.store.db import Store
from fsivr.store.models import CallAttempt, CallRow, CallStepRow, CampaignEntryRow, CampaignRow
from fsivr.store.outage import UNREACHABLE, OutageLog
from fsivr.store.types import utcnow
from fsivr.worker.originate import JOB_KIND, end_unless_ended, endpoint_for, originate_command, placed_by

log = logging.getLogger("fsivr.worker.campaign")

PREFIX = "campaign:"
#: What this dialler's legs carry in JOB_KIND.
KIND = "campaign"
#: Hangup causes of a failed originate that mean the callee did not pick up (switch_types.h).
NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT"})
BUSY_CAUSES = frozenset({"USER_BUSY"})
#: Seconds of slots a late pass may make up for (a tick delayed by the database, say).
CATCH_UP = 0.5
#: Seconds between settle passes (each reads the answered calls' records).
SETTLE_EVERY = 0.25
#: Seconds between reconcile passes (each asks FreeSWITCH about every attempt nobody waits for).
RECONCILE_EVERY = 1.0
#: Most rows claimed per campaign per pass (the rest next pass): one short transaction each.
CLAIM_BATCH = 50


def job_key(campaign_id: int, row_id: int) -> str:
    return f"{PREFIX}{campaign_id}:{row_id}"


def parse_key(key: str) -> tuple[int, int] | None:
    if not key.startswith(PREFIX):
        return None
    try:
        c, r = key[len(PREFIX):].split(":")
        return int(c), int(r)
    except ValueError:
        return None


def result_of(cause: str) -> str:
    if cause in BUSY_CAUSES:
        return "busy"
    if cause in NO_ANSWER_CAUSES:
        return "no_answer"
    return "failed"


@dataclass(frozen=True)
class Settings:
    """How a campaign dials; checked when it is loaded, not at the first call."""

    pace: float = 1.0
    concurrency: int = 10
    attempts: int = 3
    retry_on: tuple[str, ...] = RETRYABLE
    spacing: float = 600.0
    allowed_hours: tuple[str, ...] = ()
    timezone: str = "UTC"
    caller_id: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.pace <= 1000:
            raise ValueError(f"pace {self.pace:g}: new calls per second must be above 0 and at most 1000")
        if not 1 <= self.concurrency <= 10000:
            raise ValueError(f"concurrency {self.concurrency}: calls at once must be 1 to 10000")
        if not 1 <= self.attempts <= 20:
            raise ValueError(f"attempts {self.attempts}: calls per row must be 1 to 20")
        bad = [r for r in self.retry_on if r not in RETRYABLE]
        if bad:
            raise ValueError(f"retry on {', '.join(bad)}: only {', '.join(RETRYABLE)} can be tried again")
        if self.spacing < 0:
            raise ValueError("spacing between attempts must not be negative")
        AllowedHours.parse(list(self.allowed_hours), self.timezone)  # ValueError naming the window or zone
        if self.caller_id is not None and not all(c.isdigit() for c in self.caller_id.removeprefix("+")):
            raise ValueError(f"caller ID {self.caller_id!r}: digits with an optional leading +")


@dataclass(frozen=True)
class Placed:
    """One claimed row's attempt, to be sent."""

    campaign_id: int
    row_id: int
    attempt: int
    number: str
    call_uuid: str
    scenario: str
    caller_id: str | None

    @property
    def key(self) -> str:
        return job_key(self.campaign_id, self.row_id)


@dataclass
class Dialler:
    store: Store
    link: EventLink
    endpoint: str
    socket_address: str
    name: str
    originate_timeout: float = 30.0
    record_grace: float = 30.0
    poll_interval: float = 1.0
    clock: Callable[[], datetime] = utcnow
    #: True when no other worker can be alive (SQLite under the single-worker lock): a ``placing``
    #: attempt this process does not wait for is a dead worker's and is reconciled at once.
    alone: bool = False
    #: call uuid → the greenlet waiting for its BACKGROUND_JOB.
    _waiting: dict[str, gevent.Greenlet] = field(default_factory=dict)
    _hangups: list[tuple[str, str, datetime]] = field(default_factory=list)
    _reconciled_at: datetime | None = None
    _settled_at: datetime | None = None

    def __post_init__(self) -> None:
        self.link.subscribe("BACKGROUND_JOB", "CHANNEL_HANGUP_COMPLETE")
        self.link.add_listener(self._on_event)

    def _on_event(self, event: Event) -> None:
        """A campaign call ended: noted here, written by the next pass (the link's reader must not
        wait on the database)."""
        if event.name != "CHANNEL_HANGUP_COMPLETE":
            return
        if not placed_by(event, KIND):
            return
        self._hangups.append((event.get("Unique-ID") or "", event.get("Hangup-Cause") or "", self.clock()))

    # --- the loop ---------------------------------------------------------------------------------

    def run(self, stopping: Callable[[], bool]) -> None:
        """Until ``stopping()``: a pass, then a wait until the next slot is due (``poll_interval`` at most)."""
        outage = OutageLog(self.store.url, log, "campaign calls wait")
        while not stopping():
            try:
                wait = self.tick()
            except UNREACHABLE as exc:
                # Calls in progress go on; what they came to is read once the database is back.
                outage.failed(exc)
                wait = self.poll_interval
            except Exception:  # a bug: said with its traceback, and the next pass tries again
                log.exception("campaign dialler: the pass failed")
                wait = max(self.poll_interval, 1.0)
            else:
                outage.succeeded()
            gevent.sleep(max(0.005, min(wait, self.poll_interval)))
        # SIGTERM: the originates sent get their answer recorded (at most their ring time).
        gevent.joinall(list(self._waiting.values()), timeout=self.originate_timeout + 10)

    def tick(self) -> float:
        """One pass; returns the seconds until a slot of a running campaign is due."""
        now = self.clock()
        hangups, self._hangups = self._hangups, []
        if hangups:
            try:
                self.store.run(lambda s: _note_hangups(s, hangups))
            except BaseException:
                self._hangups[:0] = hangups  # written by a later pass
                raise
        if self._settled_at is None or now >= self._settled_at + timedelta(seconds=SETTLE_EVERY):
            self._settled_at = now
            self._settle(now)
        if self.link.connected:
            if self._reconciled_at is None or now >= self._reconciled_at + timedelta(seconds=RECONCILE_EVERY):
                self._reconciled_at = now
                self._reconcile(now)
            placed, wait = self.store.run(lambda s: self._claim(s, now))
            for call in placed:
                self._waiting[call.call_uuid] = gevent.spawn(self._place, call)
        else:
            wait = self.poll_interval
        return wait

    def busy(self) -> int:
        """Originates this process still waits for."""
        return len(self._waiting)

    # --- 1. claim ---------------------------------------------------------------------------------

    def _claim(self, s: Session, now: datetime) -> tuple[list[Placed], float]:
        placed: list[Placed] = []
        wait = self.poll_interval
        ids = s.execute(select(CampaignRow.id).where(CampaignRow.state == "running")).scalars().all()
        for cid in ids:
            # The campaign's row lock (PostgreSQL) serialises the claims of all workers: the limit
            # and the pace hold across them. SQLite has one worker (fsivr/worker/lock.py).
            c = s.execute(select(CampaignRow).where(CampaignRow.id == cid, CampaignRow.state == "running")
                          .with_for_update()).scalar_one_or_none()
            if c is None:
                continue
            got, next_in = self._claim_campaign(s, c, now)
            placed += got
            wait = min(wait, next_in)
        return placed, wait

    def _claim_campaign(self, s: Session, c: CampaignRow, now: datetime) -> tuple[list[Placed], float]:
        rows = CampaignEntryRow
        hours = AllowedHours.parse(c.allowed_hours, c.timezone)
        in_flight = s.execute(select(func.count()).select_from(rows).where(
            rows.campaign_id == c.id, rows.state == "calling")).scalar_one()
        if not hours.allows(now):
            return [], (hours.next_allowed(now) - now).total_seconds()
        interval = 1.0 / c.pace
        # A pass that comes late makes up for at most CATCH_UP seconds of slots; slots are never
        # saved up while nothing could be dialled (paused, at the limit, no row due): no burst after.
        slot = c.next_slot_at if c.next_slot_at is not None and c.next_slot_at > now - timedelta(
            seconds=CATCH_UP) else now
        placed: list[Placed] = []
        while slot <= now and len(placed) < CLAIM_BATCH:
            if in_flight + len(placed) >= c.concurrency:
                slot = now
                break
            row = s.execute(select(rows).where(rows.campaign_id == c.id, rows.state == "pending",
                                               rows.next_attempt_at <= now)
                            .order_by(rows.next_attempt_at, rows.line).limit(1)
                            .with_for_update(skip_locked=True)).scalar_one_or_none()
            if row is None:
                slot = now
                break
            call_uuid = str(uuidlib.uuid4())
            attempt = row.attempts + 1
            row.state, row.attempts, row.owner, row.call_uuid = "calling", attempt, self.name, call_uuid
            row.last_called_at = now
            row.first_called_at = row.first_called_at or now
            s.add(CallAttempt(job_key=job_key(c.id, row.id), attempt=attempt, number=row.number,
                              call_uuid=call_uuid, state="placing", started_at=now))
            placed.append(Placed(c.id, row.id, attempt, row.number, call_uuid, c.scenario, c.caller_id))
            slot += timedelta(seconds=interval)
        c.next_slot_at = slot
        s.flush()
        if not placed and not in_flight:
            left = s.execute(select(func.count(), func.min(rows.next_attempt_at)).select_from(rows).where(
                rows.campaign_id == c.id, rows.state == "pending")).one()
            if not left[0]:
                c.state, c.finished_at = "done", now
                log.info("campaign %s: every row is done", c.name)
                return [], self.poll_interval
            return [], max(0.0, (left[1] - now).total_seconds())
        return placed, max(0.0, (slot - now).total_seconds())

    # --- 2. place ---------------------------------------------------------------------------------

    def _place(self, call: Placed) -> None:
        try:
            self._send(call)
        except UNREACHABLE:
            # The outcome could not be written: the attempt stays ``placing`` and the reconcile
            # pass decides it from FreeSWITCH and the call records once the database is back.
            log.warning("campaign call %s attempt %d: the database is unreachable; its outcome will be "
                        "reconciled", call.key, call.attempt)
        finally:
            self._waiting.pop(call.call_uuid, None)

    def _send(self, call: Placed) -> None:
        """One originate and its BACKGROUND_JOB, recorded on the attempt (and the row if it failed)."""
        variables = {"origination_uuid": call.call_uuid, "fsivr_job": call.key, JOB_KIND: KIND,
                     "fsivr_scenario": call.scenario,
                     "fsivr_attempt": str(call.attempt),
                     "originate_timeout": str(int(self.originate_timeout))}
        if call.caller_id:
            variables["origination_caller_id_number"] = call.caller_id
        try:
            cmd = originate_command(endpoint_for(self.endpoint, call.number), variables, self.socket_address)
        except ValueError as exc:
            self._record_failure(call, f"-ERR {exc}", "INVALID_NUMBER_FORMAT", final=True)
            return
        try:
            reply = self.link.bgapi(cmd, timeout=self.originate_timeout + 10).strip()
        except LinkError as exc:
            # The BACKGROUND_JOB went with the link; the attempt stays ``placing`` and the
            # reconcile pass asks FreeSWITCH and the call records about it.
            log.warning("campaign call %s attempt %d to %s: %s; reconciling", call.key, call.attempt,
                        call.number, exc)
            return
        if reply.startswith("+OK"):
            self.store.run(lambda s: _set_attempt(s, call.call_uuid, state="answered", reply=reply))
            log.info("campaign call %s attempt %d to %s answered", call.key, call.attempt, call.number)
            return
        text = reply.removeprefix("-ERR").strip()
        self._record_failure(call, reply, text.split()[0] if text else "UNKNOWN")

    def _record_failure(self, call: Placed, reply: str, cause: str, final: bool = False) -> None:
        now = self.clock()
        self.store.run(lambda s: _fail(s, call.campaign_id, call.row_id, call.call_uuid, reply, cause, now, final))
        log.info("campaign call %s attempt %d to %s: %s", call.key, call.attempt, call.number, cause)

    # --- 3. settle --------------------------------------------------------------------------------

    def _settle(self, now: datetime) -> None:
        """Rows whose answered call has a closed record are done."""
        self.store.run(lambda s: _settle_answered(s, now, self.originate_timeout + self.record_grace))

    # --- 4. reconcile -----------------------------------------------------------------------------

    def _reconcile(self, now: datetime) -> None:
        timeout = timedelta(seconds=self.originate_timeout + 10)
        grace = timedelta(seconds=self.originate_timeout + self.record_grace)
        # Taken before the read: a greenlet leaves ``_waiting`` only after writing its outcome, so
        # an attempt still ``placing`` in the read and not waited for before it is nobody's here.
        waiting = set(self._waiting)
        lost = self.store.run(lambda s: _placing(s))
        for call_uuid, campaign_id, row_id, started_at in lost:
            if call_uuid in waiting:
                continue
            if not self.alone and now < started_at + timeout:
                continue  # another worker may still be waiting for its BACKGROUND_JOB
            try:
                alive = self.link.api(f"uuid_exists {call_uuid}").strip() == "true"
            except LinkError:
                return
            if alive:
                # Ringing or answered: only its end tells which (a call record, or none).
                continue
            recorded = self.store.run(lambda s, u=call_uuid: s.execute(
                select(func.count()).select_from(CallRow).where(CallRow.uuid == u)).scalar_one())
            if recorded:
                self.store.run(lambda s, u=call_uuid: _set_attempt(s, u, state="answered",
                                                                   reply="reconciled: call recorded",
                                                                   only_placing=True))
                log.info("campaign %s row %s: attempt reconciled (call recorded), not placed again",
                         campaign_id, row_id)
                continue
            if now < started_at + grace:
                continue  # it may have been answered and ended, its record not yet written
            self.store.run(lambda s, u=call_uuid, c=campaign_id, r=row_id: _fail(
                s, c, r, u, "reconciled: FreeSWITCH has no such call", "UNKNOWN", now, False, unknown=True))
            log.warning("campaign %s row %s: the outcome of attempt %s was lost (worker or link); no channel "
                        "and no call record: counted as failed", campaign_id, row_id, call_uuid)
        # Answered, yet neither a record nor a hangup came (the server never took the leg, and the
        # hangup event went with a dropped link): once FreeSWITCH no longer has the channel, it ended.
        for call_uuid in self.store.run(lambda s: _unrecorded(s, now - grace)):
            try:
                alive = self.link.api(f"uuid_exists {call_uuid}").strip() == "true"
            except LinkError:
                return
            if not alive:
                self.store.run(lambda s, u=call_uuid: s.execute(
                    update(CallAttempt).where(CallAttempt.call_uuid == u, CallAttempt.ended_at.is_(None))
                    .values(ended_at=now, hangup_cause=func.coalesce(CallAttempt.hangup_cause, "UNKNOWN"))))


# --- store steps (each run in one transaction on the threadpool) ------------------------------------


def _set_attempt(s: Session, call_uuid: str, only_placing: bool = False, **values: Any) -> bool:
    query = update(CallAttempt).where(CallAttempt.call_uuid == call_uuid)
    if only_placing:
        query = query.where(CallAttempt.state == "placing")
    return bool(s.execute(query.values(**values)).rowcount)  # type: ignore[attr-defined]


def _note_hangups(s: Session, hangups: list[tuple[str, str, datetime]]) -> None:
    for call_uuid, cause, at in hangups:
        s.execute(update(CallAttempt).where(CallAttempt.call_uuid == call_uuid, CallAttempt.ended_at.is_(None))
                  .values(hangup_cause=cause, ended_at=at))


def _placing(s: Session) -> list[tuple[str, int, int, datetime]]:
    rows = CampaignEntryRow
    found = s.execute(select(CallAttempt.call_uuid, rows.campaign_id, rows.id, CallAttempt.started_at)
                      .join(rows, and_(rows.call_uuid == CallAttempt.call_uuid, rows.state == "calling"))
                      .where(CallAttempt.state == "placing")).all()
    return [(u, int(c), int(r), at) for u, c, r, at in found]


def _unrecorded(s: Session, before: datetime) -> list[str]:
    """Answered attempts of rows still calling, older than ``before``, with no end and no call record."""
    rows = CampaignEntryRow
    recorded = select(CallRow.uuid).where(CallRow.uuid == CallAttempt.call_uuid).exists()
    return list(s.execute(select(CallAttempt.call_uuid)
                          .join(rows, and_(rows.call_uuid == CallAttempt.call_uuid, rows.state == "calling"))
                          .where(CallAttempt.state == "answered", CallAttempt.ended_at.is_(None),
                                 CallAttempt.started_at < before, ~recorded)).scalars())


def _fail(s: Session, campaign_id: int, row_id: int, call_uuid: str, reply: str, cause: str, now: datetime,
          final: bool, unknown: bool = False) -> None:
    """A not-answered attempt: recorded, and the row tried again or done. ``unknown`` (from the
    reconcile pass) only changes an attempt still ``placing``."""
    if not _set_attempt(s, call_uuid, only_placing=unknown, state="unknown" if unknown else "failed",
                        reply=reply[:1000], hangup_cause=cause[:64],
                        ended_at=end_unless_ended(now)):
        return
    c = s.get(CampaignRow, campaign_id)
    row = s.get(CampaignEntryRow, row_id)
    if c is None or row is None or row.call_uuid != call_uuid or row.state != "calling":
        return  # the campaign was removed, or another pass settled it already
    result = result_of(cause)
    row.result, row.hangup_cause, row.owner = result, cause[:64], None
    if not final and result in (c.retry_on or []) and row.attempts < c.attempts:
        hours = AllowedHours.parse(c.allowed_hours, c.timezone)
        row.state, row.next_attempt_at = "pending", hours.next_allowed(now + timedelta(seconds=c.spacing))
    else:
        row.state = "done"


def _settle_answered(s: Session, now: datetime, give_up_after: float) -> None:
    rows = CampaignEntryRow
    answered = s.execute(select(rows, CallAttempt).join(CallAttempt, CallAttempt.call_uuid == rows.call_uuid)
                         .where(rows.state == "calling", CallAttempt.state == "answered")).all()
    if not answered:
        return
    uuids = [a.call_uuid for _, a in answered]
    records: dict[str, CallRow] = {}
    for i in range(0, len(uuids), 500):
        for rec in s.execute(select(CallRow).where(CallRow.uuid.in_(uuids[i:i + 500]))
                             .order_by(CallRow.session)).scalars():
            records[rec.uuid] = rec  # the last session of the channel
    for row, attempt in answered:
        rec = records.get(attempt.call_uuid)
        if rec is not None and (rec.ended_at is None or rec.status == IN_PROGRESS):
            continue  # the call is still on (the server writes its end and status together)
        if rec is None:
            # Answered, yet no record: a server that never took the call (or was down). Only after
            # the hangup and the grace is it given up on.
            if attempt.ended_at is None or now < attempt.ended_at + timedelta(seconds=give_up_after):
                continue
            row.result, row.hangup_cause = "answered", attempt.hangup_cause
            row.answered_at, row.ended_at = attempt.started_at, attempt.ended_at
            row.state, row.owner = "done", None
            continue
        last = s.execute(select(CallStepRow.outcome).where(CallStepRow.call_uuid == rec.uuid,
                                                            CallStepRow.call_session == rec.session)
                         .order_by(CallStepRow.seq.desc()).limit(1)).scalar()
        # The scenario ended the call (as fsivr.engine.runner.final_outcome's "completed"): not the
        # callee hanging up, not a failed last step, not a call released to the dialplan or left.
        listened = (rec.status == "answered" and rec.hangup_by not in ("caller", "ivr_exit") and not rec.fault
                    and last is not None and last not in ("error", "left"))
        row.result = "listened" if listened else "answered"
        row.hangup_cause = rec.hangup_cause or attempt.hangup_cause
        row.answered_at = rec.answered_at or attempt.started_at
        row.ended_at = rec.ended_at
        row.duration = round((rec.ended_at - row.answered_at).total_seconds(), 3) if rec.ended_at else None
        row.state, row.owner = "done", None
        if attempt.ended_at is None:
            attempt.ended_at, attempt.hangup_cause = rec.ended_at, attempt.hangup_cause or rec.hangup_cause


def from_config(cfg: Any, store: Store, name: str) -> Dialler | None:
    """The dialler on its own live link to FreeSWITCH (started here), or None when
    ``outbound_endpoint`` is not set (campaigns then wait)."""
    if not cfg.outbound_endpoint:
        log.warning("outbound_endpoint is not set: campaigns are not dialled")
        return None
    endpoint_for(cfg.outbound_endpoint, "0")  # a template that cannot dial fails at start
    host = cfg.listen_host if cfg.listen_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    address = cfg.outbound_socket or f"{host}:{cfg.listen_port}"
    link = EventLink(cfg.esl_host, cfg.esl_port, cfg.esl_password, timeout=cfg.command_timeout,
                     max_backoff=cfg.live_link_max_backoff)
    dialler = Dialler(store, link, cfg.outbound_endpoint, address, name, originate_timeout=cfg.originate_timeout,
                      record_grace=cfg.outbound_record_grace, poll_interval=min(cfg.worker_poll_interval, 1.0),
                      alone=store.url.get_backend_name() == "sqlite")
    link.start()
    return dialler
