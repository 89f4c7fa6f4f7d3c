"""set: set call variables from templates (available to later templates and as channel variables)."""

from __future__ import annotations

import re
from typing import Any

from fsivr.engine import templates
from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _check_variables(value: dict[str, Any]) -> dict[str, str]:
    if not value:
        raise ValueError("needs at least one variable")
    out = {}
    for name, source in value.items():
        name = str(name)
        if not NAME.match(name):
            raise ValueError(f"variable name {name!r} must be letters, digits and _ (not starting with a digit)")
        source = "" if source is None else str(source)
        try:
            templates.check(source)
        except templates.TemplateProblem as exc:
            raise ValueError(f"{name}: {exc}") from None
        out[name] = source
    return out


@register
class Set(Node):
    type = "set"
    summary = "set call variables (Jinja templates over the call's variables)"
    params = {
        "variables": Param(dict, required=True, check=_check_variables,
                           doc="name: template, e.g. greeting: 'Hello {{ caller }}'"),
        "channel": Param(bool, default=True, doc="also set them as FreeSWITCH channel variables (fsivr_<name>)"),
    }
    outcomes = ("next",)
    runs_after_call = True

    def run(self, call: Call) -> str:
        values = {name: templates.render(source, call.vars) for name, source in self.p["variables"].items()}
        call.vars.update(values)
        # After the call (after_call chain) there is no channel left to set anything on.
        if self.p["channel"] and not call.gone:
            # Prefixed so a scenario cannot overwrite FreeSWITCH's own variables (e.g. hangup_after_bridge).
            call.set_channel_vars({f"fsivr_{k}": v for k, v in values.items()})
        return "next"
