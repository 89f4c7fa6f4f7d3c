"""FreeSWITCH dial strings (switch_ivr_originate.c) and the simulator's target keys.

``{a=1}[leg=2]user/101@d,sofia/gateway/gw/+48600|error/user_busy :_: loopback/x``

* ``{...}`` global variables for every leg, ``[...]`` (or ``<...>``) per-leg variables;
* ``,`` legs rung at the same time, ``|`` groups tried one after another (failover);
* ``:_:`` enterprise originate: independent originates run in parallel, first answer wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Leg:
    endpoint: str
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return target_key(self.endpoint)


@dataclass
class DialString:
    global_vars: dict[str, str]
    # enterprise branches → sequential groups → simultaneous legs
    branches: list[list[list[Leg]]]

    def all_legs(self) -> list[Leg]:
        return [leg for branch in self.branches for group in branch for leg in group]


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside {} [] <> brackets and '...' (variables may contain separators)."""
    out: list[str] = []
    depth = 0
    quoted = False
    cur: list[str] = []
    i = 0
    n = len(sep)
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted  # switch_separate_string: single quotes protect separators
        elif quoted:
            pass
        elif ch in "{[<":
            depth += 1
        elif ch in "}]>" and depth:
            depth -= 1
        if depth == 0 and not quoted and text.startswith(sep, i):
            out.append("".join(cur))
            cur = []
            i += n
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _parse_vars(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in _split_top(text, ","):
        if "=" in item:
            key, _, value = item.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            out[key.strip()] = value
    return out


def _take_block(text: str, open_ch: str, close_ch: str) -> tuple[str | None, str]:
    text = text.lstrip()
    if not text.startswith(open_ch):
        return None, text
    depth = 0
    for i, ch in enumerate(text):
        if ch == open_ch:
            depth += 1
        elif ch == close_ch:
            depth -= 1
            if depth == 0:
                return text[1:i], text[i + 1:]
    return text[1:], ""


def parse(dial: str) -> DialString:
    text = dial.strip()
    global_vars: dict[str, str] = {}
    while True:
        block, rest = _take_block(text, "{", "}")
        if block is None:
            break
        global_vars.update(_parse_vars(block))
        text = rest
    branches: list[list[list[Leg]]] = []
    for branch_text in _split_top(text, ":_:"):
        branch_vars: dict[str, str] = {}
        btext = branch_text.strip()
        block, rest = _take_block(btext, "<", ">")
        if block is not None:
            branch_vars = _parse_vars(block)
            btext = rest
        groups: list[list[Leg]] = []
        for group_text in _split_top(btext, "|"):
            legs: list[Leg] = []
            for leg_text in _split_top(group_text, ","):
                lt = leg_text.strip()
                leg_vars = dict(branch_vars)
                while True:
                    block, rest = _take_block(lt, "[", "]")
                    if block is None:
                        break
                    leg_vars.update(_parse_vars(block))
                    lt = rest.strip()
                if lt:
                    legs.append(Leg(lt, leg_vars))
            if legs:
                groups.append(legs)
        if groups:
            branches.append(groups)
    return DialString(global_vars, branches)


def target_key(endpoint: str) -> str:
    """The name a CallScript uses for a leg: ``sip:101``, ``+48600100200``, ``error/USER_BUSY``...

    ``user/101@domain`` → ``sip:101``; ``sofia/gateway/GW/NUMBER`` → ``NUMBER``;
    ``sofia/PROFILE/NUMBER@host`` → ``NUMBER``; ``loopback/X[/context]`` → ``X``.
    """
    parts = endpoint.split("/")
    kind = parts[0].lower()
    if kind == "user" and len(parts) >= 2:
        return "sip:" + parts[1].split("@", 1)[0]
    if kind == "sofia" and len(parts) >= 3:
        if parts[1] == "gateway" and len(parts) >= 4:
            return "/".join(parts[3:]).split("@", 1)[0]
        return "/".join(parts[2:]).split("@", 1)[0].removeprefix("sip:")
    if kind == "loopback" and len(parts) >= 2:
        return parts[1]
    if kind == "error" and len(parts) >= 2:
        return "error/" + parts[1].upper()
    return endpoint
