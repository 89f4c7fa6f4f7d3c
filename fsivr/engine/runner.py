"""Runs one call: set up the session, walk the scenario, hang up politely, leave a record.

Node life cycle (as jambonz's tasks): the runner picks the node, the node runs against the Call
and returns an outcome, the runner records the step and follows the edge. Everything a node can
throw is turned into an outcome here, so a node module never needs to know about records,
fallbacks or hangup bookkeeping.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

import gevent
from gevent.event import Event as Flag

from fsivr.engine.aftercall import finished_call
from fsivr.engine.call import HANGUP_CONFIRM, Call, Handoff, channel_time
from fsivr.engine.scenario import CompiledScenario
from fsivr.engine.services import Services
from fsivr.engine.templates import TemplateProblem
from fsivr.esl.connection import OutboundConnection
from fsivr.esl.errors import ChannelHangup, ChannelLeft, CommandFailed, CommandTimeout, EslError
from fsivr.logs import CallLogContext, current_call
from fsivr.store.callrecords import CallRecord, StepRecord
from fsivr.store.outage import UNREACHABLE, cause

log = logging.getLogger("fsivr.call")

#: Outcome recorded for the node during which the caller hung up.
HANGUP = "hangup"
#: Outcome recorded for the node during which the channel left the socket application.
LEFT = "left"
#: Nodes run in a row without one completed FreeSWITCH application before the call is ended as
#: runaway. Validation rejects such loops inside a scenario; this catches the rest (goto chains,
#: ringing nodes that fail at once). Only an application that completed counts: a node that
#: merely *can* wait (dial with nothing to ring) may return immediately.
MAX_BUSY_STEPS = 200
#: Steps one call may take at all: a human call never gets near; a loop through FreeSWITCH
#: (a dial whose every leg fails at once, over and over) does.
MAX_STEPS = 1000
#: A call no node handed off: hung up by us at the end.
NO_HANDOFF = Handoff()
#: The cause we hang up with when the session itself failed (a reply that never came...): the
#: caller's side is told to try again (Q.850 41, SIP 503), not that all went well.
FAULT_CAUSE = "NORMAL_TEMPORARY_FAILURE"
#: Channels whose session ended with the channel still up (exit, transfer, a closed socket) and
#: which may therefore come back for another session: at most this many are remembered, oldest
#: forgotten first (a forgotten one still gets its own record: the writer finds the next number).
REMEMBERED_CHANNELS = 10_000


class CallObserver(Protocol):
    """Told of each step and each finished call (fsivr.metrics.Metrics is one)."""

    def step(self, node_type: str, outcome: str, seconds: float) -> None: ...
    def call_finished(self, scenario: str, outcome: str) -> None: ...


class Runner:
    def __init__(self, services: Services, observer: CallObserver | None = None) -> None:
        self.services = services
        #: None (metrics off) costs one comparison per step.
        self.observer = observer
        self.calls_active = 0
        #: Set whenever no call is in progress (its record queued); tests and shutdown wait on it.
        self.idle = Flag()
        self.idle.set()
        #: channel uuid -> its last session's number, for channels that may come back.
        self._sessions: dict[str, int] = {}

    # ---- session --------------------------------------------------------------------------

    def handle(self, conn: OutboundConnection) -> None:
        """The server's per-connection handler."""
        cfg = self.services.config
        self.calls_active += 1
        self.idle.clear()
        call: Call | None = None
        record: CallRecord | None = None
        log_token = None
        try:
            fault: str | None = None
            try:
                channel = conn.connect()
            except CommandTimeout as exc:
                # FreeSWITCH answers in order, so a slow reply is still the next one: wait for it
                # once more, to know (and record, and end) the call it was about.
                late = conn.late_connect(cfg.command_timeout)
                if late is None:
                    log.warning("connection from %s: no channel data from FreeSWITCH (%s); no call to record",
                                conn.peer, exc)
                    return
                channel, fault = late, f"{exc}; it came later"
            if not conn.uuid:
                # Not a channel (a hostile or broken peer): nothing to drive, and no record - rows
                # of uuid '' would only collide with each other.
                log.warning("connection from %s: the channel data has no Unique-ID; not a call, ending the session",
                            conn.peer)
                return
            number = (channel.get("variable_fsivr_number") or channel.get("Caller-Destination-Number")
                      or channel.get("Channel-Destination-Number") or "")
            call = Call.from_channel(conn, self.services, number)
            # Every line logged while this greenlet runs the call carries it (fsivr.logs).
            log_token = current_call.set(CallLogContext(call.uuid, number, call.caller))
            job = channel.get("variable_fsivr_job") or ""
            if job:
                call.vars["fsivr_job"] = job
                if job.startswith("campaign:"):
                    self._campaign_vars(call, job)
            # A call the worker placed runs the job's scenario (fsivr_scenario), not the number's.
            found = self._scenario_for(number, channel.get("variable_fsivr_scenario") or "" if job else "")
            # The record exists from the first moment we know the call (its row is written with the
            # next batch), so a caller who hangs up before we even subscribed, or a process that
            # dies mid-call, still leaves one.
            record = self._begin(call, number, found, fault)
            # myevents: only this channel's events; linger: keep the socket after hangup long
            # enough to finish the record and post-call work (we end it with `exit` earlier).
            # Sent together: ESL answers in order, so both cost one round trip.
            conn.commands(["myevents", f"linger {int(cfg.linger_seconds)}"])
            if fault is not None:
                pass  # the session is already broken: end it (below) with what we know
            elif found is None:
                log.info("call %s to %s: no scenario for this number; hanging up", call.uuid, number)
                call.hangup("UNALLOCATED_NUMBER")
            else:
                scenario, exit_to = found
                # The same destination the dialplan renders after `socket` for this number.
                call.exit_destination = exit_to or cfg.default_exit_destination or None
                self._walk(call, scenario, scenario.start, record)
        except ChannelHangup:
            pass
        except (EslError, OSError) as exc:
            log.warning("call %s: FreeSWITCH session failed: %s", conn.uuid or conn.peer, exc)
            if record is not None and record.fault is None:
                record.fault = str(exc) or type(exc).__name__
        finally:
            try:
                if call is not None and record is not None:
                    self._finish(call, record)
            finally:
                if log_token is not None:
                    current_call.reset(log_token)
                self.calls_active -= 1
                if not self.calls_active:
                    self.idle.set()

    def _begin(self, call: Call, number: str, found: tuple[CompiledScenario, str | None] | None,
               fault: str | None) -> CallRecord:
        """The session's record, handed to the writer at once."""
        channel = call.conn.channel
        assert channel is not None
        session = self._sessions.pop(call.uuid, 0) + 1
        record = CallRecord(uuid=call.uuid, caller=call.caller, number=number,
                            scenario=found[0].name if found is not None else "",
                            # A later session starts when it connects, not when the channel was created.
                            started_at=call.arrived_at if session == 1 else call.now(),
                            answered_at=channel_time(channel.get("Caller-Channel-Answered-Time")),
                            ended_at=None, hangup_cause=None, hangup_by=None, session=session, fault=fault)
        self.services.records.begin(record)
        return record


    def _cancel_callbacks(self, call: Call, record: CallRecord) -> None:
        """A caller who called in again and was served (the call was answered) needs no callback.
        A callback's own call (fsivr_job) is the callback being served, not a new call."""
        callbacks = self.services.callbacks
        if callbacks is None or record.answered_at is None or call.vars.get("fsivr_job"):
            return
        try:
            callbacks.cancel_for(call.caller, call.uuid, call.now())
        except UNREACHABLE as exc:
            # One line per outage for the whole server (the caches' shared report), not one per
            # call; the callback then still runs — a caller called back once too often, not lost.
            self.services.scenarios.outage.failed(exc)
            log.debug("call %s: pending callbacks not cancelled: the database is unreachable", call.uuid)
        except Exception:
            log.exception("call %s: could not cancel the caller's pending callbacks", call.uuid)

    def _campaign_vars(self, call: Call, job: str) -> None:
        """A campaign's call: the row's columns become call variables (read from the store, not
        passed in channel variables, so a cell may hold any text: FreeSWITCH would expand ``$`` and
        braces in an originate's variables)."""
        try:
            found = self.services.data.campaign_row(job)
        except UNREACHABLE as exc:
            self.services.scenarios.outage.failed(exc)
            log.warning("call %s: the campaign row of %s cannot be read: the database is unreachable", call.uuid, job)
            return
        if found is None:
            log.warning("call %s: %s names no campaign row; the scenario runs without its columns", call.uuid, job)
            return
        for name, value in found.items():
            call.vars.setdefault(name, value)

    def _scenario_for(self, number: str, chosen: str = "") -> tuple[CompiledScenario, str | None] | None:
        cache = self.services.scenarios
        if chosen:
            # A call the worker placed names its scenario (fsivr_scenario, fsivr/worker/originate.py):
            # the job decides, not the dialled number.
            picked = cache.get(chosen)
            return (picked, None) if picked is not None else None
        found = cache.for_number(number)
        if found is None and self.services.config.default_scenario:
            default = cache.get(self.services.config.default_scenario)
            if default is not None:
                return default, None
        return found

    # ---- the walk -------------------------------------------------------------------------

    def _walk(self, call: Call, scenario: CompiledScenario, start: str | None, record: CallRecord) -> None:
        node_id = start
        busy = 0  # steps in a row that completed no FreeSWITCH application
        after_call = call.after_call
        call.scenario = record.scenario = record.scenario or scenario.name
        while node_id is not None:
            node = scenario.nodes[node_id]
            completed = call.conn.apps_completed
            outcome = self._run_node(call, scenario, node_id, record)
            if outcome in (HANGUP, LEFT) and not after_call:
                return
            handoff = call.handoff
            if handoff is not None and handoff.scenario is not None:
                call.handoff = None
                target = self.services.scenarios.get(handoff.scenario)
                if target is None:
                    log.error("call %s: goto %s: no such scenario is loaded", call.uuid, handoff.scenario)
                    return
                scenario, node_id = target, target.start
                call.scenario = target.name
            elif node.terminal and outcome != "error":
                return
            else:
                node_id = scenario.edges[node_id].get(outcome)
                if node_id is None and outcome == "error":
                    node_id = self._fallback(call, scenario, node.id)
            if call.conn.apps_completed > completed:
                busy = 0
            else:
                # The step never left this greenlet: yield, so a loop of such steps cannot starve
                # every other call on the hub while it is being counted.
                busy += 1
                gevent.sleep(0)
            if self._runaway(call, record, busy):
                return
            if node_id is not None and call.conn.hungup.is_set() and not after_call:
                return

    def _fallback(self, call: Call, scenario: CompiledScenario, failed: str) -> str | None:
        """An error nobody handled: the scenario's fallback, once per call; else the call ends."""
        if scenario.fallback and not call.fell_back:
            call.fell_back = True
            log.info("call %s: %s.%s failed with no 'error' edge; going to the fallback %s", call.uuid,
                     scenario.name, failed, scenario.fallback)
            return scenario.fallback
        log.info("call %s: %s.%s failed with no 'error' edge%s; ending the call", call.uuid, scenario.name,
                 failed, " and the fallback was already used" if scenario.fallback else "")
        return None

    def _run_node(self, call: Call, scenario: CompiledScenario, node_id: str, record: CallRecord) -> str:
        """Run one node; whatever it raises becomes an outcome, and the step is recorded."""
        node = scenario.nodes[node_id]
        started = call.now()
        detail: dict[str, Any] | None = None
        call.step_detail = {}
        log_ctx = current_call.get()
        if log_ctx is not None:
            log_ctx.scenario, log_ctx.node = scenario.name, node_id
        try:
            outcome = node.run(call)
        except ChannelHangup:
            outcome = HANGUP
        except ChannelLeft:
            outcome, detail = LEFT, {"left": "the channel left the socket application"}
            log.info("call %s: left the IVR during %s.%s; following it until it ends", call.uuid,
                     scenario.name, node_id)
        except (CommandFailed, CommandTimeout, TemplateProblem) as exc:
            # A template that fails for this call's data (validation refused the ones that always
            # fail) is the scenario's problem, said in one line: no traceback.
            outcome, detail = "error", {"error": str(exc)}
            log.warning("call %s: node %s.%s failed: %s", call.uuid, scenario.name, node_id, exc)
        except UNREACHABLE as exc:
            # A node that asks the database (lookup, authorize ...) during an outage: the server's
            # one outage report (shared with the caches), not a traceback per call; the step's
            # error outcome and record say what happened to this call.
            self.services.scenarios.outage.failed(exc)
            outcome, detail = "error", {"error": f"database unreachable: {cause(exc)}"}
            log.debug("call %s: node %s.%s: the database is unreachable", call.uuid, scenario.name, node_id)
        except Exception as exc:
            outcome, detail = "error", {"error": f"{type(exc).__name__}: {exc}"}
            log.exception("call %s: node %s.%s raised", call.uuid, scenario.name, node_id)
        if call.step_detail:
            detail = {**call.step_detail, **(detail or {})}
        # Node ids are unique within a scenario; after a goto, qualify them with their scenario.
        step_node = node_id if scenario.name == record.scenario else f"{scenario.name}.{node_id}"
        ended = call.now()
        step = StepRecord(seq=len(record.steps), node=step_node, node_type=node.type, outcome=outcome,
                          started_at=started, ended_at=ended, detail=detail)
        record.steps.append(step)
        self.services.records.step(record, step)
        if self.observer is not None:
            self.observer.step(node.type, outcome, (ended - started).total_seconds())
        return outcome

    def _runaway(self, call: Call, record: CallRecord, busy: int) -> bool:
        """True when the call must end: too many steps without FreeSWITCH doing anything, or at all."""
        if busy > MAX_BUSY_STEPS or len(record.steps) >= MAX_STEPS:
            log.error("call %s: %d steps (%d in a row without FreeSWITCH doing anything); ending the "
                      "call as runaway", call.uuid, len(record.steps), busy)
            return True
        return False

    # ---- the end --------------------------------------------------------------------------

    def _finish(self, call: Call, record: CallRecord) -> None:
        conn = call.conn
        handoff = call.handoff or NO_HANDOFF
        try:
            if handoff.keep_until_hangup or conn.left_socket_app:
                # Transferred, queued, parked: not ours to end. The connection stays (closing it
                # would disturb what runs the call now) until FreeSWITCH reports the hangup.
                conn.hungup.wait(self.services.config.app_timeout)
            elif handoff.released:
                # exit node: the number's dialplan goes on once the socket session ends; do that
                # before any post-call work so the caller does not wait in silence meanwhile.
                conn.close()
            elif not conn.hungup.is_set() and not conn.kill_cause:
                conn.kill(FAULT_CAUSE if (record.fault or conn.error) else "NORMAL_CLEARING")
                conn.hungup.wait(HANGUP_CONFIRM)
            scenario = self.services.scenarios.get(record.scenario) if record.scenario else None
            if scenario is not None and scenario.after_call:
                call.vars.update(finished_call(call, record, _ended_at(conn) or call.now(), self.services.archive))
                call.after_call = True
                self._walk(call, scenario, scenario.after_call, record)
        except Exception:
            log.exception("call %s: post-call work failed", call.uuid)
        finally:
            record.ended_at = _ended_at(conn) or call.now()
            final = conn.hangup_complete or conn.hangup_event
            record.answered_at = ((final is not None and channel_time(final.get("Caller-Channel-Answered-Time")))
                                  or call.answered_at or record.answered_at)
            # Read again: an exit in the post-call chain releases the call too.
            released = call.handoff is not None and call.handoff.released
            if conn.error:
                _add_fault(record, conn.error)
            if conn.hangup_event is None and conn.kill_cause and conn.hangup_by in ("server", "socket"):
                # We asked for the hangup and FreeSWITCH never reported one: what we asked for is
                # the cause best known, and the record says it was not confirmed.
                record.hangup_cause, record.hangup_by = conn.kill_cause, "server"
                _add_fault(record, f"{conn.kill_error or 'uuid_kill sent'}; FreeSWITCH never reported the hangup")
            else:
                record.hangup_cause = conn.hangup_cause or ("RELEASED" if released else "")
                record.hangup_by = conn.hangup_by or ("ivr_exit" if released else "")
            if conn.hangup_event is None and call.uuid:
                # The channel may still be up (exit, transfer, a closed socket): it can come back.
                self._remember(call.uuid, record.session)
            self._cancel_callbacks(call, record)
            try:
                self.services.records.end(record)
            except Exception:
                log.exception("call %s: could not queue the call record", call.uuid)
            self._report(record)

    def _report(self, record: CallRecord) -> None:
        """The one INFO line per finished call (both log formats), and the observer's count."""
        outcome = final_outcome(record)
        duration = (record.ended_at - record.started_at).total_seconds() if record.ended_at else 0.0
        log_ctx = current_call.get()
        if log_ctx is not None:
            log_ctx.node = ""  # the line is about the call, not its last node
        log.info("call %s finished: %s -> %s, scenario %s, %d steps, %s, %.1f s", record.uuid,
                 record.caller or "-", record.number or "-", record.scenario or "-", len(record.steps),
                 outcome, duration,
                 extra={"fields": {"event": "call_finished", "caller": record.caller, "path_length": len(record.steps),
                                   "outcome": outcome, "hangup_cause": record.hangup_cause,
                                   "duration": round(duration, 3)}})
        if self.observer is not None:
            self.observer.call_finished(record.scenario or "", outcome)

    def _remember(self, uuid: str, session: int) -> None:
        sessions = self._sessions
        sessions[uuid] = session
        if len(sessions) > REMEMBERED_CHANNELS:
            del sessions[next(iter(sessions))]


def final_outcome(record: CallRecord) -> str:
    """How a call ended, in the few words metrics and the finished-call log line count by:
    ``no_scenario`` (its number has none), ``released`` (an exit node gave it back to the dialplan),
    ``error`` (its last step failed), ``left`` (transferred, queued, parked: it left the IVR),
    ``caller_hangup`` (the caller hung up), ``completed`` (the scenario ended it)."""
    if not record.scenario:
        return "no_scenario"
    last = record.steps[-1].outcome if record.steps else ""
    if record.hangup_by == "ivr_exit":
        return "released"
    if last == "error":
        return "error"
    if last == LEFT:
        return "left"
    if record.hangup_by == "caller":
        return "caller_hangup"
    return "completed"


def _add_fault(record: CallRecord, text: str) -> None:
    record.fault = f"{record.fault}; {text}" if record.fault else text


def _ended_at(conn: OutboundConnection) -> datetime | None:
    """When the channel hung up, on FreeSWITCH's clock. CHANNEL_HANGUP_COMPLETE carries it in
    Caller-Channel-Hangup-Time; CHANNEL_HANGUP still says 0 there (traces 02, 09), but its own
    Event-Date-Timestamp is that moment - and HANGUP_COMPLETE may not have arrived yet."""
    if conn.hangup_complete is not None:
        ended = channel_time(conn.hangup_complete.get("Caller-Channel-Hangup-Time"))
        if ended is not None:
            return ended
    if conn.hangup_event is not None:
        return channel_time(conn.hangup_event.get("Event-Date-Timestamp"))
    return None
