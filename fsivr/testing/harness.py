"""A real fsivr server plus the simulator, for tests and ``fsivr simulate``.

The only module of fsivr.testing that starts fsivr's own server: the simulator proper speaks to
it over TCP like FreeSWITCH and never imports the engine.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fsivr.app import App
from fsivr.config import Config
from fsivr.scenario import repository
from fsivr.store.db import Store
from fsivr.testing import CallResult, CallScript, Simulator
from fsivr.testing.inbound import InboundSwitch


@dataclass
class Placed:
    """One simulated call: what the simulator saw and what the server recorded."""

    result: CallResult
    record: dict[str, Any] | None

    @property
    def path(self) -> list[tuple[str, str]]:
        assert self.record is not None, "the server left no call record"
        return [(s["node"], s["outcome"]) for s in self.record["path"]]

    @property
    def outcomes(self) -> dict[str, str]:
        return dict(self.path)


@dataclass
class Harness:
    app: App
    store: Store
    simulator: Simulator
    placed: list[Placed] = field(default_factory=list)
    #: The simulator's inbound ESL port the server's live link is connected to (``live_link``).
    switch: InboundSwitch | None = None

    def call(self, script: CallScript | None = None, **kwargs: Any) -> Placed:
        script = script or CallScript(**kwargs)
        result = self.simulator.run_call(script)
        # The simulator can be done (socket closed) before the server has seen the EOF.
        assert self.app.runner.idle.wait(10.0), "the server did not finish the call within 10 s"
        assert self.app.records.flush(10.0), "call records were not written within 10 s"
        uuid = result.uuid
        record = self.store.run(lambda s: repository.call_path(s, uuid))
        placed = Placed(result, record)
        self.placed.append(placed)
        return placed

    def import_yaml(self, text: str) -> list[str]:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
            fh.write(text)
        try:
            # The test rig says what the PBX is, whichever bundle brought an entry in before.
            names = repository.import_file(self.store, fh.name, force=True, prompts_dir=self.app.config.prompts_dir)
        finally:
            os.unlink(fh.name)
        self.app.services.scenarios.refresh()
        return names


@contextmanager
def running(bundle: str | Path | None = None, *, database_url: str | None = None,
            config: Config | None = None, time_scale: float = 0.0, live_link: bool = False) -> Iterator[Harness]:
    """Start a server on an ephemeral loopback port with ``bundle`` (YAML text or a file) imported.

    ``live_link``: the server also runs its live event link (and the mod_callcenter sync on it),
    connected to the simulator's inbound ESL port (``Harness.switch``), as ``fsivr serve`` does to
    FreeSWITCH's; the simulator's mod_callcenter starts with the store's queues in its
    callcenter.conf.xml, loaded (as FreeSWITCH starts with what ``render-conf`` wrote).
    """
    cfg = config or Config()
    tmp = None
    if database_url is None:
        tmp = tempfile.TemporaryDirectory(prefix="fsivr-test-")
        database_url = f"sqlite:///{os.path.join(tmp.name, 'fsivr.sqlite3')}"
    cfg.database_url = database_url
    cfg.listen_host, cfg.listen_port = "127.0.0.1", 0
    cfg.linger_seconds = min(cfg.linger_seconds, 5)
    cfg.shutdown_grace = min(cfg.shutdown_grace, 5.0)
    store = Store(database_url)
    store.upgrade()
    switch = None
    if live_link:
        switch = InboundSwitch(password=LINK_PASSWORD)
        switch.start("127.0.0.1", 0)
        cfg.esl_host, cfg.esl_port = switch.address
        cfg.esl_password = LINK_PASSWORD
        cfg.callcenter_interval = min(cfg.callcenter_interval, 0.2)
        cfg.live_link_max_backoff = min(cfg.live_link_max_backoff, 0.2)
    app = App.build(cfg, live_link=live_link)
    harness = Harness(app=app, store=store, simulator=None, switch=switch)  # type: ignore[arg-type]
    try:
        if bundle is not None:
            if isinstance(bundle, Path) or (isinstance(bundle, str) and "\n" not in bundle and Path(bundle).is_file()):
                repository.import_file(store, bundle, prompts_dir=cfg.prompts_dir)
            else:
                harness.import_yaml(str(bundle))
        if switch is not None:
            # The simulator exists before the link connects, so the link never meets a switch
            # without mod_callcenter; its address is the server's once that is bound.
            harness.simulator = Simulator(("127.0.0.1", 1), time_scale=time_scale)
            _load_queues(harness.simulator, store)
            switch.attach(harness.simulator)
        app.start()
        if harness.simulator is None:
            harness.simulator = Simulator(app.server.address, time_scale=time_scale)
        else:
            harness.simulator.address = app.server.address
        yield harness
    finally:
        app.stop()
        if switch is not None:
            switch.stop()
        store.close()
        if tmp is not None:
            tmp.cleanup()


LINK_PASSWORD = "harness-Link"


def _load_queues(sim: Simulator, store: Store) -> None:
    """The store's queues in the simulator's callcenter.conf.xml, loaded (mod_callcenter.c
    load_config loads every queue of it at start)."""
    from fsivr.callcenter.state import load_state
    from fsivr.testing.mods.callcenter import Queue as SimQueue

    kinds = {f.name: f.type if isinstance(f.type, str) else f.type.__name__ for f in fields(SimQueue)}
    for q in store.run(load_state).queues.values():
        settings: dict[str, object] = {}
        for param, value in q.params:
            attr = param.replace("-", "_")
            if attr in kinds and attr not in ("name", "calls_answered", "calls_abandoned"):
                kind = kinds[attr]
                settings[attr] = value == "true" if kind == "bool" else int(value) if kind == "int" else value
        sim.callcenter.define_queue(q.name, **settings)
        sim.callcenter.load_queue(q.name)
