"""The queue's place-keeping callback (queue node ``callback_key``), placed by fsivr worker over
its live inbound link.

One outbox row (kind ``queue_callback``) per request, its payload written by the queue node: the
caller's number, the queue and ``joined_epoch`` (the caller's ``cc_queue_joined_epoch``). Life of a
row, each step one claim of the row (the lease and the attempt table make it survive a worker
restart or a lost link):

1. **Placeholder** (attempt 0 in ``call_attempts``): ``bgapi originate {origination_uuid=P,
   cc_base_score=B, cc_outbound_announce=<file>, ...}<hold_endpoint> callcenter:<queue> inline``.
   mod_callcenter.c callcenter_function adds ``atoi(cc_base_score)`` to the member's base_score and
   inserts ``joined_epoch = now``; the dispatch thread (and ``queue list members``) orders members
   by ``(now - joined_epoch) + base_score + skill_score DESC``. With B = now - joined_epoch of the
   caller, the placeholder's score is the caller's own: it is offered after every member who was
   ahead of the caller and before everyone who joined later (trace 14: a member with
   cc_base_score = now - J1 - 1 lands right after member 1). Epochs are FreeSWITCH's wall clock
   (local_epoch_time_now); the worker's clock must agree with it (NTP) to the second.
   ``<hold_endpoint>`` is a loopback whose other leg answers and parks, e.g.
   ``loopback/fsivr_queue_hold/fsivr_hold`` with an extension that answers and parks (the
   operator's dialplan, docs/freeswitch-notes.md §10; ``queue_callback_hold``);
   mod_loopback answers the A-leg when the B-leg answers, and the A-leg (``origination_uuid``)
   runs the inline ``callcenter`` app (trace 14's plain members are made exactly so). While it
   waits the row is rescheduled every ``recheck`` seconds (NotNow: uncounted) and each claim asks
   FreeSWITCH whether the placeholder is still there.
2. **Agent**: ``callcenter::info`` ``bridge-agent-start`` with ``CC-Member-Session-UUID`` = P (only
   inbound listeners get it, trace 07). mod_callcenter has already played the member's
   ``cc_outbound_announce`` to the agent (outbound_agent_thread_run: playback_array(agent_session,
   ...) before switch_ivr_uuid_bridge) — "connecting you to a customer who asked to be called back"
   — and bridged the agent to the placeholder.
3. **Caller** (attempts 1 and 2): ``bgapi originate {origination_uuid=C,...}<outbound endpoint>
   &park()``; on ``+OK C`` (answered) ``uuid_bridge <agent> C`` joins them: the agent first, then
   the caller. The placeholder, left without a partner, hangs up; the agent thread of a callback
   agent waits for the agent channel itself (``while(bridged && switch_channel_up(agent_channel))``),
   so the agent stays "In a queue call" until the agent hangs up. No answer (or busy, or any
   failure): one more try while the agent holds, then the job is failed and the placeholder is
   hung up (which releases the agent). The agent leaving first (``bridge-agent-end`` or its
   CHANNEL_HANGUP_COMPLETE) cancels a ringing caller leg (``uuid_kill C``) and fails the job with
   ``agent left before the caller answered``.

A caller who calls again and is served meanwhile has the job cancelled (engine/callbacks.py
``cancel_for``, by the shared key prefix): when the placeholder's turn comes the agent is released
at once and nobody is dialled.

Each attempt is a ``call_attempts`` row (number, uuid, ``+OK``/``-ERR`` reply, hangup cause); the
outbox row ends ``sent`` when the caller was bridged, ``dead`` with the reason otherwise.
"""

from __future__ import annotations

import logging
import re
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import gevent
from gevent.event import Event as Flag
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fsivr.engine.hours import AllowedHours
from fsivr.esl.frames import Event
from fsivr.esl.link import EventLink, LinkError
from fsivr.store.db import Store
from fsivr.store.models import CallAttempt, CallRow, CallStepRow, OutboxRow
from fsivr.store.types import utcnow
from fsivr.worker.errors import NotNow, PermanentFailure, SendFailed
from fsivr.worker.originate import JOB_KIND, brace_vars, end_unless_ended, endpoint_for, placed_by

log = logging.getLogger("fsivr.worker.queuecallback")

#: Queue names go into an inline dialplan (``callcenter:<queue>``, split on "," and ":"): plain words.
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")
#: Tries to reach the caller once an agent took the placeholder: the first and one retry.
CALLER_ATTEMPTS = 2
AGENT_GONE = "agent left before the caller answered"
#: How the placeholder's attempt row notes that its turn came and the caller was not connected.
TURN_ENDED = "turn ended:"


def _outcome(cause: str) -> str:
    """The callback call's outcome from originate's cause (switch_ivr_originate's causes)."""
    if cause in ("NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL", "ALLOTTED_TIMEOUT"):
        return "no_answer"
    if cause in ("USER_BUSY", "CALL_REJECTED"):
        return "busy"
    return "failed"


@dataclass
class _Entry:
    key: str
    payload: dict[str, Any]
    placeholder: str
    agent: str = ""
    agent_name: str = ""
    #: set when the agent's leg ends (bridge-agent-end / its hangup)
    agent_gone: Flag = field(default_factory=Flag)
    ringing: str = ""
    connecting: bool = False
    cancelled: bool = False


#: Seconds added to the placeholder's base score (see _place).
ROUNDING = 1


class QueueCallbackSender:
    kind = "queue_callback"

    def __init__(self, store: Store, link: EventLink, *, endpoint: str, hold_endpoint: str,
                 originate_timeout: float = 30.0, link_wait: float = 30.0, recheck: float = 60.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        if " " in hold_endpoint or any(c in hold_endpoint for c in "{}$,"):
            raise ValueError(f"queue_callback_hold {hold_endpoint!r} must be one dial string word")
        self.store = store
        self.link = link
        self.endpoint = endpoint
        self.hold_endpoint = hold_endpoint
        self.originate_timeout = originate_timeout
        self.link_wait = link_wait
        self.recheck = recheck
        self.clock = clock
        #: placeholders in line or being connected, by the placeholder's uuid
        self._entries: dict[str, _Entry] = {}
        link.subscribe("BACKGROUND_JOB", "CHANNEL_HANGUP_COMPLETE", "CUSTOM callcenter::info")
        link.add_listener(self._on_event)

    # --- events (the link's reader greenlet: never block here) --------------------------------

    def _on_event(self, event: Event) -> None:
        name = event.name
        if name == "CHANNEL_HANGUP_COMPLETE":
            uuid = event.get("Unique-ID") or ""
            if placed_by(event, self.kind) and uuid not in self._entries:
                # a caller leg we placed ended: its cause and end go on its records
                gevent.spawn(self._ended, uuid, event.get("Hangup-Cause") or "")
            for entry in list(self._entries.values()):
                if uuid and uuid == entry.agent:
                    self._agent_left(entry)
            return
        if event.get("Event-Subclass") != "callcenter::info":
            return
        action = event.get("CC-Action")
        entry = self._entries.get(event.get("CC-Member-Session-UUID") or "")
        if entry is None:
            return
        if action == "bridge-agent-start" and not entry.connecting:
            entry.agent = event.get("CC-Agent-UUID") or ""
            entry.agent_name = event.get("CC-Agent") or ""
            entry.connecting = True
            log.info("queue callback %s: agent %s took the placeholder %s; calling %s back", entry.key,
                     event.get("CC-Agent"), entry.placeholder, entry.payload.get("number"))
            gevent.spawn(self._connect, entry)
        elif action == "bridge-agent-end":
            self._agent_left(entry)
        elif action == "member-queue-end" and event.get("CC-Cause") == "Cancel" and not entry.connecting:
            # The queue's own limits (max-wait-time...) or a hangup: no agent will take it.
            reason = event.get("CC-Cancel-Reason") or "cancelled"
            log.warning("queue callback %s: the placeholder left the queue (%s)", entry.key, reason)
            self._entries.pop(entry.placeholder, None)
            gevent.spawn(self._settle, entry.key)

    def _agent_left(self, entry: _Entry) -> None:
        if entry.agent_gone.is_set():
            return
        entry.agent_gone.set()
        if entry.ringing:
            # The caller is still ringing: nobody is left to talk to them.
            ringing = entry.ringing
            gevent.spawn(self._quiet_api, f"uuid_kill {ringing} ORIGINATOR_CANCEL")

    def _quiet_api(self, cmd: str) -> str:
        try:
            return self.link.api(cmd)
        except LinkError as exc:
            log.warning("queue callback: %s: %s", cmd.split(" ", 1)[0], exc)
            return ""

    # --- one claim ----------------------------------------------------------------------------

    def __call__(self, payload: dict[str, Any], key: str) -> str:
        now = self.clock()
        hours = AllowedHours.parse(payload.get("allowed_hours"), payload.get("timezone") or "UTC")
        queue = str(payload.get("queue") or "")
        if not QUEUE_NAME.match(queue):
            raise PermanentFailure(f"queue name {queue!r} cannot be used in a dial string")
        tries = self._attempts(key)
        calls = [t for t in tries if t.attempt >= 1]
        if any(t.state == "answered" for t in calls):
            return "the caller was called back and connected to an agent"
        placeholders = [t for t in tries if t.attempt <= 0]
        placeholder = placeholders[-1] if placeholders else None
        if placeholder is not None and placeholder.state in ("placing", "answered"):
            if placeholder.call_uuid in self._entries:
                raise NotNow(f"placeholder {placeholder.call_uuid} is in line in {queue}", now + self._every())
            if not calls:
                if not self.link.wait_connected(self.link_wait):
                    raise SendFailed(f"no link to FreeSWITCH at {self.link.where}")
                try:
                    alive = self.link.api(f"uuid_exists {placeholder.call_uuid}").strip() == "true"
                except LinkError as exc:
                    raise SendFailed(f"cannot ask about the placeholder: {exc}") from None
                if alive:
                    # A worker restarted: this one listens for the agent from now on.
                    self._entries[placeholder.call_uuid] = _Entry(key, payload, placeholder.call_uuid)
                    raise NotNow(f"placeholder {placeholder.call_uuid} is in line in {queue}",
                                 now + self._every())
                if TURN_ENDED in (placeholder.reply or ""):  # its turn came and went (_note)
                    raise PermanentFailure(f"callback failed: {placeholder.reply}")
                raise PermanentFailure("the placeholder left the queue before an agent took it")
            raise PermanentFailure("callback failed: " + "; ".join(
                f"attempt {t.attempt}: {t.reply or t.state}" for t in calls))
        if not hours.allows(now):
            raise NotNow("outside the queue's hours", hours.next_allowed(now))
        return self._place(payload, key, queue, now, -len(placeholders))

    def _every(self) -> timedelta:
        return timedelta(seconds=self.recheck)

    def _place(self, payload: dict[str, Any], key: str, queue: str, now: datetime, attempt: int) -> str:
        """Attempt 0 is the placeholder; one that could not be placed is followed by -1, -2..."""
        if not self.link.wait_connected(self.link_wait):
            raise SendFailed(f"no link to FreeSWITCH at {self.link.where}")
        number = str(payload["number"])
        # score = (now - joined_epoch) + base_score: the caller's own, whenever the placeholder joins.
        # Whole seconds (mod_callcenter.c: local_epoch_time_now): the placeholder joins a moment
        # after this reading, and when a second boundary falls in between it would score one second
        # less than the caller did and lose its tie (ORDER BY score DESC keeps the members'
        # order) to whoever joined the second after the caller. One second more rounds in the
        # caller's favour: at worst it ties those who joined the second before, who stay ahead.
        base = max(0, int(now.timestamp()) - int(payload["joined_epoch"]) + ROUNDING)
        uuid = str(uuidlib.uuid4())
        variables = {"origination_uuid": uuid, "origination_caller_id_number": number,
                     "origination_caller_id_name": "Callback", "cc_base_score": str(base), "fsivr_job": key}
        if payload.get("agent_announce"):
            variables["cc_outbound_announce"] = str(payload["agent_announce"])
        agent_vars = {str(k): str(v) for k, v in (payload.get("agent_vars") or {}).items()}
        if agent_vars:
            # outbound_agent_thread_run: switch_channel_process_export(member, NULL, ovars,
            # "cc_export_vars") - the named member variables become the agent leg's originate vars
            variables.update(agent_vars)
            variables["cc_export_vars"] = ",".join(agent_vars)
        try:
            cmd = f"originate {brace_vars(variables)}{self.hold_endpoint} callcenter:{queue} inline"
        except ValueError as exc:
            raise PermanentFailure(str(exc)) from None
        self.store.run(lambda s: s.add(CallAttempt(job_key=key, attempt=attempt, number=number, call_uuid=uuid,
                                                   state="placing", started_at=now)))
        self._entries[uuid] = _Entry(key, payload, uuid)
        try:
            reply = self.link.bgapi(cmd, timeout=self.originate_timeout + 10).strip()
        except LinkError as exc:
            self._entries.pop(uuid, None)
            raise SendFailed(f"placeholder: the link to FreeSWITCH was lost ({exc})") from None
        if not reply.startswith("+OK"):
            self._entries.pop(uuid, None)
            self._set(uuid, state="failed", reply=reply, ended_at=self.clock())
            raise SendFailed(f"placeholder not placed: {reply}")
        self._set(uuid, state="answered", reply=reply)
        log.info("queue callback %s: placeholder %s joined %s with cc_base_score=%d", key, uuid, queue, base)
        raise NotNow(f"placeholder {uuid} is in line in {queue} (cc_base_score={base})", now + self._every())

    # --- the agent took it --------------------------------------------------------------------

    def _connect(self, entry: _Entry) -> None:
        connected = False
        try:
            connected = self._call_caller(entry)
        except Exception:
            log.exception("queue callback %s: connecting the caller failed", entry.key)
        finally:
            if not connected:
                # The placeholder's row says how its turn ended (the job's error says it too).
                why = ("cancelled: the caller was served meanwhile" if entry.cancelled
                       else AGENT_GONE if entry.agent_gone.is_set() else "the caller could not be reached")
                self._note(entry.placeholder, why)
            self._entries.pop(entry.placeholder, None)
            self._settle(entry.key)

    def _call_caller(self, entry: _Entry) -> bool:
        """True once the caller answered and was bridged to the agent."""
        payload, number = entry.payload, str(entry.payload["number"])
        if self._cancelled(entry.key):
            # The caller called again and was served meanwhile (engine/callbacks.py cancel_for):
            # nobody to call back; the placeholder's hangup releases the agent.
            log.info("queue callback %s: cancelled while in line; releasing the agent", entry.key)
            entry.cancelled = True
            self._quiet_api(f"uuid_kill {entry.placeholder} NORMAL_CLEARING")
            return False
        for attempt in range(1, CALLER_ATTEMPTS + 1):
            if entry.agent_gone.is_set():
                break
            uuid = str(uuidlib.uuid4())
            variables = {"origination_uuid": uuid, "fsivr_job": entry.key, JOB_KIND: self.kind,
                         "originate_timeout": str(int(self.originate_timeout))}
            if payload.get("caller_id"):
                variables["origination_caller_id_number"] = str(payload["caller_id"])
            try:
                cmd = f"originate {brace_vars(variables)}{endpoint_for(self.endpoint, number)} &park()"
            except ValueError as exc:
                self._record(entry.key, attempt, number, uuid, "failed", f"-ERR {exc}")
                return False
            started = self.clock()
            self._record(entry.key, attempt, number, uuid, "placing", None)
            entry.ringing = uuid
            try:
                reply = self.link.bgapi(cmd, timeout=self.originate_timeout + 10).strip()
            except LinkError as exc:
                reply = f"-ERR LINK_LOST ({exc})"
            entry.ringing = ""
            if reply.startswith("+OK"):
                if entry.agent_gone.is_set():
                    self._quiet_api(f"uuid_kill {uuid} NORMAL_CLEARING")
                    self._set(uuid, state="failed", reply=f"{reply} ({AGENT_GONE})",
                              ended_at=end_unless_ended(self.clock()))
                    self._call_record(entry, attempt, uuid, started, "agent_gone", "NORMAL_CLEARING", answered=True)
                    return False
                bridged = self._quiet_api(f"uuid_bridge {entry.agent} {uuid}").strip()
                if bridged.startswith("+OK"):
                    self._set(uuid, state="answered", reply=reply)
                    self._call_record(entry, attempt, uuid, started, "answered", None)
                    log.info("queue callback %s: %s answered attempt %d; bridged to the agent", entry.key,
                             number, attempt)
                    return True
                # The agent's leg is gone (uuid_bridge: no such channel).
                entry.agent_gone.set()
                self._quiet_api(f"uuid_kill {uuid} NORMAL_CLEARING")
                self._set(uuid, state="failed", reply=f"{reply} ({AGENT_GONE}: {bridged})",
                          ended_at=end_unless_ended(self.clock()))
                self._call_record(entry, attempt, uuid, started, "agent_gone", "NORMAL_CLEARING", answered=True)
                return False
            cause = (reply.removeprefix("-ERR").strip() or "UNKNOWN").split(" ", 1)[0]
            said = f"{reply} ({AGENT_GONE})" if entry.agent_gone.is_set() else reply
            self._set(uuid, state="failed", reply=said, hangup_cause=cause, ended_at=end_unless_ended(self.clock()))
            self._call_record(entry, attempt, uuid, started,
                              "agent_gone" if entry.agent_gone.is_set() else _outcome(cause), cause)
            log.warning("queue callback %s: attempt %d to %s: %s", entry.key, attempt, number, said)
        # Not connected: release the agent (the placeholder's hangup ends the agent's bridge).
        if not entry.agent_gone.is_set():
            self._quiet_api(f"uuid_kill {entry.placeholder} NORMAL_CLEARING")
        return False

    # --- store --------------------------------------------------------------------------------

    def _attempts(self, key: str) -> list[CallAttempt]:
        def read(s: Session) -> list[CallAttempt]:
            found = list(s.execute(select(CallAttempt).where(CallAttempt.job_key == key)
                                   .order_by(CallAttempt.id)).scalars())
            s.expunge_all()
            return found

        return self.store.run(read)

    def _record(self, key: str, attempt: int, number: str, uuid: str, state: str, reply: str | None) -> None:
        started = self.clock()
        self.store.run(lambda s: s.add(CallAttempt(job_key=key, attempt=attempt, number=number, call_uuid=uuid,
                                                   state=state, reply=reply, started_at=started)))

    def _set(self, call_uuid: str, **values: Any) -> None:
        self.store.run(lambda s: s.execute(update(CallAttempt).where(CallAttempt.call_uuid == call_uuid)
                                           .values(**values)))

    def _call_record(self, entry: _Entry, attempt: int, uuid: str, started: datetime, outcome: str,
                     cause: str | None, answered: bool = False) -> None:
        """The callback call's record (``calls``, one step), as ``fsivr calls`` shows any call: the
        caller's number dialled, the outcome (answered, no_answer, busy, failed, agent_gone), the
        queue, the agent, the placeholder and the call that asked for it. An answered call's end
        and cause come with its CHANNEL_HANGUP_COMPLETE (``_ended``)."""
        payload, now = entry.payload, self.clock()
        done = outcome != "answered"

        def write(s: Session) -> None:
            s.add(CallRow(uuid=uuid, session=1, caller=str(payload.get("caller_id") or ""),
                          number=str(payload["number"]), scenario=str(payload.get("scenario") or ""),
                          started_at=started, answered_at=now if (answered or not done) else None,
                          ended_at=now if done else None, hangup_cause=cause if done else None,
                          hangup_by="ivr" if outcome == "agent_gone" else ("callee" if done else None),
                          status="answered" if (answered or not done) else "unanswered", fault=None,
                          server=None))
            s.flush()
            s.add(CallStepRow(call_uuid=uuid, call_session=1, seq=1, node=str(payload.get("node") or "callback"),
                              node_type=self.kind, outcome=outcome, started_at=started, ended_at=now,
                              detail={"queue": payload.get("queue"), "agent": entry.agent_name,
                                      "placeholder": entry.placeholder, "attempt": attempt,
                                      "requested_by": payload.get("requested_by")}))

        try:
            self.store.run(write)
        except Exception:
            log.exception("queue callback %s: the call record of %s was not written", entry.key, uuid)

    def _ended(self, uuid: str, cause: str) -> None:
        ended = self.clock()

        def write(s: Session) -> None:
            s.execute(update(CallRow).where(CallRow.uuid == uuid, CallRow.ended_at.is_(None))
                      .values(ended_at=ended, hangup_cause=cause))
            s.execute(update(CallAttempt).where(CallAttempt.call_uuid == uuid, CallAttempt.attempt >= 1,
                                                CallAttempt.ended_at.is_(None))
                      .values(hangup_cause=cause, ended_at=ended))

        try:
            self.store.run(write)
        except Exception:
            log.exception("queue callback: could not record the end of %s", uuid)

    def _cancelled(self, key: str) -> bool:
        try:
            state = self.store.run(lambda s: s.execute(
                select(OutboxRow.state).where(OutboxRow.idempotency_key == key)).scalar_one_or_none())
        except Exception:
            log.exception("queue callback %s: could not read the job's state; calling back", key)
            return False
        return state == "dead"

    def _note(self, call_uuid: str, why: str) -> None:
        ended = self.clock()

        def write(s: Session) -> None:
            row = s.execute(select(CallAttempt).where(CallAttempt.call_uuid == call_uuid)).scalar_one_or_none()
            if row is not None:
                row.reply = f"{row.reply or ''}; {TURN_ENDED} {why}".lstrip("; ")[:1000]
                row.ended_at = ended

        self.store.run(write)

    def _settle(self, key: str) -> None:
        """The job's result is known: its row is due now, and the next claim says it."""
        due = self.clock()
        try:
            self.store.run(lambda s: s.execute(
                update(OutboxRow).where(OutboxRow.idempotency_key == key, OutboxRow.state == "pending")
                .values(next_attempt_at=due)))
        except Exception:
            log.exception("queue callback %s: could not mark the job due", key)
