"""A running server picks up changes another process commits — one scenario of many, and the
directory — within its refresh intervals, recompiling only the changed scenario; while nothing
changes, each tick is answered by the change counter alone (no table read, no compile).
On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gevent
from nodes.conftest import dial_strings

from fsivr.config import Config
from fsivr.testing import Target
from fsivr.testing.harness import running

SCENARIOS = 20


def bundle(changed: bool = False) -> str:
    # One bundle name for both imports: the directory entries are this bundle's to change.
    lines = ["bundle: pbx", "accounts:",
             '  - {user: "101", password: "x", extension: "101"}',
             '  - {user: "102", password: "x", extension: "102"}',
             "scenarios:"]
    for i in range(SCENARIOS):
        # Scenario s7, once changed, hangs up at once instead of asking for an extension.
        start = "bye" if changed and i == 7 else "e"
        lines += [f"  - scenario: s{i}", f'    numbers: ["{1000 + i}"]', f"    start: {start}", "    nodes:",
                  "      e: {type: extension, digits: 3, answered: bye, invalid: bye, busy: bye}",
                  "      bye: {type: hangup}"]
    return "\n".join(lines) + "\n"


def wait_for(predicate, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    with gevent.Timeout(seconds, False):
        while not predicate():
            gevent.sleep(0.02)
        return True
    return False


def test_changes_by_another_process_reach_new_calls_recompiling_only_what_changed(
        db_url: str, tmp_path: Path) -> None:
    cfg = Config()
    cfg.reload_interval = 0.1
    cfg.directory_interval = 0.1
    with running(bundle(), database_url=db_url, config=cfg) as h:
        scenarios, directory = h.app.services.scenarios, h.app.services.directory
        assert scenarios.compiles == SCENARIOS
        assert h.call(number="1007", digits=["102"]).path[0] == ("e", "answered")

        # Nothing changes: ticks go by, each one a counter read.
        compiles, loads, reads = scenarios.compiles, scenarios.loads, directory.reads
        ticks, dir_ticks = scenarios.unchanged, directory.unchanged
        assert wait_for(lambda: scenarios.unchanged >= ticks + 3 and directory.unchanged >= dir_ticks + 3, 10)
        assert (scenarios.compiles, scenarios.loads, directory.reads) == (compiles, loads, reads)

        # Another process (the CLI) changes s7 and gives extension 102 to a new account.
        path = tmp_path / "changed.yaml"
        path.write_text(bundle(changed=True).replace(
            '  - {user: "102", password: "x", extension: "102"}',
            '  - {user: "102", password: "x", extension: null}\n'
            '  - {user: "201", password: "x", extension: "102"}'))
        fsivr = [sys.executable, "-m", "fsivr", "--database", db_url]
        subprocess.run([*fsivr, "import", str(path)], check=True, capture_output=True, timeout=120)

        # Both reach the running server by its own ticks (nothing here calls refresh). The bound
        # is generous for a loaded box; the intervals are 0.1 s.
        assert wait_for(lambda: scenarios.get("s7").version == 2, 10)
        assert wait_for(lambda: directory.employee("102") is not None and directory.employee("102").user == "201", 10)
        assert scenarios.compiles == compiles + 1  # s7 only, not the other 19
        assert scenarios.get("s6").version == 1
        assert h.call(number="1007").path[0][0] == "bye"
        placed = h.call(number="1006", digits=["102"], targets={"sip:201": Target("busy")})
        assert placed.path[0] == ("e", "busy")
        assert dial_strings(placed)[0].endswith("user/201")
