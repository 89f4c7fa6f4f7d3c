"""What the callers waiting in mod_callcenter queues need to know, read once per interval per queue.

Every caller in a queue node asks "is anybody logged in?" every second, and "where am I in
line?" when it joins and when an announcement is due. Asking FreeSWITCH once per caller would
cost up to 2 x callers commands per interval for a queue whose answer is the same for all of
them, so the board keeps one agent list and one member list per queue and the first caller who
needs a fresher one fetches it (over its own socket: any ESL connection answers ``api``) while
the others wait for that fetch and share it (issue 14 point 1; measured by bench/queues.py).

What the snapshot relies on in mod_callcenter.c (v1.11.1, cc_config_api_function):
- ``callcenter_config queue list members <q>``: ``SELECT ... FROM members WHERE queue = ... ORDER
  BY score DESC`` with ``score = (now - joined_epoch) + base_score + skill_score`` — the order the
  agent dispatch offers members in (cc_agent_dispatch / members_callback). Rows that left without
  an agent stay as ``Abandoned`` until discard-abandoned-after, and answered ones as ``Answered``,
  so a position counts only ``Waiting`` and ``Trying`` rows (``queue count members`` counts them
  all and would be wrong). Lists are a ``|`` header line, the rows, then ``+OK``; with no rows
  only ``+OK`` (list_result_callback writes the header with the first row).
- ``callcenter_config queue list agents <q>``: the agents with a tier in the queue (joined on
  tiers), same list format; an agent is logged in unless its status is ``Logged Out``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gevent.lock import Semaphore

from fsivr.callcenter.commands import ListError, parse_list

#: Member states that are still in line (cc_member_state_t: Waiting, Trying = being offered).
IN_LINE = ("Waiting", "Trying")


@dataclass(frozen=True)
class QueueSnapshot:
    #: Session uuid → place in line (1 = offered next) of the members still in line; None when
    #: the caller asked for the agents only (``members=False``).
    places: dict[str, int] | None
    #: Agents of the queue whose status is not ``Logged Out``.
    logged_in: int
    #: time.monotonic() when the agents were read.
    read_at: float

    def position(self, session_uuid: str) -> int | None:
        """1 for the member offered next; None if not (or no longer) in line, or not read."""
        return None if self.places is None else self.places.get(session_uuid)


def read_places(reply: str) -> dict[str, int]:
    """The places in line from a ``queue list members`` reply. Only two columns are needed, so
    rows are split, not turned into dicts (parse_list): a queue of 1,000 is a ~160 KB reply read
    in the hub once per interval — 7 ms as dicts, a step's whole latency budget several times over
    (bench/queues.py)."""
    lines = reply.rstrip("\n").split("\n")
    if not lines or lines[-1] != "+OK":
        raise ListError(reply)
    if len(lines) == 1:
        return {}
    header = lines[0].split("|")
    try:
        who, what = header.index("session_uuid"), header.index("state")
    except ValueError:
        raise ListError(reply) from None
    width = len(header)
    places: dict[str, int] = {}
    for line in lines[1:-1]:
        cells = line.split("|")
        if len(cells) != width:
            raise ListError(reply)
        if cells[what] in IN_LINE:
            places[cells[who]] = len(places) + 1
    return places


def read_logged_in(reply: str) -> int:
    agents = parse_list(reply)
    return sum(1 for a in agents if a.get("status") and a.get("status") != "Logged Out")


@dataclass
class QueueBoard:
    """Per queue, one member list and one agent list shared by every caller of this process; each
    read at most once per ``interval`` seconds per queue, the member list only when a caller needs
    a place in line (joining, or an announcement due) — a queue of a few callers announcing every
    30 s needs it far less often than its agents are checked."""

    interval: float = 1.0
    _agents: dict[str, tuple[int, float]] = field(default_factory=dict)
    _members: dict[str, tuple[dict[str, int], float]] = field(default_factory=dict)
    _locks: dict[str, Semaphore] = field(default_factory=dict)
    #: How many lists were read (what the efficiency test counts).
    agent_reads: int = 0
    member_reads: int = 0

    def snapshot(self, queue: str, api: Callable[[str], str], *, max_age: float | None = None,
                 members: bool = True) -> QueueSnapshot:
        """Lists no older than ``max_age`` (default ``interval``); read through ``api`` if the ones
        held are older. Concurrent callers wait for one read instead of making their own."""
        age = self.interval if max_age is None else max_age
        lock = self._locks.setdefault(queue, Semaphore())
        with lock:
            now = time.monotonic()
            agents = self._agents.get(queue)
            if agents is None or now - agents[1] > age:
                agents = (read_logged_in(api(f"callcenter_config queue list agents {queue}")), time.monotonic())
                self.agent_reads += 1
                self._agents[queue] = agents
            places: dict[str, int] | None = None
            if members:
                held = self._members.get(queue)
                if held is None or now - held[1] > age:
                    held = (read_places(api(f"callcenter_config queue list members {queue}")), time.monotonic())
                    self.member_reads += 1
                    self._members[queue] = held
                places = held[0]
            return QueueSnapshot(places=places, logged_in=agents[0], read_at=agents[1])
