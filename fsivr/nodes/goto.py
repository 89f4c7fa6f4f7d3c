"""goto: continue the call in another scenario (another menu level)."""

from __future__ import annotations

from fsivr.engine.call import Call, Handoff
from fsivr.engine.node import Node, Param, Ref
from fsivr.engine.registry import register


@register
class Goto(Node):
    type = "goto"
    summary = "continue in another scenario, at its start node"
    params = {"scenario": Param(str, required=True, ref="scenario", doc="name of the scenario")}
    outcomes = ()
    terminal = True

    def compile(self) -> None:
        self.refs.append(Ref("scenario", self.p["scenario"], "scenario"))

    def run(self, call: Call) -> str:
        call.handoff = Handoff(scenario=self.p["scenario"])
        return "goto"
