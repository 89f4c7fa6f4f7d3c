"""The channel events of legs ``originate`` makes that no simulated call runs: an attempt that
fails, and a leg answered and left to ``&park()`` until it is hung up.

What FreeSWITCH 1.11.1 does (read in its source, not in a trace: no recording has an inbound
listener subscribed to these while an originate failed):

* switch_ivr_originate.c switch_ivr_originate: the endpoint creates the outgoing channel
  (switch_core_session_outgoing_channel, which applies ``origination_uuid``), the ``{}``
  variables are installed on it (switch_channel_set_variable_var_check over ``var_event``, so
  ``variable_origination_uuid`` and every other one) and its thread is launched - all before
  anything rings. The thread's CS_INIT fires CHANNEL_CREATE and, the channel being outbound,
  CHANNEL_ORIGINATE (switch_core_state_machine.c switch_core_session_run).
* A failed attempt is hung up - by the endpoint (the far end's 486: USER_BUSY) or by originate
  itself once it gives up (timeout: NO_ANSWER; its loop at ``outer_for``: switch_channel_hangup
  with ``*cause``). switch_channel.c switch_channel_perform_hangup fires CHANNEL_HANGUP in the
  thread that hangs up, so before originate returns. The leg's own thread then reports it
  (switch_core_session_reporting_state: CHANNEL_HANGUP_COMPLETE, ``Hangup-Cause`` first) and
  destroys it (switch_core_session.c switch_core_session_perform_destroy: CHANNEL_DESTROY), the
  latter only once originate released its read lock (switch_core_session_rwunlock, right after
  the hangup).
* Then mod_commands.c originate_function writes ``-ERR <CAUSE>`` and mod_event_socket.c api_exec
  fires BACKGROUND_JOB. So CHANNEL_HANGUP always comes before it; HANGUP_COMPLETE and DESTROY,
  fired by another thread, race it: the simulator fires them before (the usual outcome), or
  ``Simulator.leg_report_delay`` real seconds after it.
* Where the endpoint refuses before it makes the channel (``error/...``; mod_dptools' ``user/`` of
  an unknown or unregistered user; mod_sofia.c sofia_outgoing_channel's bad URL, unknown gateway,
  gateway down, unknown profile) there is no channel under ``origination_uuid`` and so no event
  (sofia's half-made session fires a lone CHANNEL_DESTROY under another uuid, without the ``{}``
  variables: nobody can tie it to the attempt, so it is not simulated).

Left out: CHANNEL_OUTGOING (fired before the ``{}`` variables are installed), CHANNEL_STATE and
CHANNEL_CALLSTATE, and the park application's own events (EXECUTE, PARK/UNPARK).
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import gevent

from fsivr.testing.channel import Channel
from fsivr.testing.clock import VirtualClock, rfc2822
from fsivr.testing.profiles import LOOPBACK, LOOPBACK_PROFILE_FIELDS, SOFIA, ChannelSpec, Profile

if TYPE_CHECKING:
    from fsivr.testing.simulator import Simulator

#: Causes an endpoint gives without having made the channel (see above).
NO_CHANNEL_CAUSES = frozenset({
    "INVALID_URL", "INVALID_GATEWAY", "GATEWAY_DOWN", "INVALID_PROFILE", "USER_NOT_REGISTERED",
    "SUBSCRIBER_ABSENT", "SYSTEM_SHUTDOWN",
})


def _channel_name(endpoint: str, number: str) -> str:
    """sofia_glue.c sofia_glue_attach_private: ``sofia/<profile>/<dest>``; loopback's A-leg ``-a``."""
    tech = endpoint.split("/", 1)[0]
    if tech == "sofia":
        return f"sofia/external/{number}"
    if tech == "loopback":
        return f"loopback/{number}-a"
    return endpoint


def _profile(name: str) -> Profile:
    def values(spec: ChannelSpec, chan: str) -> dict[str, str]:
        # switch_ivr_originate's caller profile of a bgapi originate (no session to copy from)
        return {
            "Direction": "outbound", "Logical-Direction": "outbound", "Dialplan": "XML",
            "Caller-ID-Name": spec.caller_name, "Caller-ID-Number": spec.caller,
            "Orig-Caller-ID-Name": spec.caller_name, "Orig-Caller-ID-Number": spec.caller,
            "Callee-ID-Name": "Outbound Call", "Callee-ID-Number": spec.number, "ANI": spec.caller,
            "Destination-Number": spec.number, "Unique-ID": spec.uuid,
            "Source": "src/switch_ivr_originate.c", "Context": "default", "Channel-Name": chan,
            "Profile-Index": "1",
        }

    def base_vars(spec: ChannelSpec, chan: str) -> list[tuple[str, str]]:
        # switch_channel_init (direction), switch_core_session_request (session_id), then the {}
        # block as switch_ivr_originate installs it
        return [("direction", "outbound"), ("is_outbound", "true"), ("uuid", spec.uuid),
                ("session_id", str(spec.session_id)), ("channel_name", chan), *spec.extra_vars.items()]

    codec = LOOPBACK.codec if name.startswith("loopback/") else SOFIA.codec
    return replace(LOOPBACK, name="originated", fields=LOOPBACK_PROFILE_FIELDS, source="src/switch_ivr_originate.c",
                   context="default", dialplan="XML", media_before_answer=False, channel_name=lambda _spec: name,
                   profile_values=values, base_vars=base_vars, codec=codec, is_loopback=False)


def create(sim: Simulator, endpoint: str, number: str, variables: dict[str, str], at_us: int) -> Channel:
    """The leg's channel, made at ``at_us`` (switch clock), and its CHANNEL_CREATE / CHANNEL_ORIGINATE."""
    uuid = variables.get("origination_uuid") or str(uuidlib.uuid4())
    caller = variables.get("origination_caller_id_number", "0000000000")
    spec = ChannelSpec(
        uuid=uuid, other_uuid="", number=number, caller=caller,
        caller_name=variables.get("origination_caller_id_name", caller), created_us=at_us,
        session_id=sim.switch.next_session_id(), socket_arg="", extra_vars=dict(variables),
        call_id=str(uuidlib.uuid4()), from_tag=uuidlib.uuid4().hex[:13], rfc2822=rfc2822(at_us),
    )
    clock = VirtualClock(datetime.fromtimestamp(at_us / 1_000_000, UTC), sim.time_scale)
    ch = Channel(sim.switch, _profile(_channel_name(endpoint, number)), spec, clock)
    ch.direction = "outbound"
    ch.app_log = []
    ch.set_running_state("CS_INIT", 1)
    ch.set_callstate("DOWN")
    fire(sim, ch, "CHANNEL_CREATE")
    fire(sim, ch, "CHANNEL_ORIGINATE")
    # originate_on_routing (switch_ivr_originate.c) parks it in CS_CONSUME_MEDIA while it rings
    ch.set_running_state("CS_CONSUME_MEDIA", 7)
    ch.set_callstate("RINGING")
    return ch


def answered(sim: Simulator, ch: Channel, ring: float, app: str = "park") -> None:
    """The far end answered after ``ring`` s; the leg then runs ``app`` (``&park()``)."""
    ch.clock.advance(ring)
    ch.mark_answered()
    ch.set_callstate("ACTIVE")
    fire(sim, ch, "CHANNEL_ANSWER")
    ch.app_log.append((app, ""))
    ch.set_running_state("CS_EXECUTE", 4)


def hangup(sim: Simulator, ch: Channel, cause: str, ring: float = 0.0, delay: float | None = None) -> None:
    """The leg goes down with ``cause``: CHANNEL_HANGUP now; the reporting (HANGUP_COMPLETE,
    DESTROY) now as well, or ``delay`` real seconds later (after originate's BACKGROUND_JOB)."""
    if not ch.ready:
        return
    ch.clock.advance(ring)
    ch.mark_hangup(cause)
    fire(sim, ch, "CHANNEL_HANGUP")
    if delay is None:
        _report(sim, ch)
    else:
        gevent.spawn_later(delay, _report, sim, ch)


def _report(sim: Simulator, ch: Channel) -> None:
    ch.mark_hangup_time()
    ch.set_callstate("HANGUP")
    ch.set_running_state("CS_REPORTING", 11)
    ch.set_reporting_vars()
    fire(sim, ch, "CHANNEL_HANGUP_COMPLETE", pre=[("Hangup-Cause", ch.hangup_cause or "NORMAL_CLEARING")])
    ch.set_running_state("CS_DESTROY", 12)
    fire(sim, ch, "CHANNEL_DESTROY")


def fire(sim: Simulator, ch: Channel, event_name: str, pre: list[tuple[str, str]] | None = None) -> None:
    """switch_event_fire of the leg's event: every inbound listener of the switch that wants it.
    (No outbound socket controls these legs, so no call's listener is concerned.)"""
    sim.leg_events.append((ch.uuid, event_name))
    for sink in sim.inbound:
        sink.leg_event(ch, event_name, pre)
