"""A real ``fsivr worker`` process placing a callback through the simulator's inbound ESL port into
a real server (the test harness's App), SIGKILLed while the originate is outstanding and restarted:
the callback is reconciled by its call's uuid and nobody is dialled twice."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import gevent
from farends import start_worker, worker_env
from procs import Popen
from sqlalchemy import select

from fsivr.store.models import CallAttempt, CallRow, OutboxRow
from fsivr.testing.harness import running
from fsivr.testing.inbound import InboundSwitch

SHOP = "+48221234567"
CUSTOMER = "+48501000001"

BUNDLE = f"""
prompts:
  - {{name: hello, text: "Hello.", language: en}}
scenarios:
  - scenario: missed
    numbers: ["{SHOP}"]
    start: ask
    nodes:
      ask: {{type: callback, scenario: greet, attempts: 2, spacing: 1, next: bye}}
      bye: {{type: hangup}}
  - scenario: greet
    start: hi
    nodes:
      hi: {{type: play, prompt: hello, next: end}}
      end: {{type: hangup}}
"""


def _wait(check: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    """Wait while gevent's hub runs: the server and the simulated switch live in this process."""
    deadline = gevent.get_hub().loop.now() + timeout
    while not check():
        assert gevent.get_hub().loop.now() < deadline, f"timed out waiting for {what}"
        gevent.sleep(0.02)


def _exited(proc: Popen) -> int:
    # The worker is a gevent Popen (farends.start_worker): _wait runs the hub, whose SIGCHLD handler
    # reaps the child once an earlier test used gevent.subprocess; a stdlib Popen would read 0 here.
    _wait(lambda: proc.poll() is not None, "the worker to exit")
    return proc.returncode


def test_worker_killed_while_the_originate_is_outstanding_does_not_dial_again(sqlite_url: str,
                                                                              tmp_path: Path) -> None:
    with running(BUNDLE, database_url=sqlite_url) as h, InboundSwitch(sim=h.simulator) as switch:
        h.call(number=SHOP, caller=CUSTOMER)
        host, port = h.app.server.address[:2]
        env = worker_env(sqlite_url, esl_host=switch.address[0], esl_port=switch.address[1],
                         outbound_endpoint="sofia/gateway/trunk/{number}", outbound_socket=f"{host}:{port}",
                         originate_timeout=5, worker_lease_seconds=120, worker_poll_interval=0.05,
                         smtp_timeout=1, sms_http_timeout=1)
        # FreeSWITCH rings the customer and the call reaches the server, but the worker never
        # hears the BACKGROUND_JOB before it dies.
        switch.withhold_bgapi = "originate"

        def attempts() -> list[CallAttempt]:
            with h.store.session() as s:
                found = list(s.execute(select(CallAttempt)).scalars())
                s.expunge_all()
            return found

        def recorded(uuid: str) -> bool:
            with h.store.session() as s:
                return s.execute(select(CallRow).where(CallRow.uuid == uuid)).scalars().first() is not None

        first = start_worker(env, tmp_path)
        try:
            _wait(lambda: len(attempts()) == 1 and recorded(attempts()[0].call_uuid), "the placed call")
        finally:
            first.send_signal(signal.SIGKILL)
        assert _exited(first) == -signal.SIGKILL, (tmp_path / "worker.log").read_text()
        [attempt] = attempts()
        assert attempt.state == "placing"

        second = start_worker(env, tmp_path)
        try:
            def sent() -> bool:
                with h.store.session() as s:
                    return s.execute(select(OutboxRow.state)).scalar_one() == "sent"
            _wait(sent, "the callback to be reconciled")
        finally:
            second.send_signal(signal.SIGTERM)
            assert _exited(second) == 0, (tmp_path / "worker.log").read_text()
        [attempt] = attempts()
        assert attempt.state == "answered" and attempt.reply == "reconciled: call recorded"
        assert sum(1 for _, line in switch.received if line.startswith("bgapi originate")) == 1
        assert "reconciled, not placed again" in (tmp_path / "worker.log").read_text()
