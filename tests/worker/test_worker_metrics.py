"""A real ``fsivr worker`` with metrics and JSON logs on (issue 12, points 4 and 5): the scraped
outbox depth is the table's, /health is ready while the loop runs, every log line parses and the
SMTP password is in none of them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from farends import SmtpServer, TcpProxy, free_port, start_worker, wait_for, worker_env
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from fsivr.store.db import Store
from fsivr.worker.notify import Notifier

PASSWORD = "smtp-Pw-9d1e77"


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def depth(port: int) -> dict[str, float]:
    status, text = get(port, "/metrics")
    if status != 200:
        return {}
    return {s.labels["state"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == "fsivr_outbox_depth"}


def test_worker_outbox_depth_health_and_json_logs(sqlite_url: str, tmp_path: Path) -> None:
    store = Store(sqlite_url)
    store.upgrade()
    notifier = Notifier(store)
    for i in range(3):
        notifier.email(f"k-{i}", f"u{i}@acme.example", "hi", "text")
    port = free_port()
    server = SmtpServer(auth=("pbx", PASSWORD))
    env = worker_env(sqlite_url, smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="none",
                     smtp_user="pbx", smtp_password=PASSWORD, worker_poll_interval=0.05,
                     metrics_listen=f"127.0.0.1:{port}", log_format="json")
    proc = start_worker(env, tmp_path)
    try:
        sent = wait_for(lambda: depth(port).get("sent") == 3 and depth(port), what="three rows sent")
        assert sent.get("pending", 0) == 0 and len(server.received) == 3
        status, body = get(port, "/health")
        assert status == 200, body
        report = json.loads(body)
        assert report["status"] == "ready" and report["checks"]["database"]["ok"]
        notifier.email("k-late", "late@acme.example", "hi", "text")
        wait_for(lambda: depth(port).get("sent") == 4, what="the late row sent")
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
        server.stop()
        store.close()
    text = (tmp_path / "worker.log").read_text()
    objects = [json.loads(line) for line in text.splitlines()]
    assert any("sent" in o["message"] and o["logger"] == "fsivr.worker" for o in objects)
    assert PASSWORD not in text


@pytest.mark.postgres
def test_a_scrape_during_a_database_outage_is_the_one_outage_report(pg_database: str, tmp_path: Path) -> None:
    store = Store(pg_database)
    store.upgrade()
    store.close()
    url = make_url(pg_database)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.up()
    port = free_port()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proc = start_worker(worker_env(proxied, worker_poll_interval=0.05, metrics_listen=f"127.0.0.1:{port}"),
                        tmp_path)
    try:
        wait_for(lambda: get(port, "/metrics")[0] == 200, what="metrics served")
        proxy.down()
        for _ in range(3):
            status, text = get(port, "/metrics")
            # the scrape is still served, without the depth it cannot read
            assert status == 200 and depth(port) == {}, text
        wait_for(lambda: "the database is unreachable" in (tmp_path / "worker.log").read_text(),
                 what="the outage report")
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
        proxy.down()
    log = (tmp_path / "worker.log").read_text()
    assert "Traceback" not in log, log
    assert log.count("the database is unreachable") == 1, log
