"""FreeSWITCH simulator: plays the switch's side of the ESL outbound socket over real TCP.

Module map: ``simulator`` (public entry point: the switch, its calls and module state),
``session`` (one call: outbound-socket listener + channel thread), ``inbound`` (FreeSWITCH's
inbound ESL port, optionally sharing a Simulator: ``InboundSwitch(sim=sim)``), ``api`` (the one
API table both listeners and ``${api()}`` expansion call), ``apps`` (dialplan applications),
``expand`` (variable expansion, argument splitting), ``mods`` (module emulations: ``callcenter``
with ``queue_caller``, ``valet``, ``record``, ``spandsp``, ``sofia``, ``common``), ``broadcast`` /
``displace`` (uuid_broadcast, uuid_displace), ``peer`` (a bridge's far end: its keys, apps,
variables), ``meta`` (bind_meta_app and its broadcasts), ``attxfer`` (att_xfer on a far end),
``hold`` (uuid_hold), ``legs`` (the events of originated legs no call runs: a failed attempt,
``&park()``), ``dialplan`` (XML extensions and the inline dialplan for transfers and
execute_extension), ``channel`` (variables, state, event rendering),
``profiles`` (header templates taken from shared/esl-traces), ``subscription`` (event
subscriptions and filters), ``wire`` (framing, URL encoding), ``clock`` (virtual time), ``media``
(durations), ``dialstring`` (bridge targets), ``script`` (what the caller does and what was
observed), ``harness`` (a real fsivr server beside the simulator, for tests and ``fsivr simulate``).

    from fsivr.testing import Simulator, CallScript, Hangup, Target, CallResult
    sim = Simulator(("127.0.0.1", port), time_scale=0.0)
    result = sim.run_call(CallScript(number="+48221234567", digits=["1"]))
"""

from fsivr.testing.script import (
    AppRun,
    BridgeLeg,
    BridgeRun,
    CallResult,
    CallScript,
    FaxPeer,
    Hangup,
    Press,
    Retrieve,
    Speech,
    Target,
)
from fsivr.testing.simulator import CallHandle, Simulator

__all__ = [
    "AppRun",
    "BridgeLeg",
    "BridgeRun",
    "CallHandle",
    "CallResult",
    "CallScript",
    "FaxPeer",
    "Hangup",
    "Press",
    "Retrieve",
    "Simulator",
    "Speech",
    "Target",
]
