"""What the callers waiting in mod_callcenter queues need to know, read once per interval per queue.

Every caller in a queue node asks "where am I in line, and is anybody logged in?" every few
seconds. Asking FreeSWITCH once per caller would cost 2 x callers commands per interval for a
queue whose answer is the same for all of them, so the board keeps one snapshot per queue and
the first caller who needs a fresher one fetches it (over its own socket: any ESL connection
answers ``api``) while the others wait for that fetch and share it (issue 14 point 1).

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

from fsivr.callcenter.commands import parse_list

#: Member states that are still in line (cc_member_state_t: Waiting, Trying = being offered).
IN_LINE = ("Waiting", "Trying")


@dataclass(frozen=True)
class QueueSnapshot:
    #: Session uuids of the members still in line, best score first (the next offered first).
    line: tuple[str, ...]
    #: Agents of the queue whose status is not ``Logged Out``.
    logged_in: int
    #: time.monotonic() when it was read.
    read_at: float

    def position(self, session_uuid: str) -> int | None:
        """1 for the member offered next; None if not (or no longer) in line."""
        try:
            return self.line.index(session_uuid) + 1
        except ValueError:
            return None


def read_snapshot(queue: str, api: Callable[[str], str]) -> QueueSnapshot:
    members = parse_list(api(f"callcenter_config queue list members {queue}"))
    agents = parse_list(api(f"callcenter_config queue list agents {queue}"))
    line = tuple(m.get("session_uuid", "") for m in members if m.get("state") in IN_LINE)
    logged_in = sum(1 for a in agents if a.get("status") and a.get("status") != "Logged Out")
    return QueueSnapshot(line=line, logged_in=logged_in, read_at=time.monotonic())


@dataclass
class QueueBoard:
    """One snapshot per queue, shared by every caller of this process; at most one read per
    ``interval`` seconds per queue."""

    interval: float = 1.0
    _snapshots: dict[str, QueueSnapshot] = field(default_factory=dict)
    _locks: dict[str, Semaphore] = field(default_factory=dict)
    #: How many reads were made (what the efficiency test counts).
    reads: int = 0

    def snapshot(self, queue: str, api: Callable[[str], str], *, max_age: float | None = None) -> QueueSnapshot:
        """A snapshot no older than ``max_age`` (default ``interval``); read through ``api`` if the
        one held is older. Concurrent callers wait for one read instead of making their own."""
        age = self.interval if max_age is None else max_age
        lock = self._locks.setdefault(queue, Semaphore())
        with lock:
            held = self._snapshots.get(queue)
            if held is not None and time.monotonic() - held.read_at <= age:
                return held
            fresh = read_snapshot(queue, api)
            self.reads += 1
            self._snapshots[queue] = fresh
            return fresh
