"""A scenario as a Graphviz graph (``fsivr scenario graph``).

Besides nodes and outcomes the picture shows what a reader of the scenario wants at a glance:
what each node says (its text, shortened, or the stored prompt's name and text), a time
condition's rules, and where a ``goto`` leads (the other scenario's start node, named; drawn as a
separate box, since that scenario is a graph of its own).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fsivr.engine.scenario import ScenarioSpec, split_node

#: Longest text shown in a node (prompts are sentences; the graph is not the place to read them).
TEXT_LIMIT = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _q(text: str) -> str:
    """A DOT double-quoted string: node ids, names and texts come from users. Inside one, only
    ``\\`` and ``"`` are special to DOT, and ``\\n``/``\\l``/``\\r`` to its label renderer: doubling
    every backslash keeps them literal; real line breaks become ``\\n`` (a centred line), other
    control characters a space."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + _CONTROL.sub(" ", text) + '"'


def shorten(text: str, limit: int = TEXT_LIMIT) -> str:
    """One line, at most ``limit`` characters, an ellipsis where it was cut."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _time_rules(params: Mapping[str, Any]) -> list[str]:
    lines = []
    for rule in params.get("rules") or []:
        if isinstance(rule, Mapping):
            parts = [f"{v}" if not isinstance(v, list) else ", ".join(map(str, v)) for v in rule.values()]
            lines.append(shorten(" ".join(parts)))
        else:
            lines.append(shorten(str(rule)))
    if params.get("timezone"):
        lines.append(f"({params['timezone']})")
    holidays = params.get("holidays")
    if holidays:
        if isinstance(holidays, Mapping):
            items = [f"{k}: {v}" for k, v in holidays.items()]
        else:
            items = [", ".join(f"{k} {v}" for k, v in h.items()) if isinstance(h, Mapping) else str(h)
                     for h in holidays]
        lines.append("closed: " + shorten("; ".join(items)))
    return lines


def _says(params: Mapping[str, Any], prompts: Mapping[str, str | None]) -> list[str]:
    """What the node says: each ``text``/``*_text`` shortened in quotes, each ``prompt``/``*_prompt``
    by name (and its text, for a stored text prompt)."""
    lines = []
    for key, value in params.items():
        if not isinstance(value, str) or not value:
            continue
        label = "" if key in ("text", "prompt") else key.rsplit("_", 1)[0] + ": "
        if key == "text" or key.endswith("_text"):
            lines.append(f"{label}“{shorten(value)}”")
        elif key == "prompt" or key.endswith("_prompt"):
            spoken = prompts.get(value)
            lines.append(f"{label}[{value}]" + (f" “{shorten(spoken)}”" if spoken else ""))
    return lines


def scenario_dot(spec: ScenarioSpec, *, starts: Mapping[str, str | None] | None = None,
                 prompts: Mapping[str, str | None] | None = None) -> str:
    """DOT text of ``spec``. ``starts``: other scenarios' start nodes by name (a goto's target
    missing from it is drawn as not found); ``prompts``: stored prompts' texts by name."""
    starts = starts or {}
    prompts = prompts or {}
    lines = [f"digraph {_q(spec.name)} {{", "  rankdir=LR;",
             '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    roots = ([("start", spec.start)] + ([("after call", spec.after_call)] if spec.after_call else [])
             + ([("fallback", spec.fallback)] if spec.fallback else []))
    for label, node_id in roots:
        marker = f"__{label.replace(' ', '_')}"
        lines.append(f"  {_q(marker)} [shape=plaintext, label={_q(label)}];")
        lines.append(f"  {_q(marker)} -> {_q(node_id)} [style=dashed];")
    for node_id, raw in spec.nodes.items():
        type_name, params, outcomes, options = split_node(raw).written()
        extra = _time_rules(params) if type_name == "time_condition" else _says(params, prompts)
        lines.append(f"  {_q(node_id)} [label={_q(chr(10).join([node_id, type_name, *extra]))}];")
        if type_name == "goto" and isinstance(params.get("scenario"), str):
            target = params["scenario"]
            box = f"__goto_{target}"
            if target in starts:
                start = starts[target]
                label = f"scenario {target}" + (f"{chr(10)}start: {start}" if start else "")
                lines.append(f"  {_q(box)} [shape=box3d, label={_q(label)}];")
            else:
                missing = f"scenario {target}\n(not found)"
                lines.append(f"  {_q(box)} [shape=box3d, style=dashed, label={_q(missing)}];")
            lines.append(f"  {_q(node_id)} -> {_q(box)} [style=dashed, label=\"goto\"];")
        for outcome, target in outcomes.items():
            lines.append(f"  {_q(node_id)} -> {_q(target)} [label={_q(outcome)}];")
        for key, target in options.items():
            lines.append(f"  {_q(node_id)} -> {_q(target)} [label={_q('key ' + key)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_graph(dot_text: str, output: Path) -> tuple[Path, str | None]:
    """Write the graph to ``output``, rendered by Graphviz when its extension asks for an image.

    Returns the file written and, when it is not the one asked for, why.
    """
    fmt = output.suffix.lstrip(".").lower()
    if fmt in ("dot", "gv", ""):
        output.write_text(dot_text, encoding="utf-8")
        return output, None
    dot = shutil.which("dot")
    if dot is None:
        fallback = output.with_suffix(".dot")
        fallback.write_text(dot_text, encoding="utf-8")
        return fallback, f"Graphviz `dot` is not installed; wrote {fallback} (render it with `dot -T{fmt}`)"
    proc = subprocess.run([dot, f"-T{fmt}", "-o", str(output)], input=dot_text, text=True,
                          capture_output=True, timeout=60, check=False)
    if proc.returncode != 0:
        fallback = output.with_suffix(".dot")
        fallback.write_text(dot_text, encoding="utf-8")
        return fallback, f"dot failed ({proc.stderr.strip()}); wrote {fallback}"
    return output, None
