"""``python -m bench.outbox`` (part of ``make bench-scale``): the outbox (issue 14, point 3).

Real ``fsivr worker`` processes (pinned to the server core) on a fresh PostgreSQL database, sending
to far ends in this process (the other core): an SMTP sink (aiosmtpd, no TLS, accepts everything)
and an HTTP SMS gateway (stdlib ``ThreadingHTTPServer``, answers 200). Half the notifications are
e-mails, half SMS, each with its own idempotency key; the sinks recognise a notification by it (the
e-mail's Message-ID is derived from it, the gateway gets it in a header), which is how duplicates
and losses are counted.

* *delivered per second* with 1 and then 2 workers — the workers started and idle, then N rows
  queued in one transaction; (N - 1) ÷ (last receipt - first receipt) at the sinks. Worker CPU per
  notification from ``/proc`` (both workers together) over the sending, start-up excluded (and
  also with it, as this figure was first taken).
* *duplicates and lost* — per key, receipts at the sinks beyond the first, and keys never received;
  the rows' states afterwards (all ``sent``).
* *enqueue-to-send lag at a steady 50/s* — two workers already running and idle; rows enqueued one
  per transaction at 50/s (as calls would), lag = receipt at the sink - the enqueue's commit.

The figures go to ``results.json`` under ``outbox``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench import metrics, report, servers

HERE = Path(__file__).resolve().parent
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Seconds the throughput runs give the workers to start (imports, connecting) before rows are
#: queued, so that their CPU afterwards is the sending's own.
STARTUP_SECONDS = 4.0
SMS_BODY = '{"to": {{ to | tojson }}, "text": {{ text | tojson }}, "from": {{ sender | tojson }}}'


@dataclass
class OutboxPlan:
    #: Rows queued before each throughput run (half e-mail, half SMS).
    rows: int = 1500
    workers: tuple[int, ...] = (1, 2)
    #: The steady-rate run: rows per second and seconds, with two workers.
    steady_rate: float = 50.0
    steady_seconds: float = 10.0
    steady_workers: int = 2

    @classmethod
    def quick(cls) -> OutboxPlan:
        return cls(rows=40, steady_rate=20.0, steady_seconds=1.0)


class Sinks:
    """The far ends: every receipt as (key, kind, time.time())."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from fsivr.worker.email import message_id

        self.lock = threading.Lock()
        self.receipts: list[tuple[str, str, float]] = []
        self.by_message_id: dict[str, str] = {}
        self._message_id = message_id
        sinks = self

        class SmtpHandler:
            async def handle_DATA(self, _srv: Any, _session: Any, envelope: Any) -> str:
                # The Message-ID header is all the sink needs: no full MIME parse per message.
                head = envelope.original_content.split(b"\r\n\r\n", 1)[0]
                mid = next((line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
                            if line.lower().startswith(b"message-id:")), "")
                sinks.got(sinks.by_message_id.get(mid, "?" + mid), "email")
                return "250 Message accepted for delivery"

        self.smtp_port = servers.free_port()
        self.smtp = Controller(SmtpHandler(), hostname="127.0.0.1", port=self.smtp_port, server_hostname="localhost")
        self.smtp.start()

        class HttpHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sinks.got(self.headers.get("Idempotency-Key", "?"), "sms")
                data = b'{"status": "queued"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), HttpHandler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/sms"

    def expect(self, key: str, sender: str) -> None:
        self.by_message_id[self._message_id(key, sender)] = key

    def got(self, key: str, kind: str) -> None:
        with self.lock:
            self.receipts.append((key, kind, time.time()))

    def count(self) -> int:
        return len(self.receipts)

    def stop(self) -> None:
        self.smtp.stop()
        self.http.shutdown()
        self.http.server_close()


class OutboxBench:
    def __init__(self, plan: OutboxPlan, db_url: str, workdir: Path, cpu: int | None, log: Any = sys.stderr) -> None:
        from fsivr.store.db import Store

        self.plan = plan
        self.db_url = db_url
        self.workdir = workdir
        self.cpu = cpu
        self.log = log
        self.store = Store(db_url)
        self.sinks = Sinks()
        self.sender = "fsivr-bench@localhost"
        self.seq = 0

    def say(self, text: str) -> None:
        print(f"[bench-outbox {time.strftime('%H:%M:%S')}] {text}", file=self.log, flush=True)

    def env(self) -> dict[str, str]:
        env = servers.tree_env({k: v for k, v in os.environ.items() if not k.startswith("FSIVR_")})
        env.update(FSIVR_DATABASE_URL=self.db_url, FSIVR_SMTP_HOST="127.0.0.1",
                   FSIVR_SMTP_PORT=str(self.sinks.smtp_port), FSIVR_SMTP_SECURITY="none",
                   FSIVR_SMTP_FROM=self.sender, FSIVR_SMS_BACKEND="http", FSIVR_SMS_HTTP_URL=self.sinks.sms_url,
                   FSIVR_SMS_HTTP_BODY=SMS_BODY, FSIVR_SMS_HTTP_TIMEOUT="10", FSIVR_SMTP_TIMEOUT="10")
        return env

    def start_workers(self, n: int, tag: str) -> list[subprocess.Popen[bytes]]:
        procs = []
        for i in range(n):
            with (self.workdir / f"worker-{tag}-{i}.log").open("ab") as log:
                procs.append(subprocess.Popen([str(servers.BIN / "fsivr"), "worker"], env=self.env(),
                                              cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                              preexec_fn=servers._pinned(self.cpu)))
        return procs

    @staticmethod
    def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def enqueue(self, session: Any, now: Any) -> str:
        """One notification, alternately e-mail and SMS, as the nodes queue them."""
        from fsivr.store import outbox
        from fsivr.worker.email import email_payload
        from fsivr.worker.sms import SmsRules, sms_payload

        self.seq += 1
        key = f"bench:{self.seq}:{uuid.uuid4().hex[:8]}"
        if self.seq % 2:
            self.sinks.expect(key, self.sender)
            payload = email_payload(f"agent{self.seq}@example.com", f"Voicemail {self.seq}",
                                    "You have a new voicemail from +48501000001, 42 seconds long.")
            outbox.enqueue(session, "email", payload, key, now)
        else:
            payload = sms_payload(SmsRules(), "+48501000001", f"Your ticket {self.seq} is ready.")
            outbox.enqueue(session, "sms", payload, key, now)
        return key

    def wait_delivered(self, keys: set[str], limit: float) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with self.sinks.lock:
                got = {k for k, _, _ in self.sinks.receipts}
            if keys <= got:
                return
            time.sleep(0.05)

    def throughput(self, workers: int) -> dict[str, Any]:
        from fsivr.store.types import utcnow

        p = self.plan
        first = len(self.sinks.receipts)
        procs = self.start_workers(workers, f"x{workers}")
        try:
            # Started, connected and idle before anything is queued: their CPU from here on is the
            # sending's own (start-up — imports, connecting — is ~1.5-2 s of CPU per process on this
            # box, which spread over the rows made the old figure an upper bound).
            time.sleep(STARTUP_SECONDS)
            cpu0 = sum(metrics.proc_cpu_seconds(w.pid) for w in procs)
            with self.store.session() as session:
                now = utcnow()
                keys = {self.enqueue(session, now) for _ in range(p.rows)}
            self.wait_delivered(keys, limit=max(60.0, p.rows / 20))
            cpu = sum(metrics.proc_cpu_seconds(w.pid) for w in procs)
        finally:
            self.stop_workers(procs)
        time.sleep(0.5)  # a duplicate would arrive now, if any
        mine = [r for r in self.sinks.receipts[first:] if r[0] in keys]
        out = self._tally(keys, mine)
        stamps = sorted(t for _, _, t in mine)
        span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
        n = max(1, len(mine))
        out.update(workers=workers, rows=p.rows, seconds=round(span, 3),
                   per_second=round((len(stamps) - 1) / span, 1) if span else None,
                   worker_cpu_ms_per_notification=round((cpu - cpu0) * 1000 / n, 3),
                   worker_startup_cpu_seconds=round(cpu0 / workers, 3),
                   worker_cpu_ms_per_notification_with_startup=round(cpu * 1000 / n, 3),
                   note="worker CPU per notification from the workers' CPU while the rows were sent (start-up and "
                        "idle polling before the rows were queued excluded); _with_startup: all of it, as "
                        "measured before 2026-12-01 13:00")
        return out

    def steady(self) -> dict[str, Any]:
        from fsivr.store.types import utcnow

        p = self.plan
        procs = self.start_workers(p.steady_workers, "steady")
        committed: dict[str, float] = {}
        first = len(self.sinks.receipts)
        try:
            time.sleep(3.0)  # started and idle (connected, polling)
            started = time.monotonic()
            total = int(p.steady_rate * p.steady_seconds)
            for n in range(total):
                due = started + n / p.steady_rate
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
                with self.store.session() as session:
                    key = self.enqueue(session, utcnow())
                committed[key] = time.time()
            self.wait_delivered(set(committed), limit=60.0)
        finally:
            self.stop_workers(procs)
        mine = [r for r in self.sinks.receipts[first:] if r[0] in committed]
        out = self._tally(set(committed), mine)
        lags = [t - committed[k] for k, _, t in mine]
        out.update(rate=p.steady_rate, seconds=p.steady_seconds, workers=p.steady_workers,
                   lag_ms=metrics.percentiles_ms(lags))
        return out

    def _tally(self, keys: set[str], receipts: list[tuple[str, str, float]]) -> dict[str, Any]:
        from sqlalchemy import func, select

        from fsivr.store.models import OutboxRow

        seen: dict[str, int] = {}
        for k, _, _ in receipts:
            seen[k] = seen.get(k, 0) + 1
        with self.store.session() as session:
            states = dict(session.execute(select(OutboxRow.state, func.count())
                                          .where(OutboxRow.idempotency_key.in_(list(keys)))
                                          .group_by(OutboxRow.state)).all())
        return {"delivered": len(seen), "duplicates": sum(v - 1 for v in seen.values()),
                "lost": len(keys - seen.keys()), "row_states": {k: int(v) for k, v in states.items()},
                "by_kind": {kind: sum(1 for _, kd, _ in receipts if kd == kind) for kind in ("email", "sms")}}

    def run(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"plan": asdict(self.plan), "database": "postgresql"}
        try:
            doc["throughput"] = []
            for n in self.plan.workers:
                r = self.throughput(n)
                self.say(f"{n} worker(s): {r['per_second']} notifications/s ({r['rows']} rows in {r['seconds']} s), "
                         f"{r['worker_cpu_ms_per_notification']} ms worker CPU each "
                         f"({r['worker_cpu_ms_per_notification_with_startup']} with start-up); "
                         f"duplicates {r['duplicates']}, lost {r['lost']}")
                doc["throughput"].append(r)
            doc["steady"] = s = self.steady()
            self.say(f"steady {s['rate']:g}/s with {s['workers']} workers: lag p50 {s['lag_ms']['p50']} ms, "
                     f"p99 {s['lag_ms']['p99']} ms, max {s['lag_ms']['max']} ms; duplicates {s['duplicates']}, "
                     f"lost {s['lost']}")
        finally:
            self.sinks.stop()
            self.store.close()
        return doc


def targets(doc: dict[str, Any]) -> dict[str, bool | None]:
    runs = doc.get("throughput", [])
    two = next((r for r in runs if r["workers"] == 2), None)
    every = [*runs, *([doc["steady"]] if doc.get("steady") else [])]
    return {
        "two_workers_ge_500_per_s": None if two is None or two["per_second"] is None else two["per_second"] >= 500,
        "no_duplicates": all(r["duplicates"] == 0 for r in every) if every else None,
        "none_lost": all(r["lost"] == 0 for r in every) if every else None,
    }


def table(doc: dict[str, Any]) -> str:
    lines = [f"outbox on PostgreSQL ({doc.get('date', '')}, commit {doc.get('commit', '?')}): half e-mail "
             f"(SMTP sink), half SMS (HTTP gateway sink); workers on one core"]
    for r in doc.get("throughput", []):
        lines.append(f"  {r['workers']} worker(s)   {report._fmt(r['per_second'], '.0f')} notifications/s "
                     f"({r['rows']:,} queued), {r['worker_cpu_ms_per_notification']:.2f} ms worker CPU each "
                     f"({r.get('worker_cpu_ms_per_notification_with_startup', 0):.2f} with start-up); "
                     f"duplicates {r['duplicates']}, lost {r['lost']}")
    s = doc.get("steady")
    if s:
        lat = s["lag_ms"]
        lines.append(f"  steady {s['rate']:g}/s, {s['workers']} workers: enqueue-to-send lag p50 "
                     f"{report._fmt(lat['p50'], '.0f')} ms, p99 {report._fmt(lat['p99'], '.0f')} ms, "
                     f"max {report._fmt(lat['max'], '.0f')} ms; duplicates {s['duplicates']}, lost {s['lost']}")
    lines.append("  targets: " + ", ".join(f"{k} {report._fmt(v)}" for k, v in doc["targets_met"].items()))
    return "\n".join(lines) + "\n"


def fresh_database(admin_url: str) -> tuple[str, str]:
    """A new empty database next to ``admin_url`` (as tests/conftest.py fresh_pg_database does)."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = f"fsivr_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conninfo = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name)))
    return name, make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    conninfo = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outbox", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny scale (smoke test)")
    parser.add_argument("--out", default=str(HERE), help="directory of results.json/.txt (default bench/)")
    parser.add_argument("--pg-url", default=os.environ.get("FSIVR_BENCH_PG_URL", DEFAULT_PG_URL),
                        help="a PostgreSQL database the bench may create its own database next to")
    args = parser.parse_args(argv)
    plan = OutboxPlan.quick() if args.quick else OutboxPlan()
    cpus = sorted(os.sched_getaffinity(0))
    worker_cpu, sink_cpu = (cpus[0], cpus[1]) if len(cpus) > 1 else (None, None)
    if sink_cpu is not None:
        os.sched_setaffinity(0, {sink_cpu})
    started = time.monotonic()
    # SIGTERM (make interrupted, a CI timeout) as an exception, so the database is dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    name, url = fresh_database(args.pg_url)
    try:
        subprocess.run([str(servers.BIN / "fsivr"), "--database", url, "db", "upgrade"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=servers.tree_env(dict(os.environ)))
        with tempfile.TemporaryDirectory(prefix="fsivr-bench-outbox-") as tmp:
            doc = OutboxBench(plan, url, Path(tmp), worker_cpu).run()
    finally:
        drop_database(args.pg_url, name)
    doc["targets_met"] = targets(doc)
    doc["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    doc["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent, capture_output=True,
                                   text=True).stdout.strip() or "?"
    doc["bench_seconds"] = round(time.monotonic() - started, 1)
    report.merge_part(Path(args.out), "outbox", doc)
    print(table(doc), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
