"""The worker's metrics and health (fsivr.metrics, served from a thread: the worker runs no hub).

``fsivr_outbox_depth{state}``: outbox rows per state (``pending`` = waiting to be sent), read from
the database when scraped - the worker keeps no count of its own that could drift from the table,
and several workers share one outbox. /health is ready while the worker loop runs and that query
answered within ``health_db_max_age`` seconds (a /health request runs it too).
"""

from __future__ import annotations

import time

from fsivr.config import METRICS_PORT, Config, parse_address
from fsivr.metrics import Health, Metrics, MetricsServer, recent
from fsivr.store import outbox
from fsivr.store.db import Store
from fsivr.worker.loop import Worker


class OutboxDepth:
    """Rows per state, read when asked; remembers when the database last answered."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.last_ok: float | None = None

    def __call__(self) -> dict[tuple[str, ...], float]:
        with self.store.session() as session:
            counts = outbox.counts(session)
        self.last_ok = time.monotonic()
        return {(state,): float(n) for state, n in counts.items()}

    def probe(self) -> float | None:
        try:
            self()
        except Exception:
            pass  # the check reports the age of the last answer
        return self.last_ok


def worker_metrics_server(cfg: Config, store: Store, worker: Worker) -> MetricsServer:
    # A scrape during an outage joins the worker's own outage report (one line), no traceback.
    metrics = Metrics(calls=False, outage=worker.outage)
    depth = OutboxDepth(store)
    metrics.gauge("fsivr_outbox_depth", "Outbox rows by state (pending: waiting to be sent)", depth,
                  labels=("state",))
    health = Health()
    health.add("worker", lambda: (not worker.stopping.is_set(), worker.name))
    health.add("database", recent(depth.probe, cfg.health_db_max_age))
    host, port = parse_address(cfg.metrics_listen, METRICS_PORT, "metrics_listen")
    return MetricsServer(metrics, health, host, port, threaded=True)
