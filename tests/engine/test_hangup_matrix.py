"""The hangup matrix (issue 11 point 8): for every registered node type, the caller hangs up at each
protocol point of that node, and the call ends as it should.

Each node type has a ROW: the node as a scenario runs it (its outcomes all lead to a marker node),
the caller's script that takes it through its full path, and a check of its side effects. The
points are not written by hand: a probe call without a hangup shows every command the node sends,
and the caller then hangs up, in its own call, at each of them -
  * before FreeSWITCH replies to it (``Hangup(on_command=..., before_reply=True)``),
  * right after the reply (before a sendmsg's application starts; after an api's output),
  * during the application it starts (``Hangup(on_app=...)``: mid-media, or as an instant one ends),
  * right after the node's last application completed (``Hangup(after_apps=...)``),
so a node that starts sending something new is covered by its next run. After each: the simulator
saw only what linger permits after the hangup (``exit``, ``getvar``, api/bgapi not about the
channel: mod_event_socket runs nothing else for a channel that is down, docs/freeswitch-notes.md §7),
the server ended the session itself (``exit``; the simulator's linger is made long, so it never
closes first), the record is complete with the caller's cause and no fault, no node ran after the
hangup, and the row's side effects are whole.

A node type registered without a row FAILS ``test_every_node_type_has_a_row``: give it one.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fsivr.config import Config
from fsivr.engine.pins import hash_pin
from fsivr.engine.registry import node_types
from fsivr.store.models import CallFileRow, OutboxRow, VoicemailRow
from fsivr.testing import CallResult, CallScript, Hangup, Simulator, Speech, Target
from fsivr.testing.harness import Harness, Placed, running

#: The caller's cause: not the server's own NORMAL_CLEARING, so a record that took the wrong
#: one shows.
CAUSE = "NORMAL_UNSPECIFIED"
PIN = "8642"
AT = datetime(2026, 11, 23, 10, tzinfo=UTC)  # a Monday, 11:00 in Warsaw
#: The node after the one under test: a marker on the wire (multiset fsivr_fsivr_matrix=after).
AFTER = '{type: set, variables: {fsivr_matrix: "after"}, next: bye}'

PBX = """
accounts:
  - {user: "101", password: "pw-101", name: "Anna", extension: "101", mobile: "+48600100101"}
  - {user: "102", password: "pw-102", name: "Piotr", extension: "102"}
groups:
  - {name: sales, strategy: simultaneous, ring_timeout: 15, members: ["101", "102"]}
contacts:
  - {number: "+48501000001", name: "ACME", owner: "101"}
mailboxes:
  - {box: office, email: "office@example.com"}
queues:
  - {name: sales, strategy: longest-idle-agent, agents: ["101", "102"]}
gateways:
  - {name: trunk, proxy: sip.operator.example, caller_id: "+48221234567"}
scenarios:
  - scenario: target
    numbers: ["9999"]
    start: bye
    nodes:
      bye: {type: hangup}
"""


@dataclass
class Row:
    """One node type in the matrix."""

    #: The node under test, as YAML flow mapping text; ``{after}`` stands for the marker node's id.
    node: str
    #: What the caller (and the world) does so the node goes its whole way.
    script: dict[str, Any] = field(default_factory=dict)
    #: Side effects to check after each point (harness, placed call, point label).
    check: Callable[[Harness, Placed, str], None] | None = None
    #: Why this node, as the matrix can run it, has no protocol point of its own ("" = it has).
    no_points: str = ""
    #: Further nodes (id -> YAML flow mapping) the node under test leads through to ``{after}``,
    #: for a node that needs another before it (agent_menu needs a logged-in agent): their
    #: points are hung up on too.
    extra: dict[str, str] = field(default_factory=dict)


def _outbox(h: Harness, uuid: str) -> list[OutboxRow]:
    return h.store.run(lambda s: list(s.scalars(select(OutboxRow).where(OutboxRow.call_uuid == uuid))))


def outbox_once(h: Harness, placed: Placed, point: str) -> None:
    """A notification is queued once or not at all, never twice (its idempotency key)."""
    rows = _outbox(h, placed.result.uuid)
    keys = Counter(r.idempotency_key for r in rows)
    assert all(n == 1 for n in keys.values()), (point, keys)
    ran = placed.path and placed.path[0][1] == "next"
    assert bool(rows) == bool(ran), (point, placed.path, rows)


def voicemail_whole(h: Harness, placed: Placed, point: str) -> None:
    """A message is kept whole (its row and a non-empty file) or not at all."""
    uuid = placed.result.uuid
    rows = h.store.run(lambda s: list(s.scalars(select(VoicemailRow).where(VoicemailRow.call_uuid == uuid))))
    assert len(rows) <= 1, point
    for row in rows:
        path = media_file(h, row.file)
        assert path.is_file() and path.stat().st_size > 0, (point, row.file)
    recorded = [a for a in placed.result.apps if a.name == "record"]
    if not recorded:
        assert rows == [], (point, "a message kept though nothing was recorded")


def files_whole(h: Harness, placed: Placed, point: str) -> None:
    """A file kept with the call has its row and its file, together."""
    uuid = placed.result.uuid
    rows = h.store.run(lambda s: list(s.scalars(select(CallFileRow).where(CallFileRow.call_uuid == uuid))))
    for row in rows:
        assert media_file(h, row.file).is_file(), (point, row.file)


def media_file(h: Harness, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else h.app.services.media.root / path


def park_slot_freed(h: Harness, placed: Placed, point: str) -> None:
    """The slot this server chose for the call is given back however the call ended."""
    taken = h.app.services.parking._taken
    assert placed.result.uuid not in taken.values(), (point, taken)


def callcenter_member_gone(h: Harness, placed: Placed, point: str) -> None:
    members = h.simulator.callcenter.members if hasattr(h.simulator.callcenter, "members") else {}
    assert not any(placed.result.uuid in str(m) for m in members), point


ROWS: dict[str, Row] = {
    "play": Row('{type: play, text: "Hello", next: {after}}'),
    "say": Row('{type: say, kind: number, value: "42", language: en, next: {after}}'),
    "set": Row('{type: set, variables: {x: "1"}, next: {after}}'),
    "menu": Row('{type: menu, text: "Press 1", options: {"1": {after}}, max_attempts: 2, timeout: {after}, '
                'invalid: {after}}', {"digits": ["9", "1"]}),
    "extension": Row('{type: extension, text: "Dial", digits: 3, answered: {after}, no_answer: {after}, '
                     'busy: {after}, failed: {after}, invalid: {after}}',
                     {"digits": ["101"], "targets": {"sip:101": Target("answered", talk=3.0)}}),
    "dial": Row('{type: dial, targets: [sip:101, sip:102], answered: {after}, no_answer: {after}, '
                'busy: {after}, failed: {after}}', {"targets": {"sip:101": Target("answered", talk=3.0)}}),
    "group": Row('{type: group, group: sales, answered: {after}, no_answer: {after}, busy: {after}, '
                 'failed: {after}}', {"targets": {"sip:102": Target("answered", talk=3.0)}}),
    "forward": Row('{type: forward, number: "+48600100200", answered: {after}, no_answer: {after}, '
                   'busy: {after}, failed: {after}, invalid: {after}}'),
    "responsible_manager": Row('{type: responsible_manager, answered: {after}, no_answer: {after}, '
                               'not_found: {after}}', {"caller": "+48501000001"}),
    "any_manager": Row('{type: any_manager, ring_timeout: 10, max_wait: 20, retry_interval: 5, '
                       'answered: {after}, no_answer: {after}}'),
    "status_condition": Row('{type: status_condition, answered: {after}, no_answer: {after}, busy: {after}, '
                            'failed: {after}}'),
    # Its override (the switch time_override flips) is named here.
    "time_condition": Row('{type: time_condition, timezone: Europe/Warsaw, override: office, '
                          'rules: [{days: mon-fri, hours: "08:00-16:00"}], match: {after}, nomatch: {after}}'),
    "time_override": Row('{type: time_override, switch: office, open: {after}, closed: {after}, '
                         'schedule: {after}, invalid: {after}}'),
    "authorize": Row(f'{{type: authorize, pins: ["{hash_pin(PIN)}"], text: "PIN", max_attempts: 2, '
                     'ok: {after}, denied: {after}}', {"digits": ["1111#", PIN + "#"]}),
    "lookup": Row('{type: lookup, table: last_agent, within_days: 7, found: {after}, not_found: {after}}'),
    "goto": Row('{type: goto, scenario: target}'),
    "exit": Row('{type: exit}'),
    "hangup": Row('{type: hangup}'),
    "sms": Row('{type: sms, to: "+48600100101", text: "Hello {{ caller }}", next: {after}}', check=outbox_once),
    "email": Row('{type: email, to: "boss@example.com", subject: "Call from {{ caller }}", next: {after}}',
                 check=outbox_once),
    "callback": Row('{type: callback, scenario: target, delay: 60, next: {after}}', check=outbox_once),
    "voicemail": Row('{type: voicemail, box: office, text: "Leave a message", max_seconds: 30, '
                     'silence_seconds: 3, next: {after}}', {"speech": [Speech(talk=4.0, then="silence")]},
                     check=voicemail_whole),
    "record_call": Row('{type: record_call, stereo: true, next: {after}}', check=files_whole),
    "fax_receive": Row('{type: fax_receive, email: "faxes@example.com", received: {after}, failed: {after}}',
                       check=files_whole),
    "fax_send": Row('{type: fax_send, document: price-list.pdf, sent: {after}, failed: {after}}'),
    "park": Row('{type: park, lot: main, text: "You are parked on", next: {after}, full: {after}}',
                check=park_slot_freed),
    # The agent number and PIN are right: wrong ones would lock agent 101 out after a few points
    # (per agent, across calls), and the later points would not follow the probe's path.
    "agent_login": Row('{type: agent_login, identify_by_caller_id: false, max_attempts: 1, '
                       'ok: {after}, denied: {after}}', {"digits": ["101#", PIN + "#"]}),
    "agent_menu": Row('{type: agent_login, identify_by_caller_id: false, max_attempts: 1, ok: m, denied: bye}',
                      {"digits": ["101#", PIN + "#", "3"]},
                      extra={"m": '{type: agent_menu, ended: {after}, on_break: {after}, not_ready: {after}, '
                                  'logged_out: {after}, timeout: {after}}'}),
    "queue": Row('{type: queue, queue: sales, announce_every: 2, max_wait: 6, answered: {after}, '
                 'timeout: {after}, exit: {after}, no_agents: {after}}', check=callcenter_member_gone,
                 no_points="with nobody logged in it only reads mod_callcenter's lists over api, from a "
                 "snapshot shared by calls for an interval of real time (engine/queueboard.py), so whether a "
                 "given call sends them is not the call's own; a caller waiting with agents logged in needs "
                 "the simulator in real time (tests/nodes/test_queue.py hangs callers up while waiting)"),
}

PDF = b"""%PDF-1.4
1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj
3 0 obj<</Type/Page/MediaBox[0 0 612 792]/Parent 2 0 R>>endobj
trailer<</Root 1 0 R>>
%%EOF
"""


def bundle() -> str:
    agents = f'agents:\n  - {{account: "101", pin_hash: "{hash_pin(PIN)}"}}\n'
    out = [PBX.replace("scenarios:\n", agents + "scenarios:\n", 1)]
    for node_type, row in sorted(ROWS.items()):
        node = row.node.replace("{after}", "after")
        extra = "".join(f"      {key}: {value.replace('{after}', 'after')}\n" for key, value in row.extra.items())
        out.append(f"""  - scenario: m-{node_type.replace('_', '-')}
    numbers: ["m-{node_type}"]
    start: n
    nodes:
      n: {node}
{extra}      after: {AFTER}
      bye: {{type: hangup}}
""")
    return "".join(out)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    media, documents = tmp_path_factory.mktemp("media"), tmp_path_factory.mktemp("documents")
    (documents / "price-list.pdf").write_bytes(PDF)
    cfg = Config()
    cfg.media_dir, cfg.documents_dir = str(media), str(documents)
    # Room for every point's call: a slot whose caller was not picked up rests 6 s (engine/slots.py).
    cfg.parking_lots = ["main 701-760 45"]
    cfg.default_gateway = "trunk"
    with pytest.MonkeyPatch.context() as patch, running(bundle(), config=cfg) as harness:
        # Waits bounded by HANGUP_CONFIRM (5 s) for something FreeSWITCH will not send after a
        # hangup would pass unseen: made longer than the harness's 10 s guard, they fail instead.
        patch.setattr("fsivr.engine.call.HANGUP_CONFIRM", 60.0)
        patch.setattr("fsivr.engine.runner.HANGUP_CONFIRM", 60.0)
        # A long linger floor: the switch never closes a lingering socket first, so a session the
        # server does not end itself (exit) shows as a timeout instead of passing unnoticed.
        harness.simulator = Simulator(harness.app.server.address, time_scale=0.0, linger_floor=8.0)
        # agent 101 is known to mod_callcenter, as the sync makes it on a real server: the agent
        # IVR's status commands succeed instead of logging a retry warning per call.
        assert harness.simulator.callcenter.config("agent add 101 callback") == "+OK\n"
        yield harness


def product_node_types() -> list[str]:
    """The registered node types fsivr ships (fsivr.nodes...): tests register stand-ins of their
    own (tests/scenario/conftest.py), which have nothing to hang up on."""
    return sorted(name for name, cls in node_types().items() if cls.__module__.startswith("fsivr."))


def test_every_node_type_has_a_row() -> None:
    """The matrix grows with the node types: one registered without a row fails here (and in
    test_hangup_at_every_point) until it is given one in ROWS."""
    missing = sorted(set(product_node_types()) - set(ROWS))
    assert not missing, f"node type(s) without a row in the hangup matrix (test_hangup_matrix.py ROWS): {missing}"
    assert not set(ROWS) - set(product_node_types()), "rows for node types that are not registered"


# ---- the points of a node, read off a probe call -------------------------------------------

_NAME = re.compile(rb"execute-app-name: ([^\n]+)")
_CALL_COMMAND = re.compile(rb"call-command: ([^\n]+)")


def command_name(raw: bytes) -> str:
    """What Hangup.on_command matches: a sendmsg's application (or call-command), an api's command."""
    if raw.startswith(b"sendmsg"):
        found = _NAME.search(raw) or _CALL_COMMAND.search(raw)
        return found.group(1).decode().strip() if found else ""
    first = raw.split(b"\n", 1)[0].decode()
    if first.startswith(("api ", "bgapi ")):
        return first.split(" ", 2)[1] if len(first.split(" ")) > 1 else ""
    return first.split(" ", 1)[0].lower()


@dataclass
class Point:
    label: str
    hangup: Hangup


def node_commands(result: CallResult) -> tuple[int, int]:
    """Indexes [start, end) of the commands the node under test sent in a probe call."""
    cmds = result.commands
    start = next(i for i, c in enumerate(cmds) if c.startswith(b"linger")) + 1
    end = next((i for i, c in enumerate(cmds) if b"fsivr_matrix=after" in c), None)
    if end is None:  # a terminal node: until the session ends
        end = next((i for i, c in enumerate(cmds) if c.startswith(b"exit")), len(cmds))
    return start, end


def points_of(result: CallResult) -> list[Point]:
    cmds = result.commands
    start, end = node_commands(result)
    seen: Counter[str] = Counter()
    apps: Counter[str] = Counter()
    executes = 0
    points: list[Point] = []
    for i, raw in enumerate(cmds):
        name = command_name(raw)
        seen[name] += 1
        execute = raw.startswith(b"sendmsg") and b"call-command: execute" in raw
        if execute:
            apps[name] += 1
            executes += 1
        if i < start or i >= end:
            continue
        tag = f"{name}#{seen[name]}"
        points.append(Point(f"{tag} before its reply", Hangup(on_command=name, occurrence=seen[name],
                                                                before_reply=True, cause=CAUSE)))
        if name in ("uuid_kill", "hangup"):
            continue  # the server's own hangup: after it there is no channel to hang up
        points.append(Point(f"{tag} after its reply", Hangup(on_command=name, occurrence=seen[name],
                                                               before_reply=False, cause=CAUSE)))
        if execute:
            points.append(Point(f"{tag} during the application", Hangup(on_app=name, occurrence=apps[name],
                                                                         offset=0.5, cause=CAUSE)))
    if any(raw.startswith(b"sendmsg") and b"call-command: execute" in raw for raw in cmds[start:end]):
        through = sum(1 for raw in cmds[:end] if raw.startswith(b"sendmsg") and b"call-command: execute" in raw)
        points.append(Point("right after its last application", Hangup(after_apps=through, cause=CAUSE)))
    return points


#: Allowed after the hangup: what a lingering socket still does for a channel that is down
#: (freeswitch-notes §7: getvar, api/bgapi work; sendmsg answers +OK but never runs; api uuid_* on
#: our uuid fails), and the end of the session.
def allowed_after_hangup(raw: bytes, uuid: str) -> bool:
    if raw.startswith((b"exit", b"getvar", b"linger", b"nolinger")):
        return True
    if raw.startswith((b"api ", b"bgapi ")):
        return uuid.encode() not in raw
    return False


_callers = itertools.count(1)


def place(h: Harness, node_type: str, row: Row, hangup: Hangup | None) -> Placed:
    # A caller of its own per call (unless the row needs a known one): what one call leaves
    # behind for its caller (a PIN lock-out, a pending callback) must not steer the next.
    kwargs = {"caller": f"+4850{next(_callers):07d}", **row.script}
    script = CallScript(number=f"m-{node_type}", at=AT, hangup=hangup, timeout=30.0, **kwargs)
    return h.call(script)


@pytest.mark.parametrize("node_type", sorted(set(product_node_types()) | set(ROWS)))
def test_hangup_at_every_point(matrix: Harness, node_type: str) -> None:
    row = ROWS.get(node_type)
    if row is None:
        pytest.fail(f"node type {node_type!r} has no row in the hangup matrix (ROWS): give it one")
    probe = place(matrix, node_type, row, None)
    assert probe.result.ok, probe.result.error
    assert probe.record is not None and probe.path and probe.path[0][0] == "n", probe.record
    if row.check is not None:
        row.check(matrix, probe, "probe")
    points = points_of(probe.result)
    failures: list[str] = []
    missed: list[str] = []
    reached = 0
    for point in points:
        placed = place(matrix, node_type, row, point.hangup)
        result, record = placed.result, placed.record
        problems = []
        if not result.ok:
            problems.append(f"simulator: {result.error}")
        if point.hangup.on_command and point.hangup.on_command not in [command_name(c) for c in result.commands]:
            # State one call left (a cache, a slot) took this one another way: the point was not
            # on its path. Counted; a row whose points are all missed fails below.
            missed.append(point.label)
            continue
        reached += 1
        if result.hangup_by != "caller" or result.commands_at_hangup is None:
            problems.append(f"the caller never hung up there (hangup by {result.hangup_by}); commands "
                            f"{[command_name(c) for c in result.commands]}")
        else:
            after = result.commands[result.commands_at_hangup:]
            sent = [c.split(b"\n", 1)[0].decode(errors="replace") for c in after
                    if not allowed_after_hangup(c, result.uuid)]
            if sent:
                problems.append(f"sent after the hangup: {sent}")
            if not any(c.startswith(b"exit") for c in after):
                problems.append("the server did not end the session itself (no exit)")
        if record is None:
            problems.append("no call record")
        else:
            if (record["hangup_cause"], record["hangup_by"]) != (CAUSE, "caller"):
                problems.append(f"record ended {record['hangup_cause']!r} by {record['hangup_by']!r}")
            if record["fault"]:
                problems.append(f"record fault: {record['fault']}")
            if record.get("ended_at") is None and "ended_at" in record:
                problems.append("record not ended")
            path = placed.path
            # The node's step, and after it only where it hands off (goto): no step once the
            # caller is gone, and never the marker node after it.
            ends = [i for i, (_, outcome) in enumerate(path) if outcome == "hangup"]
            if not path or path[0][0] != "n" or "after" in [n for n, _ in path] or (ends and ends[0] != len(path) - 1):
                problems.append(f"path {path}: a step ran after the hangup")
            elif any(outcome == "error" for _, outcome in path):
                problems.append(f"a node took error: {[s['detail'] for s in record['path']]}")
        if row.check is not None:
            try:
                row.check(matrix, placed, point.label)
            except AssertionError as exc:
                problems.append(f"side effects: {exc}")
        if problems:
            failures.append(f"{node_type} - caller hangs up at {point.label}: " + "; ".join(problems))
    assert not failures, "\n".join(failures)
    assert reached or not points or row.no_points, f"{node_type}: no point was reached (missed: {missed})"
