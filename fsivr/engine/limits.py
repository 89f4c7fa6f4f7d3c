"""How big a scenario may be: bounds checked when a scenario is validated, so that what reaches a
running call (and FreeSWITCH) is bounded too.

A file is bounded before it is parsed (fsivr.scenario.yamlio.MAX_FILE_BYTES) and a template's
output when it is rendered (fsivr.engine.templates.MAX_OUTPUT); these bound what a file may hold.
"""

from __future__ import annotations

#: Nodes in one scenario. The largest hand-written IVRs have a few hundred; each node is compiled,
#: stored as a row and walked by the loop check, so the bound keeps validation and import fast.
MAX_NODES = 2000

#: Characters in one text value (a TTS prompt, a template, a variable's value). Text to speak is
#: sent to FreeSWITCH in one sendmsg, and 10,000 characters are already ten minutes of speech.
MAX_TEXT = 10_000


def text_too_long(value: str) -> str | None:
    """Why ``value`` is too long, or None."""
    if len(value) > MAX_TEXT:
        return f"is too long ({len(value)} characters; the limit for a text value is {MAX_TEXT})"
    return None
