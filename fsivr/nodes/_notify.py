"""What the nodes that queue notifications share (sms, email, voicemail, fax_receive): template
parameters checked at validation, the ``only_if`` condition, and turning a refused notification
into the node's ``error`` outcome with one log line."""

from __future__ import annotations

import logging
from typing import Any

from fsivr.engine import templates
from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param

log = logging.getLogger("fsivr.call")


def template(value: Any) -> str:
    """A Param check: the value is a template that can render (fsivr/engine/templates.py)."""
    source = str(value)
    try:
        templates.check(source)
    except templates.TemplateProblem as exc:
        raise ValueError(str(exc)) from None
    return source


def templates_list(value: Any) -> list[str]:
    """One template or a list of them (recipients)."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("needs at least one recipient")
    return [template(item) for item in items]


def _as_template(expression: str) -> str:
    return "{{ 'yes' if (" + expression + ") else '' }}"


def condition(value: Any) -> str:
    """``only_if``: a Jinja expression over the call's variables, e.g. ``first_call and answered``."""
    template(_as_template(str(value)))
    return str(value)


ONLY_IF = Param(str, check=condition, doc="send only when this expression over the call's variables is true, "
                                           "e.g. 'first_call and answered' (after_call)")


def wanted(node: Node, call: Call) -> bool:
    """The node's ``only_if`` holds (or it has none); a skipped send is noted in the call record."""
    expression = node.p.get("only_if")
    if not expression:
        return True
    if templates.render(_as_template(expression), call.vars):
        return True
    call.step_detail["skipped"] = f"only_if {expression!r} is false"
    return False


def render_all(sources: list[str], call: Call) -> list[str]:
    return [out for out in (templates.render(s, call.vars).strip() for s in sources) if out]


def refused(node: Node, call: Call, exc: Exception) -> str:
    """A notification that cannot be queued (a bad number or address, no notifier): ``error``."""
    call.step_detail["error"] = str(exc)
    log.warning("call %s: %s %s: %s", call.uuid, node.type, node.id, exc)
    return "error"
