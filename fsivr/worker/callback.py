"""The worker's callback sender: places one attempt of a callback job over the live link.

Per claim: outside the allowed hours nothing is dialled (NotNow: the row waits, uncounted). An
attempt left ``placing`` by a dead worker or a lost link is reconciled first by the uuid we gave the
call (``origination_uuid``): ``uuid_exists`` true, or a call record under that uuid, means the call
was placed and reached the server — it is never placed a second time. Otherwise one attempt row is
written, then ``bgapi originate`` is sent; its BACKGROUND_JOB (``+OK <uuid>`` once the far end
answered, ``-ERR <CAUSE>``: mod_commands.c originate_function) is recorded on the attempt.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import gevent
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fsivr.engine.hours import AllowedHours
from fsivr.esl.frames import Event
from fsivr.esl.link import EventLink, LinkError
from fsivr.store.db import Store
from fsivr.store.models import CallAttempt, CallRow
from fsivr.store.types import utcnow
from fsivr.worker.errors import NotNow, PermanentFailure, RetryAt, SendFailed
from fsivr.worker.originate import JOB_KIND, end_unless_ended, endpoint_for, originate_command, placed_by

log = logging.getLogger("fsivr.worker.callback")


class CallbackSender:
    kind = "callback"

    def __init__(self, store: Store, link: EventLink, *, endpoint: str, socket_address: str,
                 originate_timeout: float = 30.0, link_wait: float = 30.0, reconcile_after: float = 180.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.link = link
        self.endpoint = endpoint
        self.socket_address = socket_address
        self.originate_timeout = originate_timeout
        self.link_wait = link_wait
        #: Seconds after an attempt's start when a call with no trace is taken to have never happened.
        self.reconcile_after = max(reconcile_after, originate_timeout + 60)
        self.clock = clock
        link.subscribe("BACKGROUND_JOB", "CHANNEL_HANGUP_COMPLETE")
        link.add_listener(self._on_event)

    # --- hangup causes ------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        """A placed call ended: its cause goes on its attempt (only calls carrying fsivr_job). In its
        own greenlet: this runs in the link's reader, which must not wait on the database."""
        if event.name != "CHANNEL_HANGUP_COMPLETE" or not placed_by(event, self.kind):
            return
        gevent.spawn(self._ended, event.get("Unique-ID") or "", event.get("Hangup-Cause") or "")

    def _ended(self, uuid: str, cause: str) -> None:
        """The leg's end, unless the attempt has one already. A failed originate's leg ends too
        (switch_ivr_originate made it before it rang), its CHANNEL_HANGUP_COMPLETE racing the
        ``-ERR`` BACKGROUND_JOB: whichever comes first writes the end, once."""
        ended = self.clock()
        try:
            self.store.run(lambda s: s.execute(
                update(CallAttempt).where(CallAttempt.call_uuid == uuid, CallAttempt.ended_at.is_(None))
                .values(hangup_cause=cause, ended_at=ended)))
        except Exception:
            log.exception("could not record the hangup cause of %s", uuid)

    # --- one attempt --------------------------------------------------------------------------

    def __call__(self, payload: dict[str, Any], key: str) -> str:
        now = self.clock()
        hours = AllowedHours.parse(payload.get("allowed_hours"), payload.get("timezone") or "UTC")
        if not hours.allows(now):
            raise NotNow("outside the allowed hours", hours.next_allowed(now))
        if not self.link.wait_connected(self.link_wait):
            # Nothing was sent: no attempt, a retry later (the link reconnects on its own). Also
            # needed before reconciling: only FreeSWITCH knows whether a call is still up.
            raise SendFailed(f"no link to FreeSWITCH at {self.link.where}")
        def attempts(s: Session) -> list[CallAttempt]:
            found = list(s.execute(select(CallAttempt).where(CallAttempt.job_key == key)
                                   .order_by(CallAttempt.attempt)).scalars())
            s.expunge_all()
            return found

        tries = self.store.run(attempts)
        for earlier in tries:
            if earlier.state == "placing":
                happened = self._reconcile(earlier, now)
                if happened:
                    return f"attempt {earlier.attempt} had reached the server (reconciled, not placed again)"
                if happened is None:
                    raise self._not_yet(earlier, now)
            if earlier.state == "answered":
                return f"attempt {earlier.attempt} was answered already"
        attempt = len(tries) + 1
        limit = int(payload.get("attempts") or 1)
        if attempt > limit:
            raise PermanentFailure(f"all {limit} attempts made")
        number = str(payload["number"])
        call_uuid = str(uuidlib.uuid4())
        variables = {"origination_uuid": call_uuid, "fsivr_job": key, JOB_KIND: self.kind,
                     "fsivr_scenario": str(payload["scenario"]),
                     "originate_timeout": str(int(self.originate_timeout))}
        if payload.get("caller_id"):
            variables["origination_caller_id_number"] = str(payload["caller_id"])
        try:
            cmd = originate_command(endpoint_for(self.endpoint, number), variables, self.socket_address)
        except ValueError as exc:
            raise PermanentFailure(str(exc)) from None
        self.store.run(lambda s: s.add(CallAttempt(job_key=key, attempt=attempt, number=number,
                                                   call_uuid=call_uuid, state="placing", started_at=now)))
        try:
            reply = self.link.bgapi(cmd, timeout=self.originate_timeout + 10).strip()
        except LinkError as exc:
            # The BACKGROUND_JOB is lost with the link; FreeSWITCH may still be ringing. Wait for
            # the link and ask FreeSWITCH about the call by its uuid.
            log.warning("callback %s attempt %d: %s; reconciling", key, attempt, exc)
            if not self.link.wait_connected(self.link_wait):
                raise SendFailed(f"attempt {attempt}: the link to FreeSWITCH was lost ({exc}); "
                                 "reconciled on the next claim") from None
            def placed(s: Session) -> CallAttempt:
                row = s.execute(select(CallAttempt).where(CallAttempt.call_uuid == call_uuid)).scalar_one()
                s.expunge(row)
                return row

            row = self.store.run(placed)
            happened = self._reconcile(row, self.clock())
            if happened:
                return f"attempt {attempt} reached the server (reconciled after the link was lost)"
            if happened is None:
                raise self._not_yet(row, self.clock()) from None
            reply = "-ERR LINK_LOST"
        if reply.startswith("+OK"):
            self._set(call_uuid, state="answered", reply=reply)
            return reply
        cause = reply.removeprefix("-ERR").strip() or "UNKNOWN"
        # originate's cause is the attempt's; its end may have come with the leg's hangup already
        self._set(call_uuid, state="failed", reply=reply, hangup_cause=cause,
                  ended_at=end_unless_ended(self.clock()))
        if attempt >= limit:
            raise PermanentFailure(f"attempt {attempt} of {limit}: {cause}")
        spacing = timedelta(seconds=float(payload.get("spacing") or 0))
        raise RetryAt(f"attempt {attempt} of {limit}: {cause}", hours.next_allowed(self.clock() + spacing))

    def _not_yet(self, attempt: CallAttempt, now: datetime) -> RetryAt:
        return RetryAt(f"attempt {attempt.attempt}: outcome unknown after the link was lost; asking "
                       "FreeSWITCH and the call records again before dialling anyone",
                       max(now, attempt.started_at + timedelta(seconds=self.reconcile_after)))

    def _reconcile(self, attempt: CallAttempt, now: datetime) -> bool | None:
        """Did this attempt's call happen? True (and recorded) when FreeSWITCH still has the channel
        or the server kept a record of it. A call that ended already leaves only its record, which
        ``serve`` writes a little after the hangup: until ``reconcile_after`` seconds from the
        attempt's start (longer than the ring time plus the record's write) the answer is None,
        "cannot tell yet"; after that, no trace means the call never happened (``unknown``)."""
        try:
            alive = self.link.api(f"uuid_exists {attempt.call_uuid}").strip() == "true"
        except LinkError as exc:
            raise SendFailed(f"cannot reconcile attempt {attempt.attempt}: {exc}") from None
        def recorded_call(s: Session) -> tuple[bool, str | None]:
            # A channel may have several socket sessions (rows); any of them proves the call.
            row = s.execute(select(CallRow).where(CallRow.uuid == attempt.call_uuid)
                            .order_by(CallRow.session.desc()).limit(1)).scalar_one_or_none()
            return row is not None, (row.hangup_cause if row is not None else None)

        recorded, cause = self.store.run(recorded_call)
        if alive or recorded:
            self._set(attempt.call_uuid, state="answered",
                      reply=f"reconciled: {'channel alive' if alive else 'call recorded'}",
                      **({"hangup_cause": cause} if cause else {}))
            return True
        if now < attempt.started_at + timedelta(seconds=self.reconcile_after):
            return None
        self._set(attempt.call_uuid, state="unknown", reply="reconciled: FreeSWITCH has no such call")
        return False

    def _set(self, call_uuid: str, **values: Any) -> None:
        self.store.run(lambda s: s.execute(update(CallAttempt).where(CallAttempt.call_uuid == call_uuid)
                                           .values(**values)))
