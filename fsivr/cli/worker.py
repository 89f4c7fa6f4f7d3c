"""``fsivr worker``: send the outbox's notifications (SMS, e-mail) with retries, place callbacks, dial campaigns."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from fsivr import logs
from fsivr.cli.output import err
from fsivr.cli.store import require_schema
from fsivr.config import load_config


def add_commands(sub: Any) -> None:
    worker = sub.add_parser("worker", help="send the outbox's notifications (SMS, e-mail) with retries, "
                                           "place callbacks, dial running campaigns and run scheduled jobs "
                                           "(retention clean-up); SIGTERM finishes what is in hand, then stops")
    worker.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from fsivr.store.db import Store
    from fsivr.worker.lock import AnotherWorker
    from fsivr.worker.loop import PING_IDLE, Worker, WorkerSettings
    from fsivr.worker.senders import senders_from_config

    cfg = load_config(args.config, args.database)
    logs.configure(cfg.log_format, None if args.verbose else cfg.log_level)
    logging.getLogger("fsivr.worker").info("config: %s", cfg.redacted())
    # Both raise ValueError naming the setting: a worker configured wrongly stops at start.
    settings = WorkerSettings.from_config(cfg)
    store = Store(cfg.database_url, ping_idle=PING_IDLE)
    try:
        senders = senders_from_config(cfg, store)
    except BaseException:
        store.close()
        raise
    try:
        try:
            if not require_schema(store):
                return 2
        except OperationalError as exc:
            # At start an unreachable database is an error for the supervisor to retry; once running,
            # the worker waits outages out (fsivr/worker/loop.py).
            where = store.url.render_as_string(hide_password=True)
            err(f"worker: database {where} is unreachable: {' '.join(str(exc.orig).split())[:300]}")
            return 2
        worker = Worker(store, senders, settings)
        worker.stop_on_signals()
        from fsivr.worker.campaign import from_config as campaign_dialler

        dialler = campaign_dialler(cfg, store, worker.name)
        if dialler is not None:
            worker.companions.append(lambda: dialler.run(worker.stopping.is_set))
        endpoint = None
        if cfg.metrics_listen:
            from fsivr.worker.metrics import worker_metrics_server

            endpoint = worker_metrics_server(cfg, store, worker)
            endpoint.start()
        try:
            worker.run()
        finally:
            if endpoint is not None:
                endpoint.stop()
    except AnotherWorker as exc:
        err(str(exc))
        return 2
    finally:
        store.close()
    return 0
