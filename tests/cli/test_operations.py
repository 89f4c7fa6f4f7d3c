"""Operating ``fsivr serve`` (issue 12, points 4 and 5): a real process with metrics and JSON logs
on, real calls from the simulator, a real HTTP scrape, and the log lines it wrote.

The figures scraped must be exactly the calls just made: the counts of calls by scenario and
outcome, of steps by node type and outcome, the step histogram's count; the gauges must read an
idle server (nothing in progress, nothing buffered) and the scenario versions imported. /health
is ready while the listener is up and the database answers, and not once the listener closes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import procs
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fsivr.scenario import repository
from fsivr.store.db import Store
from fsivr.testing import CallScript, Hangup, Simulator, Target

from .test_serve import free_port, wait_listening

SIP_PASSWORD = "sip-Pw-7f3a9c"
GATEWAY_PASSWORD = "gw-Pw-51be02"
ESL_PASSWORD = "esl-Pw-c0ffee"

BUNDLE = f"""
accounts:
  - {{user: "101", password: "{SIP_PASSWORD}"}}
gateways:
  - {{name: trunk, proxy: sip.example.net, username: acme, password: "{GATEWAY_PASSWORD}"}}
scenarios:
  - scenario: front
    numbers: ["500"]
    start: menu
    nodes:
      menu:
        type: menu
        text: "Press 1 for sales"
        options: {{"1": ring}}
        max_attempts: 1
        timeout: bye
        invalid: bye
      ring: {{type: dial, targets: ["sip:101"], ring_timeout: 10, answered: bye, no_answer: bye, busy: bye}}
      bye: {{type: hangup}}
  - scenario: info
    numbers: ["600"]
    start: talk
    nodes:
      talk: {{type: play, text: "Opening hours", next: bye}}
      bye: {{type: hangup}}
"""


def scrape(port: int, path: str = "/metrics") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(figures: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


@contextmanager
def serving(tmp_path: Path, log_format: str, metrics: bool = True) -> Iterator[tuple[Any, int, int, Path, str]]:
    db = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    (tmp_path / "b.yaml").write_text(BUNDLE)
    store = Store(db)
    store.upgrade()
    repository.import_file(store, tmp_path / "b.yaml")
    store.close()
    port, metrics_port = free_port(), free_port()
    env = {**os.environ, "FSIVR_DATABASE_URL": db, "FSIVR_LOG_FORMAT": log_format, "FSIVR_LOG_LEVEL": "DEBUG",
           "FSIVR_ESL_PASSWORD": ESL_PASSWORD, "FSIVR_SHUTDOWN_GRACE": "5"}
    if metrics:
        env["FSIVR_METRICS_LISTEN"] = f"127.0.0.1:{metrics_port}"
    log = (tmp_path / "serve.log").open("w+")
    proc = procs.spawn([sys.executable, "-m", "fsivr", "serve", "--listen", f"127.0.0.1:{port}"],
                       env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        wait_listening(port, proc)
        yield proc, port, metrics_port, tmp_path / "serve.log", db
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        log.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, int, int, Path, str]]:
    with serving(tmp_path, "json") as running:
        yield running


def test_metrics_health_and_json_logs(served: Any) -> None:
    proc, port, metrics_port, log_path, db = served
    # Ready: the listener is up and the scenario cache has read the database.
    deadline = time.monotonic() + 10
    while (health := scrape(metrics_port, "/health"))[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert health[0] == 200, health
    report = json.loads(health[1])
    assert report["status"] == "ready"
    assert report["checks"]["listener"]["ok"] and report["checks"]["database"]["ok"]

    sim = Simulator(("127.0.0.1", port))
    now = datetime.now(UTC)
    scripts = [
        # menu:1 -> ring:answered -> bye
        CallScript(number="500", caller="+48501000001", at=now, digits=["1"], targets={"sip:101": Target("answered")}),
        # menu:1 -> ring:busy -> bye
        CallScript(number="500", caller="+48501000002", at=now, digits=["1"], targets={"sip:101": Target("busy")}),
        # menu:timeout -> bye
        CallScript(number="500", caller="+48501000003", at=now, digits=[""]),
        # talk:next -> bye
        CallScript(number="600", caller="+48501000004", at=now),
        # the caller hangs up during the prompt
        CallScript(number="600", caller="+48501000005", at=now, hangup=Hangup(after=0.5)),
        # a number with no scenario
        CallScript(number="999", caller="+48501000006", at=now),
    ]
    results = [sim.run_call(s) for s in scripts]
    assert all(r.ok for r in results), [r.error for r in results]

    deadline = time.monotonic() + 10
    while True:
        status, text = scrape(metrics_port)
        figures = samples(text)
        finished = sum(v for (name, _), v in figures.items() if name == "fsivr_calls_total")
        if finished >= len(scripts) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200
    assert value(figures, "fsivr_calls_total", scenario="front", outcome="completed") == 3
    assert value(figures, "fsivr_calls_total", scenario="info", outcome="completed") == 1
    assert value(figures, "fsivr_calls_total", scenario="info", outcome="caller_hangup") == 1
    assert value(figures, "fsivr_calls_total", scenario="-", outcome="no_scenario") == 1
    assert finished == len(scripts)

    # Steps by type and outcome: exactly the paths the server recorded for these calls.
    store = Store(db)
    try:
        deadline = time.monotonic() + 10
        while True:  # the server writes its records in batches, a moment after the calls end
            paths = [store.run(lambda s, u=r.uuid: repository.call_path(s, u)) for r in results]
            if all(paths) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        store.close()
    assert all(paths)
    recorded = Counter((step["type"], step["outcome"]) for p in paths if p for step in p["path"])
    assert recorded[("menu", "1")] == 2 and recorded[("dial", "busy")] == 1
    scraped = {(dict(labels)["type"], dict(labels)["outcome"]): v for (name, labels), v in figures.items()
               if name == "fsivr_node_steps_total"}
    assert scraped == dict(recorded)
    per_type = Counter(t for (t, _), n in recorded.items() for _ in range(n))
    for node_type, n in per_type.items():
        assert value(figures, "fsivr_node_step_seconds_count", type=node_type) == n
        assert value(figures, "fsivr_node_step_seconds_bucket", type=node_type, le="+Inf") == n
    assert value(figures, "fsivr_calls_in_progress") == 0
    assert value(figures, "fsivr_scenario_version", scenario="front") == 1
    assert value(figures, "fsivr_scenario_version", scenario="info") == 1
    assert ("fsivr_call_records_buffered", ()) in figures
    assert ("fsivr_call_records_write_lag_seconds", ()) in figures
    assert value(figures, "fsivr_freeswitch_command_errors_total", kind="timeout", command="connect") == 0

    # INFO lines are buffered, but reach the log within a moment while the server runs.
    deadline = time.monotonic() + 5
    while log_path.read_text().count('"call_finished"') < len(scripts) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log_path.read_text().count('"call_finished"') == len(scripts)
    # The log, as written by the whole run (SIGTERM: the process drains and exits).
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    lines = log_path.read_text().splitlines()
    assert lines
    objects = [json.loads(line) for line in lines]  # every line parses
    finished_lines = [o for o in objects if o.get("event") == "call_finished"]
    assert len(finished_lines) == len(scripts)
    by_caller = {o["caller"]: o for o in finished_lines}
    first = by_caller["+48501000001"]
    assert first["level"] == "INFO" and first["number"] == "500" and first["scenario"] == "front"
    assert first["path_length"] == 3 and first["outcome"] == "completed" and first["call_uuid"] == results[0].uuid
    assert first["duration"] >= 0
    assert by_caller["+48501000005"]["outcome"] == "caller_hangup"
    assert by_caller["+48501000006"]["outcome"] == "no_scenario" and "scenario" not in by_caller["+48501000006"]
    # Lines logged during a call carry its node (DEBUG lines from the nodes and ringing code).
    assert any(o.get("node") == "ring" and o.get("call_uuid") == results[0].uuid for o in objects), objects
    # Secrets never appear, in any line.
    text = log_path.read_text()
    for secret in (SIP_PASSWORD, GATEWAY_PASSWORD, ESL_PASSWORD):
        assert secret not in text



def test_text_log_has_one_line_per_finished_call_and_no_secrets(tmp_path: Path) -> None:
    with serving(tmp_path, "text", metrics=False) as (proc, port, metrics_port, log_path, _db):
        sim = Simulator(("127.0.0.1", port))
        done = sim.run_call(CallScript(number="500", caller="+48501000009", at=datetime.now(UTC), digits=["1"],
                                       targets={"sip:101": Target("no_answer")}))
        assert done.ok, done.error
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        # Metrics are off by default: nothing listens on a metrics port.
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2)
    text = log_path.read_text()
    finished = [line for line in text.splitlines() if " finished: " in line]
    assert len(finished) == 1
    assert (f" INFO fsivr.call: call {done.uuid} finished: +48501000009 -> 500, scenario front, 3 steps, "
            "completed, ") in finished[0]
    assert finished[0].endswith(" s")
    for secret in (SIP_PASSWORD, GATEWAY_PASSWORD, ESL_PASSWORD):
        assert secret not in text
