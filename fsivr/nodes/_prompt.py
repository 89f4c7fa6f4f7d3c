"""The "prompt or text" rule of the nodes that speak to the caller (play, menu, extension)."""

from __future__ import annotations

from fsivr.engine.node import Node, Ref


def prompt_or_text(node: Node, *, required: bool) -> None:
    """``prompt`` (a stored prompt) or ``text`` (spoken by TTS), never both; with ``required``,
    exactly one. The prompt is recorded as a name validation checks exists."""
    prompt, text = node.p["prompt"], node.p["text"]
    if required and bool(prompt) == bool(text):
        raise node.error("give exactly one of prompt or text", "prompt")
    if prompt and text:
        raise node.error("give prompt or text, not both", "prompt")
    if prompt:
        node.refs.append(Ref("prompt", prompt, "prompt"))
