"""The simulator object: one simulated switch placing calls into a server under test."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import gevent

from fsivr.testing.channel import Channel, SwitchIdentity
from fsivr.testing.mods import callcenter as mod_callcenter
from fsivr.testing.mods import sofia as mod_sofia
from fsivr.testing.mods import valet as mod_valet
from fsivr.testing.script import CallResult, CallScript, Target
from fsivr.testing.session import CallSession

if TYPE_CHECKING:
    from fsivr.testing.mods.queue_caller import QueueCaller


@dataclass
class Originated:
    """One originate the switch received: when (switch clock, µs), to whom, with which variables,
    how it ended (``ANSWER`` or the cause), the answered leg's uuid, and when the leg was gone."""

    at_us: int
    number: str
    variables: dict[str, str]
    outcome: str
    uuid: str = ""
    ended_us: int | None = None


class CallHandle:
    """A call running in its own greenlet (``Simulator.start_call``)."""

    def __init__(self, session: CallSession) -> None:
        self.session = session
        self.greenlet: gevent.Greenlet = gevent.spawn(session.run)

    @property
    def uuid(self) -> str:
        return self.session.channel.uuid

    def wait(self, timeout: float | None = None) -> CallResult:
        """The call's result; if it is still running after ``timeout`` the result says so."""
        limit = timeout if timeout is not None else self.session.script.timeout + 5.0
        self.greenlet.join(timeout=limit)
        if not self.greenlet.dead:
            self.greenlet.kill(block=True, timeout=1.0)
            result = self.session.result
            result.error.append(f"timeout: call still running after {limit}s")
            return result
        value = self.greenlet.value
        result = value if isinstance(value, CallResult) else self.session.result
        result.unused_digits = list(self.session.digits)
        return result

    def done(self) -> bool:
        return self.greenlet.dead


class Simulator:
    """FreeSWITCH as the server under test sees it through ``socket <address> async full``.

    ``time_scale`` scales simulated media time to real sleeping (0.0 = instant).
    ``linger_floor`` is the least real time a lingering socket stays open after the linger
    notice, so the server can still send its post-hangup commands when time is instant.
    ``pickup_delay`` is the real latency before the channel thread starts a queued sendmsg.
    ``strict_apps`` reports unknown applications in ``result.error`` (they always hang up).
    ``epoch``: the switch's own clock starts there and only moves by ``advance`` (default: the real
    clock); ``now_us`` never lags a running call's virtual clock, and a call placed without
    ``CallScript.at`` (a test's or an ``originate``'s) is created on it. Shared module state (queue members'
    epochs, ``callcenter_config`` over inbound ESL) is stamped with ``now_us``.
    """

    def __init__(
        self,
        address: tuple[str, int],
        time_scale: float = 0.0,
        linger_floor: float = 0.05,
        strict_apps: bool = False,
        pickup_delay: float = 0.001,
        epoch: datetime | None = None,
    ) -> None:
        self.address = address
        self.time_scale = time_scale
        self.linger_floor = linger_floor
        self.strict_apps = strict_apps
        self.pickup_delay = pickup_delay
        self.switch = SwitchIdentity()
        self._epoch_us = int(epoch.timestamp() * 1_000_000) if epoch is not None else None
        self._advanced_us = 0
        # module state shared by all calls of this switch
        self.valet = mod_valet.ValetLots()
        self.callcenter = mod_callcenter.CallCenter(clock=lambda: self.now_us() // 1_000_000)
        self.sofia = mod_sofia.Registrar()
        # inbound ESL listeners sharing this switch (fsivr.testing.inbound.InboundSwitch): they see
        # every event the calls fire (session.fire / mods.common.fire_ex call ``channel_event``)
        self.inbound: list = []
        # calls still running: socket-leg uuid → session, loopback A-leg uuid → session
        self._sessions: dict[str, CallSession] = {}
        # loopback legs waiting in ``callcenter`` without a socket (fsivr.testing.mods.queue_caller), by uuid
        self.queue_callers: dict[str, QueueCaller] = {}
        self._a_legs: dict[str, CallSession] = {}
        self.calls_started = 0
        self.peak_sessions = 0
        #: The dialplan's extensions that run ``socket <address> <args>`` (``originate loopback/<ext>``),
        #: as the recording's context ``esltest`` has them (README of the traces).
        self.extensions: dict[str, str] = {"sock": "async full", "socksync": "full"}
        #: Calls placed by ``api originate`` (A-leg uuid → handle); CallScript.timeout of those calls.
        self.originated: dict[str, CallHandle] = {}
        #: Legs ``originate`` answered and left to an application the simulator does not run
        #: (``&park()``): uuid → the number dialled, until uuid_kill.
        self.parked_legs: dict[str, str] = {}
        #: ... and the cause each was killed with (``originate`` of one still ringing fails with it).
        self.killed_legs: dict[str, str] = {}
        #: The channels of legs ``originate`` made that no simulated call runs, while they are up
        #: (parked, or ringing before they are): uuid_kill ends them with their events.
        self.leg_channels: dict[str, Channel] = {}
        #: Every event such a leg fired, in order: (uuid, event name) (fsivr.testing.legs).
        self.leg_events: list[tuple[str, str]] = []
        #: A failed attempt's CHANNEL_HANGUP_COMPLETE and CHANNEL_DESTROY race originate's
        #: BACKGROUND_JOB (fsivr.testing.legs): None fires them before it, as FreeSWITCH usually
        #: does; seconds (real time) fire them that long after it.
        self.leg_report_delay: float | None = None
        self.originate_timeout = 300.0
        #: How ``originate`` of a non-loopback endpoint to these numbers ends: ``ANSWER`` or the
        #: cause it fails with (USER_BUSY, NO_ANSWER...); a list gives one per originate to the
        #: number, the last repeating. Numbers not named answer. The test's script of the far ends.
        self.originate_outcomes: dict[str, str | list[str]] = {}
        #: Seconds a number rings before its outcome (default 0, NO_ANSWER: the originate's
        #: originate_timeout); the answered leg's clock starts that long after its creation.
        self.originate_ring: dict[str, float] = {}
        #: Real seconds the originate's reply waits per second of ringing (default 0: at once), so
        #: a test can keep legs ringing a while without slowing its calls' media down.
        self.ring_scale: float | None = None
        #: Every originate of a non-loopback endpoint, in the order received, stamped with the
        #: switch's own clock (``switch_us``): what a test measures the pace of calls on.
        self.originate_log: list[Originated] = []
        #: uuids (origination_uuid) of legs an originate is ringing now: ``uuid_exists`` knows them.
        self.ringing: set[str] = set()
        #: Originated legs ringing or up now, and the most there ever were at once.
        self.originate_live = 0
        self.originate_peak = 0
        #: How the answering party at a number behaves (CallScript fields: digits, targets...).
        self.originate_answers: dict[str, dict[str, Any]] = {}

    def now_us(self) -> int:
        """The switch's time: its own clock (``epoch`` + ``advance``), or a running call's virtual
        clock if that is ahead. Without ``epoch``: the running calls' clock, else the real one."""
        calls = [s.now_us() for s in self._sessions.values() if not s.channel_gone.is_set()]
        if self._epoch_us is None:
            return max(calls) if calls else int(time.time() * 1_000_000) + self._advanced_us
        return max([self._epoch_us + self._advanced_us, *calls])

    def switch_us(self) -> int:
        """The switch's own clock, without the calls' virtual clocks: ``epoch`` + ``advance``, or the
        real clock (+ ``advance``) without an epoch."""
        base = self._epoch_us if self._epoch_us is not None else int(time.time() * 1_000_000)
        return base + self._advanced_us

    # --- originate (fsivr.testing.api.originate) -----------------------------------------------

    def originate_outcome(self, number: str) -> str:
        """How this originate to ``number`` ends (``ANSWER`` or a cause), per the script."""
        scripted = self.originate_outcomes.get(number)
        if isinstance(scripted, list):
            done = sum(1 for o in self.originate_log if o.number == number)
            scripted = scripted[min(done, len(scripted) - 1)] if scripted else None
        return (scripted or "ANSWER").upper()

    def originate_started(self, number: str, variables: dict[str, str], outcome: str) -> Originated:
        placed = Originated(self.switch_us(), number, dict(variables), outcome)
        self.originate_log.append(placed)
        self.originate_live += 1
        self.originate_peak = max(self.originate_peak, self.originate_live)
        return placed

    def originate_ended(self, placed: Originated) -> None:
        if placed.ended_us is None:
            placed.ended_us = self.switch_us()
            self.originate_live -= 1

    def channel_start(self) -> datetime:
        """The creation time of a channel made now (a call without ``CallScript.at``): with ``epoch``,
        the switch's own clock — a test that fixes the switch's time must not see a new call take
        the host's (``now_us`` would then follow that call to the real date). Without: the real clock."""
        if self._epoch_us is None:
            return datetime.now(UTC)
        return datetime.fromtimestamp(self.now_us() / 1_000_000, UTC)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of switch time pass at once (e.g. between commands of a replayed recording)."""
        if seconds > 0:
            self._advanced_us += round(seconds * 1_000_000)

    def advance_to(self, at: datetime) -> None:
        """Move the switch's own clock (``epoch``) forward to ``at`` if it is behind."""
        if self._epoch_us is not None:
            self._advanced_us = max(self._advanced_us, int(at.timestamp() * 1_000_000) - self._epoch_us)

    def start_call(self, script: CallScript, address: tuple[str, int] | None = None) -> CallHandle:
        """Place a call into the socket server at ``address`` (default: the simulator's)."""
        session = CallSession(self, script, address or self.address)
        uuid, a_leg = session.channel.uuid, session.channel.spec.other_uuid
        self._sessions[uuid] = session
        self._a_legs[a_leg] = session
        self.calls_started += 1
        self.peak_sessions = max(self.peak_sessions, len(self._sessions))
        handle = CallHandle(session)

        def gone(_: object) -> None:
            self._sessions.pop(uuid, None)
            self._a_legs.pop(a_leg, None)

        handle.greenlet.link(gone)
        return handle

    def find_session(self, uuid: str) -> CallSession | None:
        """A call whose channel is up, by its socket-leg uuid or its loopback A-leg's uuid."""
        s = self._sessions.get(uuid) or self._a_legs.get(uuid)
        if s is None or not s.channel.ready or s.channel_gone.is_set():
            return None
        return s

    def live_sessions(self) -> list[CallSession]:
        return [s for s in self._sessions.values() if s.channel.ready and not s.channel_gone.is_set()]

    def publish_background_job(self, headers: list[tuple[str, str]], body: str) -> None:
        """switch_event_fire of a bgapi's BACKGROUND_JOB: every listener of the switch, inbound and the
        calls' outbound sockets alike, takes it if it subscribed (mod_event_socket.c event_handler)."""
        for sink in self.inbound:
            sink.fire("BACKGROUND_JOB", headers, body)
        for session in list(self._sessions.values()):
            session.background_job_event(headers, body)

    def run_call(self, script: CallScript) -> CallResult:
        return self.start_call(script).wait()

    # --- mod_callcenter ----------------------------------------------------------------------

    def callcenter_config(self, command: str, at: datetime | None = None) -> str:
        """``api callcenter_config <command>`` as over inbound ESL (e.g. ``agent set status a@d 'Logged Out'``);
        ``at`` = the switch's clock for epochs (default: now)."""
        at_us = int(at.timestamp() * 1_000_000) if at is not None else None
        return self.callcenter.config(command, at_us=at_us)

    def add_queue(self, name: str, **settings: object) -> mod_callcenter.Queue:
        """A callcenter.conf.xml queue (callcenter_config cannot create queues)."""
        return self.callcenter.add_queue(name, **settings)

    def set_agent_behaviour(self, agent: str, target: Target, vars_after_callee_update: bool = False) -> None:
        """How the agent's phone answers offered calls (answer_after, talk; no_answer, busy ...);
        ``vars_after_callee_update``: see ``mod_callcenter.Agent``."""
        self.callcenter.set_agent_target(agent, target)
        self.callcenter.agents[agent].vars_after_callee_update = vars_after_callee_update

    def press(self, call_uuid: str, keys: str) -> bool:
        """The caller of a live call presses ``keys`` now (as ``uuid_send_dtmf`` into its A-leg):
        idle, they are DTMF events at once; while an app runs, that app's input takes them (a
        playback's: ``CallSession.receive_dtmf``).
        False if the call is not up."""
        s = self.find_session(call_uuid)
        if s is None:
            return False
        s.receive_dtmf(keys)
        return True

    def queue_position(self, call_uuid: str) -> int | None:
        """1-based position of a waiting caller in its queue (members by score), None if not waiting."""
        return self.callcenter.position(call_uuid, self.callcenter.now())

    # --- mod_sofia: registered phones and chat -------------------------------------------------

    def register_phone(self, user: str, realm: str = "127.0.0.1", **how: object) -> mod_sofia.Registration:
        """A SIP phone registers ``user@realm`` now (as the UDP REGISTER of trace 16): ``port``,
        ``agent`` (its User-Agent), ``expires``, ``call_id``, ``message_status`` (what it answers a
        SIP MESSAGE with)."""
        return self.sofia.register(user, realm, now=self.now_us() // 1_000_000, **how)  # type: ignore[arg-type]

    def unregister_phone(self, user: str, realm: str = "127.0.0.1") -> None:
        self.sofia.unregister(user, realm)

    @property
    def chat_messages(self) -> list[mod_sofia.ChatMessage]:
        """SIP MESSAGEs the registered phones accepted (``api chat sip|…``), oldest first."""
        return self.sofia.delivered

    # --- mod_valet_parking --------------------------------------------------------------------

    def valet_info(self, lot: str = "") -> str:
        """``api valet_info [<lot>]``."""
        return self.valet.info(lot)

    def valet_retrieve(self, lot: str, ext: str, talk: float | None = 5.0) -> bool:
        """A channel outside the simulation runs ``valet_park <lot> <ext>``; False if the slot is empty."""
        return self.valet.retrieve(lot, ext, talk=talk)
