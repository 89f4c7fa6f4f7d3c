"""The soak (issue 11 point 8): thousands of calls through every node type, after which the heap
and the greenlets alive are back where they were.

Every node type's call (the hangup matrix's rows, tests/engine/test_hangup_matrix.py, so a new
node type is soaked once it has its row) is placed round after round, all types of a round at
once. Measured after a warm-up third of the rounds (caches filled, templates compiled, prompts
rendered) and then every few rounds, all calls finished and their records written: the interpreter's
allocated blocks (sys.getallocatedblocks: every live object's memory) and the objects the collector
tracks. The growth per call is the slope fitted through those measures - a leak grows with the
calls, a cache does not, and what comes and goes moves one measure but hardly the slope - so the
tolerance is per call and nothing depends on the machine's speed. The simulator's own memoised
header lines (fsivr/testing/wire.py, bounded) and its logs (calls originated, mod_callcenter's
events) are emptied before each measure: they are the test rig's.
"""

from __future__ import annotations

import gc
import itertools
import sqlite3
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from greenlet import greenlet

from fsivr.config import Config
from fsivr.testing import CallScript, Simulator, wire
from fsivr.testing.harness import Harness, running

from test_hangup_matrix import AT, PDF, ROWS, bundle, product_node_types  # isort: skip - the matrix's rows, next door

ROUNDS = 80  # x 25 node types + the two below one round in five: ~2,000 calls
WARM_UP = ROUNDS // 3
#: Node types whose call does slow work on purpose, soaked one round in this many: the PIN check
#: (a memory-hard hash, engine/pins.py), the received fax made a PDF (a ghostscript run).
SLOW_EVERY = {"authorize": 5, "fax_receive": 5, "agent_login": 5, "agent_menu": 5}  # scrypt PIN checks
#: Measured: none - the heap and the collector's objects end where they began, give or take a few
#: hundred over ~1,300 calls. A leak of one object per call (a dict entry, a string, a closure) is
#: at least one block per call, so half of one per call catches it; what a call leaves on purpose
#: is bounded and rare (a channel released alive is remembered, up to 10,000, by the runner).
BLOCKS_PER_CALL = 0.5
OBJECTS_PER_CALL = 0.5
#: Rounds between two measures after the warm-up (9 measures over the ~1,500 calls after it).
CHECK_EVERY = 6
#: Greenlets the server may start for good during the soak (none expected).
GREENLETS = 2


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    media, documents = tmp_path_factory.mktemp("media"), tmp_path_factory.mktemp("documents")
    (Path(documents) / "price-list.pdf").write_bytes(PDF)
    cfg = Config()
    cfg.media_dir, cfg.documents_dir = str(media), str(documents)
    cfg.parking_lots = ["main 701-799 45"]
    cfg.default_gateway = "trunk"
    with running(bundle(), config=cfg) as harness:
        harness.simulator = Simulator(harness.app.server.address, time_scale=0.0)
        # agent 101 is known to mod_callcenter, as the sync makes it on a real server: the agent
        # IVR's status commands succeed instead of logging a retry warning per call.
        assert harness.simulator.callcenter.config("agent add 101 callback") == "+OK\n"
        yield harness


def greenlets() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, greenlet) and not o.dead)


def measure(h: Harness) -> tuple[int, int, int]:
    """(allocated blocks, objects tracked by the collector, live greenlets) with no call running."""
    assert h.app.runner.idle.wait(30.0), "calls still running"
    assert h.app.records.flush(30.0), "call records not written"
    h.simulator.originated.clear()
    h.simulator.callcenter.events.clear()  # the simulated mod_callcenter's event log, kept for tests to read
    wire._LINE_CACHE.clear()
    wire._SAFE_CACHE.clear()
    for _ in range(3):
        gc.collect()
    # Dead weak references a sqlite3 connection still lists: CPython's sqlite3 module keeps one per
    # cursor made and prunes the dead ones only every 200 cursors (Modules/_sqlite/connection.c,
    # pysqlite_drop_unused_cursor_references), so each pooled connection holds 0-200 of them, a
    # one-block object each, depending on where its count stands - hundreds up or down between
    # two measures, which is not the server's.
    dead = sqlite_dead_cursor_refs()
    return sys.getallocatedblocks() - dead, len(gc.get_objects()) - dead, greenlets()


def sqlite_dead_cursor_refs() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, sqlite3.Connection)
               for held in gc.get_referents(o) if isinstance(held, list)
               for ref in held if isinstance(ref, weakref.ref) and ref() is None)


def test_memory_and_greenlets_return_to_their_baseline(soak: Harness) -> None:
    types = product_node_types()
    missing = sorted(set(types) - set(ROWS))
    assert not missing, f"node types without a row in the hangup matrix, so not soaked: {missing}"
    callers = itertools.count(1)
    placed = 0

    def run_round(n: int) -> None:
        nonlocal placed
        handles = []
        for node_type in types:
            if n % SLOW_EVERY.get(node_type, 1):
                continue
            kwargs = {"caller": f"+4851{next(callers):07d}", **ROWS[node_type].script}
            handles.append(soak.simulator.start_call(CallScript(number=f"m-{node_type}", at=AT, timeout=60.0,
                                                                **kwargs)))
        for handle in handles:
            result = handle.wait()
            assert result.ok, result.error
            placed += 1

    for n in range(WARM_UP):
        run_round(n)
    # A measure at every few rounds, and the growth per call is the slope fitted through them all:
    # what is bounded but comes and goes (dead weak references SQLAlchemy's registries prune
    # lazily, a few hundred up or down) moves single measures, not the slope of many, while a leak
    # of one object per call raises every measure after the last.
    points: list[tuple[int, int, int, int]] = []
    for n in range(WARM_UP, ROUNDS + 1):
        if (n - WARM_UP) % CHECK_EVERY == 0:
            points.append((placed, *measure(soak)))
        if n < ROUNDS:
            run_round(n)
    alive, end_alive = points[0][3], points[-1][3]
    calls = placed - points[0][0]
    assert placed >= 2000, placed
    assert end_alive <= alive + GREENLETS, f"greenlets alive: {alive} -> {end_alive}"
    xs = [p[0] for p in points]
    block_growth, object_growth = slope(xs, [p[1] for p in points]), slope(xs, [p[2] for p in points])
    assert object_growth <= OBJECTS_PER_CALL, (
        f"objects tracked by the collector grow {object_growth:.2f} per call over {calls} calls: "
        f"{[p[2] for p in points]}")
    assert block_growth <= BLOCKS_PER_CALL, (
        f"allocated blocks grow {block_growth:.2f} per call over {calls} calls: {[p[1] for p in points]}")


def slope(xs: list[int], ys: list[int]) -> float:
    """The least-squares slope of ys over xs: growth per call."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
