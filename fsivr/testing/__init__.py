"""FreeSWITCH simulator: plays the switch's side of the ESL outbound socket over real TCP.

Module map: ``wire`` (framing, URL encoding), ``clock`` (virtual time), ``profiles`` (header
templates taken from shared/esl-traces), ``channel`` (variables, state, event rendering),
``media`` (durations), ``dialstring`` (bridge targets), ``apps`` (dialplan applications),
``session`` (one call: listener + channel thread), ``simulator`` (public entry point),
``script`` (what the caller does and what was observed), ``inbound`` (FreeSWITCH's inbound ESL
port, optionally sharing a Simulator: ``InboundSwitch(sim=sim)``).

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
    "Retrieve",
    "Simulator",
    "Speech",
    "Target",
]
