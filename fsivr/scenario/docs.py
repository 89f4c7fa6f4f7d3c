"""The node reference, generated from the same declarations validation uses (``Node.params``,
``outcomes``), so the documentation cannot drift from what is accepted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fsivr.engine.node import COMMON_OUTCOMES, Node, Param
from fsivr.engine.registry import node_types

AFTER_CALL = """\
## After the call

A scenario's `after_call` chain runs once the caller has hung up (or the call was released), so only
nodes that need no live channel may be in it (validation refuses the others). Besides the call's
variables, its conditions and templates see the finished call: `answered` (a person answered: a
dial, group, forward... of this call ended answered), `answered_by` (that target), `channel_answered`
(the channel was answered at all, by the IVR too), `duration` and `talk_seconds` (seconds),
`first_call` (no earlier call from this number is on record), `hangup_cause`, `ended_at`; files the
call left: `voicemail_box`, `voicemail_seconds`, `recording_file`, `fax_file`, `fax_result_text`.
E.g. `sms` with `only_if: first_call and answered` thanks first-time callers someone spoke to.

Templates (set, sms, email) are Jinja in a sandbox. One that can never render — reaching for
internals (`''.__class__`), output without bound (`'x' * 10**9`), macros, includes, loops in
loops — is refused at validation, naming the file, line and field; one that fails for one call's
data takes the node's `error` outcome.
"""


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _kind(param: Param) -> str:
    kinds = param.kind if isinstance(param.kind, tuple) else (param.kind,)
    return " or ".join(k.__name__ for k in kinds)


def node_reference_markdown(types: Mapping[str, type[Node]] | None = None) -> str:
    """Markdown: one section per node type (summary, parameters, outcomes); by default the built-in
    types only (plugins or tests may register more)."""
    if types is None:
        types = {n: c for n, c in node_types().items() if c.__module__.startswith("fsivr.nodes.")}
    out = ["# Node reference", "",
           "Generated from the node type declarations (`fsivr.scenario.docs`). In YAML a node is a mapping: "
           "`type`, its parameters, and one key per outcome naming the next node. An outcome left out ends "
           "the call politely. Every node may also take `error`.", ""]
    for name in sorted(types):
        cls = types[name]
        out += [f"## `{name}`", ""]
        if cls.summary:
            out += [cls.summary, ""]
        if cls.params:
            out += ["| parameter | type | required | default | notes |", "|---|---|---|---|---|"]
            for pname, p in cls.params.items():
                notes = [p.doc] if p.doc else []
                if p.between is not None:
                    notes.append(p.range_text())
                if p.choices:
                    notes.append("one of: " + ", ".join(f"`{c}`" for c in p.choices))
                if p.ref:
                    notes.append(f"names a {p.ref}")
                default = "" if p.required or p.default is None else f"`{p.default!r}`"
                out.append(f"| `{pname}` | {_kind(p)} | {'yes' if p.required else ''} | {_cell(default)} | "
                           f"{_cell('; '.join(notes))} |")
            out.append("")
        else:
            out += ["No parameters.", ""]
        if cls.terminal:
            out += ["Outcomes: none — this node ends the scenario.", ""]
        else:
            outcomes = [f"`{o}`" for o in cls.outcomes + COMMON_OUTCOMES]
            if cls.option_outcomes:
                outcomes.insert(0, "one per key under `options`")
            out += ["Outcomes: " + ", ".join(outcomes) + ".", ""]
        flags = [f for f, on in (("waits for the caller or for time to pass", cls.waits),) if on]
        if flags:
            out += [f"This node {flags[0]}, so a loop through it is not a busy loop.", ""]
        if cls.runs_after_call:
            out += ["It needs no live channel: it may run in the scenario's `after_call` chain.", ""]
    return "\n".join(out) + "\n" + AFTER_CALL
