"""The agent's in-call menu on a queue call (spec §5): the agent presses * and a key while talking
to a caller that mod_callcenter bridged to them. Used by the ``queue`` node (``agent_menu: true``).

How the keys reach us (FreeSWITCH v1.11.1; docs/freeswitch-notes.md §11, traces 13/13b):
- The agent leg is originated by mod_callcenter and joined to the caller with
  ``switch_ivr_uuid_bridge`` (mod_callcenter.c outbound_agent_thread_run), so we never run an app on
  it before the bridge. But ``bind_meta_app`` hooks the *session* (switch_ivr_async.c
  switch_ivr_bind_dtmf_meta_session adds send/recv DTMF hooks), not an application: bound on the
  caller's channel before ``callcenter`` they stay through the uuid_bridge. Listen flag ``b`` = keys
  the caller's channel *sends*, i.e. what the bridge passes on from the agent
  (switch_ivr_bridge.c audio_bridge_thread → switch_core_session_send_dtmf). ``*`` and the bound key
  are swallowed, so the caller does not hear them.
- Respond flag ``s`` on a ``b`` binding runs the app on the bridge partner — the agent — as a
  broadcast with SMF_HOLD_BLEG: switch_ivr.c switch_ivr_parse_event first loops the hold music onto
  the agent's partner (the caller: ``hold_music`` of the partner, else the agent's, else the
  global), runs the app, then stops the music. So "the caller hears music" exactly while the agent
  is in the menu, with no command from us.
- The app is ``play_and_get_digits`` on the agent leg: the agent's keys go to it, not to the
  caller (the agent's bridge thread is inside the app). We see on the caller's socket (it lingers
  after ``callcenter`` left it) the hold music's CHANNEL_EXECUTE / _COMPLETE, then read what the
  agent keyed with ``uuid_getvar <agent> <var>``.
- Hold (4) needs no help from us: it is a ``play_and_get_digits`` waiting for 5 (up to
  HOLD_TRIES minutes), the caller hearing the music meanwhile. Not ``uuid_hold``: it sets
  CF_SUSPEND, and a suspended bridge passes no DTMF (switch_ivr_bridge.c), so the agent's 5 would
  never come back through the caller's binding.
- Transfer, blind: the dialled target is bridged *inside* the caller's bridge (``uuid_broadcast
  <caller> bridge::<dial string> aleg``; the bridge loop runs private events nested, as trace 13b
  shows for meta apps), and once that bridge started the agent leg is killed: the agent is free at
  once, the caller's outer bridge ends when the transferred call does.
- Department (``*2``): a group is rung as ``*1`` rings a number; a queue gets the caller through
  ``uuid_transfer <caller> callcenter:<queue> inline`` (the transfer hangs the agent up).
- Transfer, consult: FreeSWITCH's ``att_xfer`` broadcast onto the agent leg (``aleg,holdb``).
  Details and the source relied on: docs/freeswitch-notes.md §11a.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent.event

from fsivr import ringing
from fsivr.engine.call import Call, expand_escape, quote_arg
from fsivr.esl.errors import ChannelHangup, EslError
from fsivr.esl.frames import Event
from fsivr.ringing.causes import classify_event
from fsivr.ringing.dialstrings import dial_string
from fsivr.ringing.targets import parse_target
from fsivr.store.names import QUEUE_NAME

log = logging.getLogger(__name__)

#: The agent's cue that the menu listens (a short beep on the agent leg only).
BEEP = "tone_stream://%(150,0,880)"
#: While the caller is on hold the agent hears this once a minute (a low, short tone).
HOLD_BEEP = "tone_stream://%(100,0,440)"
SILENCE = "silence_stream://250"
#: The agent keyed a department nobody has: a short reorder-like tone on the agent leg only
#: (teletone segments separated by ';', libteletone_generate.c teletone_run).
ERROR_TONE = "tone_stream://%(200,100,480,620);%(200,100,480,620);%(200,100,480,620)"
#: Variables play_and_get_digits leaves on the agent leg, per menu key.
NUMBER_VAR = "fsivr_agent_number"
DEPARTMENT_VAR = "fsivr_agent_department"
DICTATED_VAR = "fsivr_agent_dictated"
HELD_VAR = "fsivr_agent_held"
#: Minutes a hold may last (one play_and_get_digits try of 60 s each).
HOLD_TRIES = 30
#: blind: the agent is released as soon as the transfer starts; on_answer: when the far end
#: answers (if it does not, the caller is back with the agent); consult: the agent talks to the far
#: end first (FreeSWITCH's att_xfer on the agent leg) and completes with * or cancels with #.
TRANSFER_MODES = ("blind", "on_answer", "consult")
#: att_xfer's own keys (mod_dptools.c att_thread_run defaults; set on the agent leg so a changed
#: default elsewhere cannot change what the README promises the agent)
CONSULT_COMPLETE_KEY, CONSULT_CANCEL_KEY = "*", "#"
#: How long the controller waits for the transferred bridge to start before freeing the agent anyway.
BRIDGE_START = 10.0
#: After the dictated number was read to the caller: how long the caller has to press 1 or 2.
OFFER_WAIT = 15.0
#: Fallback poll of the agent leg's variables, in case an event was missed.
POLL = 5.0


def bindings() -> list[str]:
    """``bind_meta_app`` arguments for the caller's channel, sent before ``callcenter``."""
    return [
        # 1: a number ended by # (digits only: nothing the agent keys reaches a dial string but digits)
        f"1 b s play_and_get_digits::1 20 3 10000 # {BEEP} {SILENCE} {NUMBER_VAR} [0-9]+ 5000",
        # 2: a department, exactly three digits (no # needed: the third key ends the try)
        f"2 b s play_and_get_digits::3 3 3 10000 # {BEEP} {SILENCE} {DEPARTMENT_VAR} [0-9]+ 5000",
        # 3: a number read out to the caller, who presses 1 to be connected to it, 2 to stay
        f"3 b s play_and_get_digits::1 20 3 10000 # {BEEP} {SILENCE} {DICTATED_VAR} [0-9]+ 5000",
        # 4: hold until the agent presses 5
        f"4 b s play_and_get_digits::1 1 {HOLD_TRIES} 60000 none {HOLD_BEEP} {SILENCE} {HELD_VAR} 5 5000",
    ]


class AgentMenu:
    """Follows one bridged queue call until it ends, acting on what the agent keyed."""

    def __init__(self, call: Call, agent_uuid: str, mode: str, detail: dict[str, Any],
                 language: str | None = None, voice: str | None = None, ring_timeout: int = 30) -> None:
        self.call, self.agent_uuid, self.mode = call, agent_uuid, mode
        self.ring_timeout = ring_timeout
        self.language, self.voice = language, voice
        self.caller_key = gevent.event.AsyncResult()
        self.actions: list[dict[str, Any]] = detail.setdefault("agent_menu", [])
        self.changed = gevent.event.Event()
        self.bridge_started = gevent.event.Event()
        self.bridge_answered = gevent.event.Event()
        self.bridge_done: Event | None = None
        #: the hold music of the caller ended (a consultation's att_xfer returned)
        self.music_ended = gevent.event.Event()
        #: *2 moved the caller into another queue: its agent (cc_agent_uuid) gets the menu next
        self.requeued = False
        self.music_since: float | None = None
        #: while the dictated number is read to the caller its playback is not hold music
        self.offering = False
        self.started = time.monotonic()

    def on_event(self, event: Event) -> None:
        """Runs in the hub: only notes what happened."""
        name, app = event.get("Event-Name"), event.get("Application") or ""
        if name == "DTMF" and not self.caller_key.ready():
            self.caller_key.set(event.get("DTMF-Digit") or "")
            return
        if app == "playback" and self.offering:
            pass
        elif app == "playback" and name == "CHANNEL_EXECUTE" and self.music_since is None:
            self.music_since = time.monotonic()  # the hold music a meta app put on the caller
        elif app == "playback" and name == "CHANNEL_EXECUTE_COMPLETE" and self.music_since is not None:
            self.actions.append({"action": "music", "at": round(self.music_since - self.started, 1),
                                 "seconds": round(time.monotonic() - self.music_since, 1)})
            self.music_since = None
            self.music_ended.set()
            self.changed.set()
        elif app == "bridge" and name == "CHANNEL_EXECUTE":
            self.bridge_started.set()
        elif app == "bridge" and name == "CHANNEL_EXECUTE_COMPLETE":
            self.bridge_done = event
            self.bridge_answered.set()  # (or not: it is over either way)
            self.changed.set()
        elif name == "CHANNEL_BRIDGE" and self.bridge_started.is_set():
            # the transfer's own bridge (the agent's came before bridge_started)
            self.bridge_answered.set()

    def follow(self) -> None:
        call = self.call
        with call.listen(self.on_event):
            while not call.conn.hungup.is_set():
                self.changed.wait(POLL)
                self.changed.clear()
                if call.conn.hungup.is_set():
                    break
                try:
                    self._check()
                except ChannelHangup:
                    break
                except EslError as exc:
                    # one action failed; the call and the menu go on
                    log.warning("call %s: agent menu: %s", call.uuid, exc)

    def _agent_var(self, name: str) -> str:
        reply = self.call.api(f"uuid_getvar {self.agent_uuid} {name}").strip()
        if not reply or reply.startswith(("-ERR", "_undef_")):
            return ""
        self.call.api(f"uuid_setvar {self.agent_uuid} {name}")  # taken: unset
        return reply

    def _check(self) -> None:
        if self.requeued:
            # the bindings are the caller's: they serve whoever answers in the next queue
            uuid = self.call.api(f"uuid_getvar {self.call.uuid} cc_agent_uuid").strip()
            if uuid and not uuid.startswith(("-ERR", "_undef_")) and uuid != self.agent_uuid:
                self.agent_uuid = uuid
                self.actions.append({"action": "next_agent", "at": round(time.monotonic() - self.started, 1)})
        if self.bridge_done is not None:
            done, self.bridge_done = self.bridge_done, None
            outcome, cause = classify_event(done)
            pending = next((a for a in reversed(self.actions) if "mode" in a), None)
            if pending is not None and "result" not in pending:
                pending["result"], pending["cause"] = outcome, cause
        if self._agent_var(HELD_VAR):
            self.actions.append({"action": "hold_ended"})
        number = self._agent_var(NUMBER_VAR)
        if number:
            self._transfer(number)
        department = self._agent_var(DEPARTMENT_VAR)
        if department:
            self._department(department)
        dictated = self._agent_var(DICTATED_VAR)
        if dictated:
            self._offer(dictated)

    def _offer(self, number: str) -> None:
        """Read the number to the caller (inside its bridge, the agent waiting), then the caller's
        key decides: 1 = transfer there (the queue's transfer mode), anything else or nothing = the
        caller stays with the agent."""
        call = self.call
        entry: dict[str, Any] = {"action": "offer", "number": number}
        self.actions.append(entry)
        self.caller_key = gevent.event.AsyncResult()
        self.offering = True
        try:
            # digits spaced out: the TTS engine reads them one by one
            call.broadcast(call.playable(text=" ".join(number), language=self.language, voice=self.voice))
            key = self.caller_key.get(timeout=OFFER_WAIT)
        except gevent.Timeout:
            key = ""
        finally:
            self.offering = False
        entry["caller_pressed"] = key
        if key == "1":
            self._transfer(number)
        else:
            entry["result"] = "back_to_agent"

    def _department(self, dep: str) -> None:
        """``*2`` and three digits: the group of that id is rung as ``*1`` rings a number (the
        queue's transfer mode); a queue takes the caller as a new member and the agent is free;
        an id nobody has: the agent hears the error tone and keeps the caller."""
        call = self.call
        found = call.services.directory.department(dep)
        if found is None:
            self.actions.append({"action": "department", "department": dep, "result": "unknown"})
            # on the agent leg alone (no hold flags: the caller is not put on music for it)
            call.api(f"uuid_broadcast {self.agent_uuid} {ERROR_TONE} aleg")
            return
        kind, name = found
        if kind == "group":
            self._transfer(f"group:{name}", {"action": "department", "department": dep, "group": name})
            return
        entry: dict[str, Any] = {"action": "department", "department": dep, "queue": name}
        self.actions.append(entry)
        if not QUEUE_NAME.match(name):  # the import refuses such names; never into a command
            entry["result"] = "invalid"
            return
        # The caller leaves the agent's bridge for the inline dialplan ``callcenter <queue>``
        # (mod_dptools.c inline_dialplan_hunt: "app:data"). switch_ivr_session_transfer hangs the
        # bridged agent up (BLIND_TRANSFER, switch_ivr.c): mod_callcenter ends the agent's call and
        # the agent is free. Our exit/callback keys belong to this node's queue: not the next one's.
        call.api(f"uuid_setvar {call.uuid} cc_exit_keys")
        reply = call.api(f"uuid_transfer {call.uuid} callcenter:{name} inline")
        if not reply.startswith("+OK"):
            entry["result"] = "failed"
            return
        entry["result"], entry["agent_released"] = "queued", True
        self.requeued = True

    def _transfer(self, number: str, entry: dict[str, Any] | None = None) -> None:
        call = self.call
        entry = {**(entry or {"action": "transfer"}), "number": number, "mode": self.mode}
        self.actions.append(entry)
        try:
            target = parse_target(number)
        except ValueError:
            entry["result"] = "invalid"
            return
        resolver = ringing.resolver_for(call)
        legs = resolver.legs(target, self.ring_timeout)
        resolver.report(call, "agent_menu")
        if not legs:
            entry["result"] = "invalid"
            return
        dial = dial_string(legs, "simultaneous")
        if self.mode == "consult":
            self._consult(entry, dial)
            return
        self.bridge_started.clear()
        self.bridge_answered.clear()
        reply = call.api(f"uuid_broadcast {call.uuid} {expand_escape(quote_arg('bridge::' + dial))} aleg")
        if not reply.startswith("+OK"):
            entry["result"] = "failed"
            return
        entry["dial"] = dial
        self.bridge_started.wait(BRIDGE_START)
        if self.mode == "on_answer":
            # the agent stays (silent: the caller's bridge runs the transfer) until the far end
            # answers; if the transfer fails the bridge app ends and the caller is back with them
            while not self.bridge_answered.wait(1.0):
                if call.conn.hungup.is_set():
                    return
            done = self.bridge_done
            if done is not None and classify_event(done)[0] != "answered":
                self.bridge_done = None
                entry["result"], entry["cause"] = classify_event(done)
            if "result" in entry or call.conn.hungup.is_set():
                entry["agent_released"] = False
                return
        call.api(f"uuid_kill {self.agent_uuid}")
        entry["agent_released"] = True

    def _consult(self, entry: dict[str, Any], dial: str) -> None:
        """att_xfer on the agent leg (mod_dptools.c att_thread_run), broadcast with ``aleg,holdb``:
        it rings the target from the agent, the caller on hold music while it runs (SMF_HOLD_BLEG);
        answered, the agent talks to the target and presses * (complete: the agent's leg hangs up,
        the target is uuid_bridged to the caller) or # (cancel: the target is hung up and the agent
        is uuid_bridged back to the caller, ``att_xfer_result=success`` on the agent). Not answered:
        the app ends, the agent is still with the caller, ``originate_disposition`` says why.
        The controller learns which when the caller's music stops."""
        call = self.call
        agent = self.agent_uuid
        call.api(f"uuid_setvar {agent} attxfer_hangup_key {CONSULT_COMPLETE_KEY}")
        call.api(f"uuid_setvar {agent} attxfer_cancel_key {CONSULT_CANCEL_KEY}")
        call.api(f"uuid_setvar {agent} att_xfer_result")
        call.api(f"uuid_setvar {agent} originate_disposition")
        self.music_ended.clear()
        entry["dial"] = dial
        reply = call.api(f"uuid_broadcast {agent} {expand_escape(quote_arg('att_xfer::' + dial))} aleg,holdb")
        if not reply.startswith("+OK"):
            entry["result"] = "failed"
            return
        while not self.music_ended.wait(1.0):
            if call.conn.hungup.is_set():
                return
        # Both variables are set before the app returns (and the music stops): the originate's
        # disposition by switch_ivr_originate, the cancel's result by att_thread_run. A completed
        # transfer leaves the agent's leg hung up (maybe not yet gone) with neither changed.
        result = self._agent_raw(agent, "att_xfer_result")
        disposition = self._agent_raw(agent, "originate_disposition")
        if result == "success":
            entry["result"], entry["agent_released"] = "cancelled", False
        elif result is not None and disposition not in (None, "", "SUCCESS"):
            entry["result"], entry["cause"], entry["agent_released"] = "not_answered", disposition, False
        else:
            entry["result"], entry["agent_released"] = "completed", True

    def _agent_raw(self, uuid: str, name: str) -> str | None:
        """A variable of the agent leg: None if the leg is gone, "" if unset."""
        reply = self.call.api(f"uuid_getvar {uuid} {name}").strip()
        if reply.startswith("-ERR"):
            return None
        return "" if reply == "_undef_" else reply
