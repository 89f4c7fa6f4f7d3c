"""Wiring: config → store → scenario cache → runner → outbound server. Nothing here decides a call."""

from __future__ import annotations

import logging
import signal
import socket
from dataclasses import dataclass
from typing import Any

import gevent

from fsivr.callcenter.agents import AgentDesk
from fsivr.callcenter.sync import CallcenterSync
from fsivr.config import METRICS_PORT, Config, parse_address
from fsivr.engine.cache import ScenarioCache
from fsivr.engine.callbacks import Callbacks
from fsivr.engine.calldata import CallData
from fsivr.engine.directory import DirectoryCache
from fsivr.engine.overrides import OverrideCache
from fsivr.engine.runner import Runner
from fsivr.engine.scenario import ScenarioSpec
from fsivr.engine.services import MediaDirs, PromptLibrary, Services
from fsivr.esl.link import EventLink
from fsivr.esl.server import OutboundServer, tune_for_serving
from fsivr.metrics import Health, Metrics, MetricsServer, recent
from fsivr.store import overrides as stored_overrides
from fsivr.store import phone
from fsivr.store.archive import Archive
from fsivr.store.callrecords import CallRecordWriter, mark_interrupted
from fsivr.store.db import Store
from fsivr.store.outage import OutageLog
from fsivr.worker.notify import Notifier

log = logging.getLogger("fsivr")


class StoreScenarioSource:
    """The cache's view of the store; every call runs on the threadpool (never on the hub)."""

    def __init__(self, store: Store) -> None:
        from fsivr.scenario import repository

        self.store = store
        self.repo = repository

    def stamp(self) -> int | None:
        from fsivr.store import versions

        return self.store.run(versions.read).get(versions.SCENARIOS)

    def versions(self) -> dict[str, int]:
        return self.store.run(self.repo.scenario_versions)

    def load(self, names: set[str]) -> list[tuple[ScenarioSpec, int]]:
        return self.store.run(lambda session: self.repo.load_scenarios(session, names))

    def routes(self) -> dict[str, tuple[str, str | None]]:
        return self.store.run(self.repo.number_routes)

    def prompts(self) -> dict[str, Any]:
        return self.store.run(self.repo.load_prompts)


@dataclass
class App:
    config: Config
    store: Store
    services: Services
    runner: Runner
    server: OutboundServer
    records: CallRecordWriter
    #: Both None unless ``metrics_listen`` is set.
    metrics: Metrics | None = None
    metrics_server: MetricsServer | None = None
    #: The live event link (one per serve process) and the mod_callcenter sync on it; None when
    #: built without (``live_link=False``: tests and ``fsivr simulate``, which must never touch a
    #: real FreeSWITCH's queues).
    link: EventLink | None = None
    callcenter: CallcenterSync | None = None
    #: Agent statuses: the agent IVR's changes, and mod_callcenter's own written back (live link).
    agents: AgentDesk | None = None

    @classmethod
    def build(cls, config: Config, *, port: int | None = None, live_link: bool = False) -> App:
        phone.configure(config.default_region)
        store = Store(config.database_url)
        try:
            _check_schema(store)
        except Exception:
            store.close()
            raise
        # One report per outage for the whole server, whichever refresh loop notices it first.
        outage = OutageLog(store.url, logging.getLogger("fsivr.store"), "calls are served from memory")
        cache = ScenarioCache(StoreScenarioSource(store), interval=config.reload_interval, outage=outage)
        prompts = PromptLibrary.for_config(config)
        cache.on_refresh.append(lambda: prompts.update(cache.prompts))
        records = CallRecordWriter(store, outage=outage)
        directory = DirectoryCache.for_store(store, interval=config.directory_interval, outage=outage)
        cache.on_refresh.append(directory.refresh)
        # The engine holds ports (services.Notify, services.Archive), not these classes: nodes ask
        # for a notification or a kept file and never name the worker package (docs/ARCHITECTURE.md).
        overrides = OverrideCache(lambda: store.run(stored_overrides.load), interval=config.reload_interval,
                                  outage=outage)
        services = Services(config=config, scenarios=cache, records=records, prompts=prompts, directory=directory,
                            data=CallData(store), notify=Notifier.from_config(store, config), archive=Archive(store),
                            media=MediaDirs(config.media_dir, config.documents_dir), overrides=overrides,
                            callbacks=Callbacks(store, interval=config.reload_interval, outage=outage))
        metrics = Metrics() if config.metrics_listen else None
        runner = Runner(services, observer=metrics)
        server = OutboundServer(runner.handle, config.listen_host,
                                config.listen_port if port is None else port,
                                allow=config.esl_allow, command_timeout=config.command_timeout,
                                on_command_error=metrics.command_error if metrics is not None else None)
        app = cls(config, store, services, runner, server, records, metrics)
        if metrics is not None:
            app.metrics_server = app._metrics_server(metrics)
        if live_link:
            app.link, app.callcenter = _live_link(config, store, outage)
        # Without the live link, the agent IVR sends its status commands over the call's socket.
        app.agents = services.agents = AgentDesk(store, app.link, app.callcenter)
        return app

    def _metrics_server(self, metrics: Metrics) -> MetricsServer:
        """The gauges read at scrape time, the readiness checks, and the endpoint serving both."""
        cache, records, runner = self.services.scenarios, self.records, self.runner
        metrics.gauge("fsivr_calls_in_progress", "Calls this server is running", lambda: runner.calls_active)
        metrics.gauge("fsivr_call_records_buffered", "Call record items (a call begun, a step, a call "
                      "ended) not yet written", lambda: records.pending)
        metrics.gauge("fsivr_call_records_write_lag_seconds", "How long ago what the oldest call record item "
                      "not yet written tells happened (0: none waits)", records.lag)
        metrics.gauge("fsivr_scenario_version", "Version of each scenario the cache holds compiled",
                      lambda: {(name, ): s.version for name, s in cache.scenarios.items()}, labels=("scenario",))
        metrics.gauge("fsivr_scenario_cache_loads", "Times the cache loaded changed scenarios", lambda: cache.loads)
        health = Health()
        health.add("listener", lambda: (self.server.listening, "{}:{}".format(*self.server.address)))
        health.add("database", recent(lambda: cache.last_ok, self.config.health_db_max_age))
        host, port = parse_address(self.config.metrics_listen, METRICS_PORT, "metrics_listen")
        return MetricsServer(metrics, health, host, port)

    def start(self) -> None:
        self.services.scenarios.start()
        self.services.overrides.start()
        if self.services.callbacks is not None:
            self.services.callbacks.start()
        # Bound first, so the address is ours before its rows are judged; no call is taken before
        # the previous process's unfinished rows are closed (else they would be this one's).
        self.server.bind()
        server = f"{socket.gethostname()} {self.server.address[0]}:{self.server.address[1]}"
        self.records.server = server
        closed = self.store.run(lambda s: mark_interrupted(s, server))
        if closed:
            log.warning("%d call record(s) left in progress by a previous fsivr on %s marked interrupted",
                        closed, server)
        self.server.start()
        if self.metrics_server is not None:
            self.metrics_server.start()
        if self.agents is not None:
            self.agents.start()
        if self.link is not None and self.callcenter is not None:
            self.callcenter.start()
            self.link.start()

    def stop(self) -> None:
        log.info("stopping: no new calls; %d in progress", len(self.server.active))
        # The endpoint stays up while calls drain: /health says "not ready" (the listener is
        # closed) and the figures show the drain.
        self.server.stop(self.config.shutdown_grace)
        if self.callcenter is not None:
            self.callcenter.stop()
        if self.agents is not None:
            self.agents.stop()
        if self.link is not None:
            self.link.stop()
        self.services.scenarios.stop()
        self.services.overrides.stop()
        if self.services.callbacks is not None:
            self.services.callbacks.stop()
        self.services.directory.stop()
        self.records.close()
        self.store.close()
        if self.metrics_server is not None:
            self.metrics_server.stop()

    def serve_until_signalled(self) -> None:
        """Run until SIGTERM/SIGINT, then drain calls (bounded) and exit."""
        stop = gevent.event.Event()
        gevent.signal_handler(signal.SIGTERM, stop.set)
        gevent.signal_handler(signal.SIGINT, stop.set)
        self.start()
        tune_for_serving()
        stop.wait()
        self.stop()


def _live_link(config: Config, store: Store, outage: OutageLog | None = None) -> tuple[EventLink, CallcenterSync]:
    """The live event link and, on it, mod_callcenter kept in step with the store."""
    from fsivr.callcenter.state import CallcenterState, load_state

    link = EventLink(config.esl_host, config.esl_port, config.esl_password, timeout=config.command_timeout,
                     max_backoff=config.live_link_max_backoff)
    # What the outbound sockets do not carry: mod_callcenter's agent events (trace 07) and the
    # results of our own bgapi.
    link.subscribe("BACKGROUND_JOB", "CUSTOM callcenter::info")
    publish = None
    if config.freeswitch_conf_dir:
        from fsivr.render.callcenter import CallcenterConfPublisher

        publish = CallcenterConfPublisher(config.freeswitch_conf_dir, link)

    def load() -> CallcenterState:
        state: CallcenterState = store.run(
            lambda s: load_state(s, domain=config.sip_domain, gateway=config.default_gateway))
        return state

    def stamp() -> int | None:
        from fsivr.store import versions

        # Every table load_state reads is counted by the directory counter (store/versions.py).
        return store.run(versions.read).get(versions.DIRECTORY)

    sync = CallcenterSync(link, load, interval=config.callcenter_interval, publish_conf=publish, outage=outage,
                          stamp=stamp)
    return link, sync


def _check_schema(store: Store) -> None:
    """Refuse to serve a database without the current schema (or one that cannot be reached):
    one clear line instead of a SQLAlchemy traceback at the first query."""
    from sqlalchemy.exc import SQLAlchemyError

    from fsivr.store.migrate import require_up_to_date

    try:
        require_up_to_date(store.engine)
    except SQLAlchemyError as exc:
        where = store.url.render_as_string(hide_password=True)
        raise ValueError(f"database {where} cannot be read: {getattr(exc, 'orig', None) or exc}") from None
