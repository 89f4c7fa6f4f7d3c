"""Prometheus metrics and the /health endpoint of a long-running fsivr process (``serve``, ``worker``).

Off unless ``metrics_listen`` is set. Instruments come from ``prometheus_client`` (the text format,
label escaping and histogram buckets are its job) in a registry of this process's own, so two
servers in one test process never share counters. Two kinds:

- event counters the code calls at the moment something happens - a node step (:meth:`Metrics.step`),
  a finished call (:meth:`Metrics.call_finished`), a FreeSWITCH command that failed or timed out
  (:meth:`Metrics.command_error`). On the call path these are the only costs: a dict look-up for the
  labels' child, an increment and a histogram observation per step;
- gauges read only when scraped, from a callable (:meth:`Metrics.gauge`): calls in progress, call
  records buffered and how long the oldest has waited, scenario versions, and whatever another
  process registers (the worker's outbox depth). Nothing is counted on the call path for these.

In ``serve`` the endpoint is a gevent ``pywsgi`` server in the same hub as the calls: a scrape is
a short greenlet (rendering a few dozen series), never a thread contending for the GIL, and never
blocks a call's greenlet for longer than that. The worker runs no hub (plain threads, blocking
SMTP/HTTP): there the same application is served by wsgiref in a daemon thread (``threaded=True``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fsivr.store.outage import UNREACHABLE, OutageLog, cause

log = logging.getLogger("fsivr.metrics")

#: Step durations: from a menu key or a `set` (milliseconds) to a prompt or a ringing phone (tens of s).
STEP_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, float("inf"))

#: A gauge's value(s): a number, or label values -> number (one series per label tuple).
GaugeValue = float | dict[tuple[str, ...], float]


class _CallbackGauges(Collector):
    """Gauges whose values are read from callables at scrape time."""

    def __init__(self) -> None:
        self.gauges: list[tuple[str, str, tuple[str, ...], Callable[[], GaugeValue]]] = []
        #: Where a gauge that cannot reach the database is reported (the process's one outage
        #: report); None: one line per scrape, still no traceback.
        self.outage: OutageLog | None = None

    def collect(self) -> Iterator[Metric]:
        for name, doc, labels, read in self.gauges:
            family = GaugeMetricFamily(name, doc, labels=list(labels) or None)
            try:
                value = read()
            except UNREACHABLE as exc:
                # The database is down: the gauge is left out of this scrape, the outage said once.
                if self.outage is not None:
                    self.outage.failed(exc)
                else:
                    log.warning("metrics: %s not read: %s", name, cause(exc))
                continue
            except Exception:
                # One broken source must not take the whole scrape (and every other figure) down.
                log.exception("metrics: reading %s failed", name)
                continue
            if isinstance(value, dict):
                for label_values, v in value.items():
                    family.add_metric(list(label_values), v)
            else:
                family.add_metric([], value)
            yield family


class Metrics:
    """The instruments of one process: the call instruments for ``serve`` (``calls=True``), and
    gauges any process adds."""

    def __init__(self, *, calls: bool = True, outage: OutageLog | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._callbacks = _CallbackGauges()
        self._callbacks.outage = outage
        r.register(self._callbacks)
        # (type, outcome) -> the two children a step updates: labels() takes a lock and builds a
        # key each time; this look-up does neither.
        self._step_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        if not calls:
            return
        self.calls = Counter("fsivr_calls", "Calls finished, by scenario and final outcome",
                             ["scenario", "outcome"], registry=r)
        self.steps = Counter("fsivr_node_steps", "Node steps run, by node type and outcome",
                             ["type", "outcome"], registry=r)
        self.step_seconds = Histogram("fsivr_node_step_seconds", "Duration of one node step (a prompt, "
                                      "a menu, a ringing phone ...), by node type", ["type"],
                                      buckets=STEP_BUCKETS, registry=r)
        self.command_errors = Counter("fsivr_freeswitch_command_errors", "FreeSWITCH commands answered "
                                      "with -ERR (kind=error) or not answered in time (kind=timeout)",
                                      ["kind", "command"], registry=r)

    # ---- events (on the call path) ---------------------------------------------------------

    def step(self, node_type: str, outcome: str, seconds: float) -> None:
        children = self._step_children.get((node_type, outcome))
        if children is None:
            children = (self.steps.labels(node_type, outcome), self.step_seconds.labels(node_type))
            self._step_children[(node_type, outcome)] = children
        children[0].inc()
        children[1].observe(seconds)

    def call_finished(self, scenario: str, outcome: str) -> None:
        self.calls.labels(scenario or "-", outcome).inc()

    def command_error(self, kind: str, command: str) -> None:
        self.command_errors.labels(kind, command).inc()

    # ---- gauges (read when scraped) --------------------------------------------------------

    def gauge(self, name: str, doc: str, read: Callable[[], GaugeValue], labels: Iterable[str] = ()) -> None:
        """A gauge whose value ``read()`` returns at scrape time: a number, or {label values: number}.
        The hook for other parts of fsivr, e.g. the worker's ``fsivr_outbox_depth``."""
        self._callbacks.gauges.append((name, doc, tuple(labels), read))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class Health:
    """Readiness: every check returns (ok, detail); /health is 200 only when all are ok."""

    def __init__(self) -> None:
        self.checks: dict[str, Callable[[], tuple[bool, Any]]] = {}

    def add(self, name: str, check: Callable[[], tuple[bool, Any]]) -> None:
        self.checks[name] = check

    def report(self) -> tuple[bool, dict[str, Any]]:
        out: dict[str, Any] = {}
        ready = True
        for name, check in self.checks.items():
            try:
                ok, detail = check()
            except Exception as exc:
                ok, detail = False, f"check failed: {exc}"
            out[name] = {"ok": ok, "detail": detail}
            ready = ready and ok
        return ready, {"status": "ready" if ready else "not ready", "checks": out}


def recent(last_ok: Callable[[], float | None], max_age: float) -> Callable[[], tuple[bool, Any]]:
    """A check that passes when ``last_ok()`` (a ``time.monotonic()`` reading) is within ``max_age`` s."""

    def check() -> tuple[bool, Any]:
        at = last_ok()
        if at is None:
            return False, "never reached"
        age = time.monotonic() - at
        return age <= max_age, f"reached {age:.1f} s ago (limit {max_age:g} s)"

    return check


class MetricsServer:
    """``GET /metrics`` (Prometheus text format) and ``GET /health`` (JSON; 200 ready, 503 not)
    on one address, served by gevent's pywsgi in this process's hub."""

    def __init__(self, metrics: Metrics, health: Health, host: str, port: int, *, threaded: bool = False) -> None:
        self.metrics = metrics
        self.health = health
        self._metrics_app = make_wsgi_app(metrics.registry)
        self._host, self._port = host, port
        self._threaded = threaded
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            return self._host, self._port
        return self._server.server_address[:2] if self._threaded else self._server.address[:2]

    def start(self) -> None:
        if self._threaded:
            self._server = make_server(self._host, self._port, self._app, server_class=_ThreadingWSGIServer,
                                       handler_class=_QuietHandler)
            self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)
            self._thread.start()
        else:
            from gevent.pywsgi import WSGIServer

            # log=None: a scrape every few seconds is not worth an access-log line each.
            self._server = WSGIServer((self._host, self._port), self._app, log=None, error_log=log)
            self._server.start()
        log.info("metrics and health on http://%s:%s/metrics, /health", *self.address)

    def stop(self) -> None:
        if self._server is None:
            return
        if self._threaded:
            self._server.shutdown()
            self._server.server_close()
        else:
            self._server.stop(timeout=1.0)

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        if path == "/health":
            ready, body = self.health.report()
            data = json.dumps(body).encode()
            start_response("200 OK" if ready else "503 Service Unavailable",
                           [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
            return [data]
        data = b"not found: /metrics or /health\n"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
        return [data]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """One thread per scrape, so a slow client cannot hold the next one up."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access-log line per scrape
