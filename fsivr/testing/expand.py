"""Variable expansion and argument splitting as FreeSWITCH does them (switch_channel.c
``switch_channel_expand_variables_check``, switch_utils.c ``switch_separate_string``).

Applications get their argument expanded (``${var}``, ``$${global}``, ``${api(args)}``) before they
run, and split it with ``separate_string``; ``uuid_setvar`` splits its argument the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fsivr.testing.channel import Channel



def _var_check(text: str) -> bool:
    """switch_string_var_check_const (switch_utils.h): a ``$`` followed (through backslashes) by ``{``."""
    dollar = False
    for c in text:
        if c == "$":
            dollar = True
        elif dollar:
            if c == "{":
                return True
            if c != "\\":
                dollar = False
    return False


def _has_escaped(text: str) -> bool:
    """switch_string_has_escaped_data (switch_utils.h)."""
    i = text.find("\\")
    while i >= 0 and i + 1 < len(text):
        if text[i + 1] in "\\nst'":
            return True
        i = text.find("\\", i + 1)
    return False


#: Globals a stock install defines (conf/vanilla/vars.xml): ``$${domain}`` in dial strings, the
#: ring tones operators point ``ringback`` at. ``hold_music`` is the recording switch's (esl-traces
#: README, trace 12's header: a tone, as it had no MOH files), not vanilla's ``local_stream://moh``.
GLOBALS = {"domain": "127.0.0.1", "domain_name": "127.0.0.1", "hold_music": "tone_stream://%(2000,4000,440);loops=-1",
           "us-ring": "%(2000,4000,440,480)", "uk-ring": "%(400,200,400,450);%(400,2000,400,450)",
           "fr-ring": "%(1500,3500,440)", "de-ring": "%(1000,4000,425)"}


def expand(ch: Channel, text: str, api: Callable[[str, str], str] | None = None, depth: int = 0) -> str:
    """switch_channel_expand_variables_check (switch_channel.c), the parts that matter here:
    ``\\\\`` → ``\\``, ``\\$`` → ``$``, ``\\'`` dropped, ``${var}`` (its value expanded again),
    ``$${global}``, ``${var:offset:len}``, and ``${api(args)}`` / ``${api args}`` which runs an API
    command (through ``api``, so tests can see that one ran)."""
    if depth > 100 or not text or not (_var_check(text) or _has_escaped(text)):
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                i += 1
                if i + 1 < n and text[i + 1] == "$":
                    i += 1
                out.append(text[i])
                i += 1
                continue
            if nxt == "'":
                i += 2
                continue
            if nxt == "\\":
                out.append("\\")
                i += 2
                continue
        if c == "$" and i + 1 < n:
            j, is_global = i + 1, False
            if text[j] == "$":
                is_global, j = True, j + 1
            if is_global and (j >= n or text[j] != "{"):
                # "$$x": the first "$" is taken as the global marker and dropped.
                out.append("$")
                i = j
                continue
            if j < n and text[j] == "{":
                k, depth_b = j + 1, 1
                while k < n and depth_b:
                    if text[k] == "{":
                        depth_b += 1
                    elif text[k] == "}":
                        depth_b -= 1
                    k += 1
                inner = text[j + 1:k - 1] if depth_b == 0 else text[j + 1:]
                out.append(_lookup(ch, inner, is_global, api, depth))
                i = k
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _lookup(ch: Channel, inner: str, is_global: bool, api: Callable[[str, str], str] | None, depth: int) -> str:
    if is_global:
        return GLOBALS.get(inner, "")
    paren = inner.find("(")
    space = inner.find(" ")
    if paren > 0 and inner.endswith(")") and (space < 0 or paren < space):
        name, args = inner[:paren], inner[paren + 1:-1]
    elif space > 0:
        name, args = inner[:space], inner[space + 1:]
    else:
        name, args = "", ""
    if name:
        args = expand(ch, args, api, depth + 1)
        return api(name, args) if api is not None else ""
    name = expand(ch, inner, api, depth + 1)
    offset = length = None
    if ":" in name:
        name, _, rest = name.partition(":")
        off, _, ln = rest.partition(":")
        offset, length = int(off or 0), int(ln) if ln else None
    # A channel variable, else a global one (switch_channel_get_variable_dup falls back to
    # switch_core_get_variable).
    value = ch.get_var(name) or GLOBALS.get(name, "")
    value = expand(ch, value, api, depth + 1)
    if offset is not None:
        value = value[offset:]  # a negative offset counts from the end, as in FreeSWITCH
        if length:
            value = value[:length]
    return value


def separate_string(arg: str, max_parts: int) -> list[str]:
    """Split an application argument as switch_separate_string does with a blank delimiter
    (switch_utils.c, separate_string_blank_delim + cleanup_separated_string): runs of blanks
    separate, single quotes group (and are removed), a backslash escapes the next character,
    and the last part takes the rest of the line unsplit."""
    parts: list[str] = []
    i, n = 0, len(arg)
    while i < n and len(parts) < max_parts:
        while i < n and arg[i] in " \t":
            i += 1
        if i >= n:
            break
        if len(parts) == max_parts - 1:
            rest = arg[i:]
            parts.append(_unquote_part(rest))
            break
        start, quoted = i, False
        while i < n:
            c = arg[i]
            if c == "\\" and i + 1 < n:
                i += 2
                continue
            if c == "'":
                quoted = not quoted
            elif c in " \t" and not quoted:
                break
            i += 1
        parts.append(_unquote_part(arg[start:i]))
    return parts


def _unquote_part(text: str) -> str:
    """cleanup_separated_string (switch_utils.c): a backslash escapes only quotes, a blank, itself
    and n/r/t/s; before anything else it stays (so a regex like ``^\\d+$`` survives, trace 03).
    A single quote groups only when another one follows."""
    _unesc = {"n": "\n", "r": "\r", "t": "\t", "s": " "}
    out: list[str] = []
    i, inside = 0, False
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            e = text[i + 1]
            if e in "'\" \\":
                out.append(e)
                i += 2
                continue
            if e in _unesc:
                out.append(_unesc[e])
                i += 2
                continue
        if c == "'" and (inside or "'" in text[i + 1:]):
            inside = not inside
        else:
            out.append(c)
        i += 1
    return "".join(out)


def separate_char(text: str, delim: str, max_parts: int) -> list[str]:
    """switch_separate_string with a delimiter other than a blank (switch_utils.c
    separate_string_char_delim): quotes group, a backslash keeps the next character from splitting,
    the last part takes the rest of the line with its delimiters, and a delimiter at the very end
    opens no empty part (``a|b|`` is two parts). Each part is cleaned as ``cleanup`` says."""
    if not text:
        return []
    raw: list[str] = []
    i, n, start, inside = 0, len(text), 0, False
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "'" and (inside or "'" in text[i + 1:]):
            inside = not inside
        elif c == delim and not inside and len(raw) + 1 < max_parts:
            raw.append(text[start:i])
            start = i + 1
        i += 1
    if start < n:
        raw.append(text[start:])
    return [cleanup(p, delim) for p in raw]


def cleanup(text: str, delim: str = " ") -> str:
    """cleanup_separated_string (switch_utils.c) for a delimiter: leading blanks go, trailing blanks
    go unless quoted, a backslash escapes quotes, the delimiter, itself and n/r/t/s."""
    unesc = {"n": "\n", "r": "\r", "t": "\t", "s": " "}
    out: list[str] = []
    end = 0
    i, inside = 0, False
    n = len(text)
    while i < n and text[i] == " ":
        i += 1
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and (text[i + 1] in "'\"\\" or text[i + 1] == delim or text[i + 1] in unesc):
            out.append(unesc.get(text[i + 1], text[i + 1]) if text[i + 1] in unesc else text[i + 1])
            end = len(out)
            i += 2
            continue
        if c == "'" and (inside or "'" in text[i + 1:]):
            inside = not inside
            if inside:
                end = len(out)
        else:
            out.append(c)
            if c != " " or inside:
                end = len(out)
        i += 1
    return "".join(out[:end])
