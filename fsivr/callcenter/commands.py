"""``callcenter_config``: writing its arguments, reading its lists, and the commands that turn
one mod_callcenter state into another.

Facts relied on (mod_callcenter.c v1.11.1, cc_config_api_function; shared/esl-traces/README.md
"11-callcenter-config-api"):

* arguments are split on blanks with single quotes grouping (switch_separate_string →
  separate_string_blank_delim): a status with a space must be quoted, ``'On Break'``,
  ``'Logged Out'`` — unquoted it is two arguments and ``-ERR Invalid Agent Status!``;
* success is ``+OK\\n``; failures start ``-ERR`` (``-ERR Invalid Queue not found!`` when a queue
  is not in callcenter.conf.xml); ``agent del``, ``tier del``, ``queue unload`` of unknown names
  succeed silently;
* lists (``agent list``, ``tier list``) are a ``|``-separated header line, one line per row, then
  ``+OK``; no rows → just ``+OK`` (list_result_callback prints the header with the first row);
  ``queue list`` always has its header (it is written by hand, not by the SQL callback);
* ``queue load``/``reload`` read the queue from the XML (load_queue → switch_xml_open_cfg), and
  also re-apply the XML's agents and *all* its tiers (request_agents/request_tiers): after one,
  what the store says must be pushed again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fsivr.callcenter.state import (
    AGENT_NUMBERS,
    BOOL_PARAMS,
    INT_PARAMS,
    AgentConf,
    CallcenterState,
    QueueConf,
    TierConf,
)

#: The ``queue list`` columns (cc_config_api_function, ``queue list``): each is a queue parameter
#: with ``_`` for ``-``; calls_answered / calls_abandoned are counters, not configuration.
QUEUE_LIST_PARAMS = frozenset({
    "strategy", "moh-sound", "time-base-score", "tier-rules-apply", "tier-rule-wait-second",
    "tier-rule-wait-multiply-level", "tier-rule-no-agent-no-wait", "discard-abandoned-after",
    "abandoned-resume-allowed", "max-wait-time", "max-wait-time-with-no-agent",
    "max-wait-time-with-no-agent-time-reached", "record-template", "ring-progressively-delay",
    "skip-agents-with-external-calls", "agent-no-answer-status",
})

_PLAIN_ARG = re.compile(r"^[^\s'\\]+$")
_QUOTABLE = re.compile(r"^[^'\\\n\r]+$")
#: switch_true (switch_utils.h): what a boolean parameter reads as true.
_TRUE = {"yes", "on", "true", "t", "enabled", "active", "allow"}


class CommandError(ValueError):
    """A value that cannot be passed to callcenter_config safely."""


def arg(value: object) -> str:
    """One argument: as it is when it has no blank, single-quoted when it has (``'On Break'``)."""
    text = str(value)
    if _PLAIN_ARG.match(text):
        return text
    if _QUOTABLE.match(text) and text.strip():
        return f"'{text}'"
    raise CommandError(f"{text!r} cannot be a callcenter_config argument")


def ok(reply: str) -> bool:
    return reply.startswith("+OK")


@dataclass
class ListError(Exception):
    reply: str

    def __str__(self) -> str:
        return f"not a callcenter_config list: {self.reply.strip()[:200]!r}"


def parse_list(reply: str) -> list[dict[str, str]]:
    """Rows of a ``|``-separated list reply (header, rows, ``+OK``; or just ``+OK``)."""
    lines = reply.rstrip("\n").split("\n")
    if not lines or lines[-1] != "+OK":
        raise ListError(reply)
    body = lines[:-1]
    if not body:
        return []
    header = body[0].split("|")
    rows = []
    for line in body[1:]:
        cells = line.split("|")
        if len(cells) != len(header):
            raise ListError(reply)
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def state_from_lists(queue_list: str, agent_list: str, tier_list: str) -> CallcenterState:
    """What FreeSWITCH holds now, from ``queue list``, ``agent list`` and ``tier list``."""
    state = CallcenterState()
    for row in parse_list(queue_list):
        params = tuple((col.replace("_", "-"), row[col]) for col in row
                       if col.replace("_", "-") in QUEUE_LIST_PARAMS)
        state.queues[row["name"]] = QueueConf(row["name"], params)
    for row in parse_list(agent_list):
        state.agents[row["name"]] = AgentConf(row["name"], row.get("contact", ""), row.get("status", ""),
                                              row.get("type", ""), **{k: _int(row.get(k)) for k in AGENT_NUMBERS})
    for row in parse_list(tier_list):
        key = (row["queue"], row["agent"])
        state.tiers[key] = TierConf(row["queue"], row["agent"], _int(row.get("level")), _int(row.get("position")))
    return state


def _norm(param: str, value: str | None) -> str | None:
    if value is None:
        return None
    if param in BOOL_PARAMS:
        return "true" if value.strip().lower() in _TRUE or (value.strip().isdigit() and int(value)) else "false"
    if param in INT_PARAMS:
        return str(_int(value.strip()))
    return value


def queue_differs(current: QueueConf, wanted: QueueConf, compared: frozenset[str] | None) -> bool:
    """Whether a loaded queue's parameters differ from the wanted ones (only ``compared``
    parameters, when the current ones come from ``queue list``, which shows only those)."""
    have = dict(current.params)
    for param, value in wanted.params:
        if compared is not None and param not in compared:
            continue
        if _norm(param, have.get(param)) != _norm(param, value):
            return True
    return False


@dataclass
class Plan:
    """Commands (arguments of ``callcenter_config``) in the order they must run."""

    commands: list[str]
    #: Queues to load or reload: callcenter.conf.xml must hold them first (and the agents and
    #: tiers it holds are applied again by mod_callcenter).
    queues_from_xml: list[str]


def plan(current: CallcenterState, wanted: CallcenterState,
         compared: frozenset[str] | None = None) -> Plan:
    """The commands that turn ``current`` into ``wanted``.

    ``compared``: the queue parameters ``current`` can show (QUEUE_LIST_PARAMS when it was read
    from FreeSWITCH; None when it is what was applied before, with every parameter). Tier
    *states* and agent *states* are mod_callcenter's own (Ready/Offering, Waiting/In a queue
    call...): never touched.
    """
    cmds: list[str] = []
    xml: list[str] = []
    for name, q in wanted.queues.items():
        have = current.queues.get(name)
        if have is None:
            cmds.append(f"queue load {arg(name)}")
            xml.append(name)
        elif queue_differs(have, q, compared):
            cmds.append(f"queue reload {arg(name)}")
            xml.append(name)
    for name, a in wanted.agents.items():
        have_agent = current.agents.get(name)
        if have_agent is None:
            cmds.append(f"agent add {arg(name)} {arg(a.type)}")
        elif have_agent.type != a.type:
            cmds.append(f"agent set type {arg(name)} {arg(a.type)}")
        # Reachable and timed before it may be Available: a status change can start an offer.
        if have_agent is None or have_agent.contact != a.contact:
            cmds.append(f"agent set contact {arg(name)} {arg(a.contact)}")
        for key in AGENT_NUMBERS:
            if have_agent is None or getattr(have_agent, key) != getattr(a, key):
                cmds.append(f"agent set {key} {arg(name)} {getattr(a, key)}")
        if have_agent is None or have_agent.status != a.status:
            cmds.append(f"agent set status {arg(name)} {arg(a.status)}")
    for key, t in wanted.tiers.items():
        have_tier = current.tiers.get(key)
        if have_tier is None:
            cmds.append(f"tier add {arg(t.queue)} {arg(t.agent)} {t.level} {t.position}")
            continue
        if have_tier.level != t.level:
            cmds.append(f"tier set level {arg(t.queue)} {arg(t.agent)} {t.level}")
        if have_tier.position != t.position:
            cmds.append(f"tier set position {arg(t.queue)} {arg(t.agent)} {t.position}")
    for key, t in current.tiers.items():
        if key not in wanted.tiers and t.agent in wanted.agents:
            cmds.append(f"tier del {arg(t.queue)} {arg(t.agent)}")
    for name in current.agents:
        if name not in wanted.agents:
            # cc_agent_del also deletes the agent's tiers.
            cmds.append(f"agent del {arg(name)}")
    for name in current.queues:
        if name not in wanted.queues:
            cmds.append(f"queue unload {arg(name)}")
    return Plan(cmds, xml)
