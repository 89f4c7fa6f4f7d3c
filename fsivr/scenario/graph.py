"""A scenario as a Graphviz graph (``fsivr scenario graph``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from fsivr.engine.scenario import ScenarioSpec, split_node


def _q(text: str) -> str:
    """A DOT double-quoted string: node ids and names come from users."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def scenario_dot(spec: ScenarioSpec) -> str:
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
        type_name, _params, outcomes, options = split_node(raw).written()
        lines.append(f"  {_q(node_id)} [label={_q(f'{node_id}' + chr(10) + type_name)}];")
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
