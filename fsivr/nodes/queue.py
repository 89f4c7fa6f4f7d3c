"""queue: the caller waits in a mod_callcenter queue, hearing its place in line, the estimated wait
and periodic messages, until an agent answers, the caller presses the exit key, the node's
max_wait passes or nobody is logged in any more.

What this relies on in mod_callcenter.c (FreeSWITCH v1.11.1, callcenter_function and moh_on_dtmf;
docs/freeswitch-notes.md §10, traces 07, 11, 12, 12b):
- ``callcenter <queue>`` answers the channel, adds the member row and plays the queue's music in a
  loop; the app completes when an agent is bridged (``cc_cause=answered``; the socket app completes
  right after it and the call leaves the IVR, bridged to the agent), or when the wait is cancelled
  (``cc_cause=cancel``, ``cc_cancel_reason``).
- ``cc_exit_keys`` (read from the channel before each music file): a key in it ends the wait with
  ``cc_cancel_reason=EXIT_WITH_KEY`` and ``cc_exit_key=<key>``. mod_callcenter has no command that
  takes one member out of line, so the node ends the wait the same way: the keys it sets are the
  scenario's exit key plus ``D`` (a DTMF digit no phone keypad has), and ``uuid_recv_dtmf <uuid> D``
  (mod_commands.c: queued on the channel as if received) ends it for max_wait and no_agents.
- No position or wait announcement of its own (its ``announce-sound`` is one fixed file as a
  displace): the node sends ``uuid_broadcast <uuid> <file> aleg``, which plays inside the wait and
  leaves the member in line — only because ``callcenter`` is started *without* event-lock (with it,
  the broadcast stays queued and is flushed unplayed, trace 12 vs 12b).
- The place in line: ``queue list members`` (ORDER BY score DESC), read through the shared
  engine/queueboard.py, at most once per interval per queue for every caller in it, and only when
  a caller needs it (joining, an announcement due); the agents list once per interval per queue.

The place-keeping callback (``callback_key``, offered only to callers who join within
``callback_hours``): the key is one more of ``cc_exit_keys``; pressed, the caller hears a
confirmation and the call ends with ``callback``. The node writes an outbox job of kind
``queue_callback`` with the caller's ``cc_queue_joined_epoch``; fsivr worker
(fsivr/worker/queuecallback.py) enters a placeholder member for it with ``cc_base_score`` = now -
that epoch, so its score ``(now - joined_epoch) + base_score`` (callcenter_function's INSERT and the
dispatch thread's ORDER BY score DESC, trace 14) equals the one the caller would have had.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fsivr import ringing
from fsivr.callcenter.commands import ListError, parse_list
from fsivr.engine.call import Call, RingResult
from fsivr.engine.callbacks import callback_key as job_key
from fsivr.engine.hours import AllowedHours, check_hours, check_zone, windows
from fsivr.engine.node import Node, Param, Ref
from fsivr.engine.queueboard import QueueSnapshot
from fsivr.engine.registry import register
from fsivr.esl.errors import ChannelHangup, ChannelLeft, EslError
from fsivr.esl.frames import Event
from fsivr.nodes import _agentmenu
from fsivr.speech.queue import (
    callback_agent_sentence,
    callback_confirm_sentence,
    callback_offer_sentence,
    position_sentence,
    wait_sentence,
)
from fsivr.store import queuewaits
from fsivr.store.phone import DIALLABLE

log = logging.getLogger(__name__)

#: The key the node "presses" (uuid_recv_dtmf) to end the wait: DTMF D, the fourth column of the
#: DTMF matrix, which telephone keypads do not have — a caller cannot press it by accident.
CONTROL_KEY = "D"
#: How often the node looks at the queue (and at its own clocks) while the caller waits.
TICK = 1.0
#: After pressing the control key, how long before pressing it again (it is read between music
#: files and after a broadcast that plays; a lost key must not keep the caller forever).
RESEND = 5.0
KEYS = tuple("0123456789*#")


#: The outbox kind of a place-keeping callback (fsivr/worker/queuecallback.py places it).
CALLBACK_KIND = "queue_callback"


def _check_key(value: str) -> str:
    if value not in KEYS:
        raise ValueError("must be one key: 0-9, * or #")
    return value


@register
class QueueNode(Node):
    type = "queue"
    summary = ("put the caller in a mod_callcenter queue with music, position and estimated-wait "
               "announcements and periodic messages")
    params = {
        "queue": Param(str, required=True, ref="queue", doc="the queue (its name in the directory)"),
        "announce_position": Param(bool, default=True, doc="say the caller's place in line"),
        "announce_wait": Param(bool, default=True,
                               doc="say the estimated wait, from this queue's recent answered calls "
                                   "(their waits and the agents' handling times)"),
        "announce_every": Param(float, default=60.0, between=(2, 3600), unit="seconds",
                                doc="seconds between announcements (the first comes right after joining)"),
        "periodic_prompts": Param(list, default=[], doc="prompts (ads) played in turn between announcements"),
        "max_wait": Param(float, between=(0, 86400), low_open=True, unit="seconds",
                          doc="leave the queue with `timeout` after this long"),
        "exit_key": Param(str, check=_check_key, doc="a key that leaves the queue with `exit`"),
        "callback_key": Param(str, check=_check_key,
                              doc="a key that ends the call with `callback`: the caller is called back "
                                  "when their place in line reaches an agent"),
        "callback_hours": Param((str, list), default=None, check=check_hours,
                                doc="the queue's hours for callbacks, e.g. 08:00-20:00 (required with "
                                    "callback_key): the key is offered only to callers who join then"),
        "timezone": Param(str, default="UTC", check=check_zone, doc="IANA timezone of callback_hours"),
        "callback_caller_id": Param(str, default="",
                                    doc="caller ID number the callback shows (e.g. the company's number)"),
        "language": Param(str, doc="language of the announcements (default: the configured language)"),
        "voice": Param(str, doc="TTS voice of the announcements (overrides the language's voice)"),
        # the agent's in-call menu (spec §5): fsivr/nodes/_agentmenu.py
        "agent_menu": Param(bool, default=False,
                            doc="the answering agent's in-call menu: *1 transfer to a number ended by #, "
                                "*2 transfer to a department (three digits: a queue or a group), *3 a number "
                                "ended by # read to the caller, who presses 1 to be transferred "
                                "there or 2 to stay, *4 hold (the caller hears music) until the agent "
                                "presses 5"),
        "transfer_mode": Param(str, default="blind", choices=_agentmenu.TRANSFER_MODES,
                               doc="how *1/*2/*3 transfer: blind = the agent is released at once, on_answer = "
                                   "when the far end answers, consult = the agent talks to the far end first "
                                   "(* completes, # cancels)"),
        "transfer_ring_timeout": Param(int, default=30, between=(1, 300), unit="seconds",
                                       doc="how long a transfer target (*1, a group by *2, *3) rings"),
    }
    outcomes = ("answered", "timeout", "exit", "no_agents", "callback")
    waits = True
    #: Nobody logged in at entry: the caller is not made to wait.
    instant_outcomes = ("no_agents",)
    ending_outcomes = ("answered",)

    def compile(self) -> None:
        prompts = self.p["periodic_prompts"]
        if not all(isinstance(p, str) and p for p in prompts):
            raise self.error("must be a list of prompt names", "periodic_prompts")
        self.refs.append(Ref("queue", self.p["queue"], "queue"))
        self.refs.extend(Ref("prompt", p, "periodic_prompts") for p in prompts)
        key = self.p["callback_key"]
        self.hours: AllowedHours | None = None
        if key:
            if key == self.p["exit_key"]:
                raise self.error("must differ from exit_key", "callback_key")
            if not self.p["callback_hours"]:
                raise self.error("the queue's hours for callbacks are required with callback_key",
                                 "callback_hours")
            self.hours = AllowedHours.parse(windows(self.p["callback_hours"]), self.p["timezone"])
        cid = self.p["callback_caller_id"]
        if cid and not DIALLABLE.match(cid):
            raise self.error(f"{cid!r} is not a number", "callback_caller_id")

    def possible_outcomes(self) -> tuple[str, ...]:
        out = ["answered", "no_agents"]
        if self.p["max_wait"]:
            out.append("timeout")
        if self.p["exit_key"]:
            out.append("exit")
        if self.p["callback_key"]:
            out.append("callback")
        return tuple(out)

    def _offers_callback(self, call: Call) -> bool:
        """The callback key is offered to a caller who joins within the queue's hours, whose number
        can be dialled back, when there is a store to keep the job in."""
        return (self.hours is not None and call.services.callbacks is not None
                and bool(DIALLABLE.match(call.caller or "")) and self.hours.allows(call.now()))

    # ---- run ----------------------------------------------------------------------------------

    def run(self, call: Call) -> str:
        queue = self.p["queue"]
        board = call.services.queues
        detail: dict[str, Any] = call.step_detail
        detail["queue"] = queue
        if board.snapshot(queue, call.api, members=False).logged_in == 0:
            return self._ended(call, "no_agents", "NO_AGENTS")
        call.answer()
        offer = self._offers_callback(call)
        detail["callback_offered"] = offer
        keys = (self.p["exit_key"] or "") + (self.p["callback_key"] if offer else "") + CONTROL_KEY
        call.set_channel_vars({"cc_exit_keys": keys})
        history = self._history(call, queue)
        if self.p["announce_position"] or self.p["announce_wait"]:
            # Any channel variable the TTS voice needs is set now: once callcenter runs without
            # event-lock, a sendmsg would run nested inside its wait.
            language = self.p["language"] or call.services.config.language
            call.playable(text=position_sentence(1, language), language=language, voice=self.p["voice"])
        if self.p["agent_menu"]:
            # bound on the caller's session: the hooks outlive callcenter's uuid_bridge to the agent;
            # a transfer that fails must give the caller back, not hang up (switch_channel_handle_cause)
            call.set_channel_vars({"continue_on_fail": "true"})
            # the TTS voice's channel variables too (the dictated number is spoken after callcenter)
            language = self.p["language"] or call.services.config.language
            call.playable(text="1", language=language, voice=self.p["voice"])
            for binding in _agentmenu.bindings():
                call.execute("bind_meta_app", binding, timeout=call.quick_timeout)
        started = time.monotonic()
        pending = call.start("callcenter", queue, lock=False)
        wait = _Wait(self, call, history, started, offer)
        try:
            with call.listen(wait.on_event):
                while True:
                    event = call.running(pending, TICK)
                    if event is not None:
                        break
                    wait.tick(board.snapshot(queue, call.api, members=wait.needs_place()))
        except ChannelLeft:
            # The socket app's completion overtook the callcenter one: the call was bridged away.
            event = None
        except ChannelHangup:
            waited = round(time.monotonic() - started)
            detail["waited"] = waited
            self._remember(call, queue, wait.position_at_join or 1, waited, "hangup")
            raise
        waited = _waited(event) if event is not None else None
        if waited is None:
            waited = round(time.monotonic() - started)
        detail["waited"] = waited
        outcome = self._outcome(call, event, wait.ended_by)
        if outcome == "callback":
            self._register(call, queue, event, started)
        if outcome == "answered":
            agent = (event.variable("cc_agent") if event is not None else None) or self._serving_agent(call, queue)
            detail["agent"] = agent or ""
            call.last_ring = RingResult(ringing.ANSWERED, "", f"agent:{agent}" if agent else "")
        else:
            call.last_ring = RingResult(ringing.FAILED if outcome == "no_agents" else ringing.NO_ANSWER,
                                        outcome.upper())
        self._remember(call, queue, wait.position_at_join or 1, waited, outcome)
        if outcome == "answered" and self.p["agent_menu"]:
            self._follow_agent(call, detail)
        return outcome

    def _follow_agent(self, call: Call, detail: dict[str, Any]) -> None:
        """The agent's in-call menu lasts as long as the bridged call: the step ends with it."""
        try:
            agent_uuid = call.api(f"uuid_getvar {call.uuid} cc_agent_uuid").strip()
        except EslError:
            return
        if not agent_uuid or agent_uuid.startswith(("-ERR", "_undef_")):
            return
        language = self.p["language"] or call.services.config.language
        _agentmenu.AgentMenu(call, agent_uuid, self.p["transfer_mode"], detail, language, self.p["voice"],
                             self.p["transfer_ring_timeout"]).follow()

    def _outcome(self, call: Call, event: Any, ended_by: str | None) -> str:
        if event is None:
            return "answered"
        if event.variable("cc_cause") == "answered" or call.left:
            return "answered"
        reason = event.variable("cc_cancel_reason") or ""
        key = event.variable("cc_exit_key") or ""
        if reason == "EXIT_WITH_KEY" and key and key == self.p["exit_key"]:
            return "exit"
        if reason == "EXIT_WITH_KEY" and key and key == self.p["callback_key"]:
            return "callback"
        if ended_by is not None:
            return ended_by
        # The queue's own limits (max-wait-time, max-wait-time-with-no-agent in callcenter.conf).
        if reason == "NO_AGENT_TIMEOUT":
            return "no_agents"
        return "timeout"

    def _register(self, call: Call, queue: str, event: Any, started: float) -> None:
        """The callback job: the caller's number, the queue and the epoch they joined it on
        FreeSWITCH's clock (``cc_queue_joined_epoch``: the placeholder's score is computed from it).
        Then the confirmation; the call ends with ``callback``. A job that cannot be kept (the
        database is away) raises: the node's ``error`` (its edge or the scenario's fallback), and
        the caller hears no promise."""
        p, detail = self.p, call.step_detail
        language = p["language"] or call.services.config.language
        joined = event.variable("cc_queue_joined_epoch") if event is not None else None
        if joined and joined.isdigit():
            joined_epoch = int(joined)
        else:  # not in the event (never seen from 1.11.1): our own clock at the join
            joined_epoch = int(call.now().timestamp() - (time.monotonic() - started))
        assert self.hours is not None and call.services.callbacks is not None
        now = call.now()
        payload = {"number": call.caller, "queue": queue, "joined_epoch": joined_epoch,
                   "caller_id": p["callback_caller_id"], "language": language,
                   # played to the agent by mod_callcenter itself (cc_outbound_announce) on answering
                   "agent_announce": call.playable(text=callback_agent_sentence(language), language=language,
                                                   voice=p["voice"]),
                   "allowed_hours": [w for w in windows(p["callback_hours"])], "timezone": p["timezone"],
                   "requested_by": call.uuid, "scenario": call.scenario or "", "node": self.id}
        if payload["agent_announce"].startswith("say:"):
            # FreeSWITCH speaks it (switch_ivr_play_file "say:" reads tts_engine/tts_voice from the
            # channel it plays on): the agent's leg gets them through cc_export_vars.
            cfg = call.services.config
            payload["agent_vars"] = {"tts_engine": cfg.tts_engine, "tts_voice": p["voice"] or cfg.voice_for(language)}
        done = call.services.callbacks.register(job_key(call.caller, call.uuid, self.id), payload, now, now,
                                                call.uuid, kind=CALLBACK_KIND)
        detail.update(callback=done.id, joined_epoch=joined_epoch)
        call.last_ring = RingResult(ringing.NO_ANSWER, "CALLBACK")
        try:
            call.play(call.playable(text=callback_confirm_sentence(language), language=language, voice=p["voice"]))
        except ChannelHangup:
            # Hung up during the confirmation: the callback is registered all the same.
            detail["confirmation"] = "cut short by the caller's hangup"

    def _ended(self, call: Call, outcome: str, cause: str) -> str:
        call.last_ring = RingResult(ringing.FAILED, cause)
        return outcome

    @staticmethod
    def _history(call: Call, queue: str) -> list[queuewaits.Wait]:
        try:
            return call.services.data.queue_history(queue)
        except Exception as exc:  # no store wired, or the database is away: no estimate, the call goes on
            log.warning("call %s: queue %s: no wait history (%s)", call.uuid, queue, exc)
            return []

    @staticmethod
    def _remember(call: Call, queue: str, position: int, waited: int, outcome: str) -> None:
        try:
            call.services.data.queue_wait(queuewaits.Wait(queue, position, waited, outcome, call.now(), call.uuid))
        except Exception as exc:
            log.warning("call %s: queue %s: wait not recorded (%s)", call.uuid, queue, exc)

    @staticmethod
    def _serving_agent(call: Call, queue: str) -> str | None:
        """Who took the call. The agent thread sets the member's cc_agent only after
        switch_ivr_uuid_bridge (outbound_agent_thread_run), so the app's completion may come
        without it; the member row says it meanwhile (serving_agent, state Answered while the
        call lasts), and the channel variable once set."""
        try:
            rows = parse_list(call.api(f"callcenter_config queue list members {queue}"))
            found = next((r.get("serving_agent") for r in rows if r.get("session_uuid") == call.uuid), None)
            if found:
                return found
            reply = call.api(f"uuid_getvar {call.uuid} cc_agent").strip()
        except (EslError, ListError):
            return None
        return reply if reply and not reply.startswith(("-ERR", "_undef_")) else None


def _waited(event: Any) -> int | None:
    """Seconds in line as FreeSWITCH counted them: from ``cc_queue_joined_epoch`` (set by
    callcenter_function as the member joins) to the app's completion."""
    joined = event.variable("cc_queue_joined_epoch")
    done = event.get("Event-Date-Timestamp")
    try:
        return max(0, int(done) // 1_000_000 - int(joined))
    except (TypeError, ValueError):
        return None


class _Wait:
    """One caller's wait: what to say when, and whether the node has ended it."""

    def __init__(self, node: QueueNode, call: Call, history: list[queuewaits.Wait], started: float,
                 callback: bool = False) -> None:
        self.node, self.call, self.history, self.started = node, call, history, started
        #: The callback key is offered to this caller (and said in the announcements).
        self.callback = callback
        self.callback_pressed = False
        p = node.p
        self.every: float = p["announce_every"]
        self.announces = bool(p["announce_position"] or p["announce_wait"])
        self.next_announce = started if self.announces else float("inf")
        self.ads: list[str] = list(p["periodic_prompts"])
        self.next_ad = started + (self.every / 2 if self.announces else self.every)
        self.ad_index = 0
        self.position_at_join: int | None = None
        self.announced: list[int] = []
        self.ended_by: str | None = None
        self.pressed_at = 0.0
        self.exit_pressed = False

    def on_event(self, event: Event) -> None:
        """The caller pressed the exit key. callcenter's moh_on_dtmf ends the wait itself when the
        key comes during the music; during an announcement the broadcast's playback takes the key
        (mod_dptools.c playback_function's on_dtmf) and callcenter never sees it — but the DTMF
        event is fired either way (switch_channel_dequeue_dtmf), so the node ends the wait then."""
        if event.get("Event-Name") != "DTMF":
            return
        digit = event.get("DTMF-Digit")
        key = self.node.p["exit_key"]
        if key and digit == key:
            self.exit_pressed = True
        elif self.callback and digit == self.node.p["callback_key"]:
            self.callback_pressed = True

    def needs_place(self) -> bool:
        """Whether this tick needs the caller's place in line (the member list): until it has been
        seen in line, and when an announcement is due. Other ticks only check the agents."""
        if self.ended_by is not None or self.exit_pressed:
            return False
        return self.position_at_join is None or (self.announces and time.monotonic() >= self.next_announce)

    def tick(self, snap: QueueSnapshot) -> None:
        now = time.monotonic()
        call = self.call
        if (self.exit_pressed or self.callback_pressed) and self.ended_by is None:
            self.ended_by = "exit" if self.exit_pressed else "callback"
            self._press(now)
            return
        if self.ended_by is not None:
            if now - self.pressed_at >= RESEND:
                self._press(now)
            return
        position = snap.position(call.uuid)
        if position is not None and self.position_at_join is None:
            self.position_at_join = call.step_detail["position"] = position
        max_wait = self.node.p["max_wait"]
        if max_wait and now - self.started >= max_wait:
            self.ended_by = "timeout"
        elif snap.logged_in == 0:
            self.ended_by = "no_agents"
        if self.ended_by is not None:
            self._press(now)
            return
        if now >= self.next_announce and position is not None:
            self._announce(position, snap.logged_in)
            self.next_announce = now + self.every
            if self.ads:
                self.next_ad = now + self.every / 2
        elif self.ads and now >= self.next_ad:
            ad = self.ads[self.ad_index % len(self.ads)]
            self.ad_index += 1
            call.broadcast(call.playable(ad))
            self.next_ad = now + self.every if not self.announces else float("inf")

    def _press(self, now: float) -> None:
        # An announcement or ad playing (uuid_broadcast) would take the key itself (playback's
        # on_dtmf) and callcenter would not see it until RESEND: uuid_break first ends it
        # (mod_commands.c break_function: switch_channel_stop_broadcast; during the music alone
        # it ends one music file, which callcenter starts again, trace 12).
        self.pressed_at = now
        self.call.api(f"uuid_break {self.call.uuid}")
        self.call.api(f"uuid_recv_dtmf {self.call.uuid} {CONTROL_KEY}")

    def _announce(self, position: int, agents: int) -> None:
        p, call = self.node.p, self.call
        language = p["language"] or call.services.config.language
        said = []
        if p["announce_position"]:
            said.append(position_sentence(position, language))
        if p["announce_wait"]:
            said.append(wait_sentence(queuewaits.estimate(self.history, position, agents), language))
        if self.callback:
            said.append(callback_offer_sentence(p["callback_key"], language))
        self.announced.append(position)
        call.step_detail["announced"] = self.announced
        call.broadcast(call.playable(text=" ".join(said), language=language, voice=p["voice"]))
