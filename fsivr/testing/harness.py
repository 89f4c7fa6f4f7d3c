"""A real fsivr server plus the simulator, for tests and ``fsivr simulate``.

The only module of fsivr.testing that starts fsivr's own server: the simulator proper speaks to
it over TCP like FreeSWITCH and never imports the engine.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsivr.app import App
from fsivr.config import Config
from fsivr.scenario import repository
from fsivr.store.db import Store
from fsivr.testing import CallResult, CallScript, Simulator


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
            config: Config | None = None, time_scale: float = 0.0) -> Iterator[Harness]:
    """Start a server on an ephemeral loopback port with ``bundle`` (YAML text or a file) imported."""
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
    app = App.build(cfg)
    harness = Harness(app=app, store=store, simulator=None)  # type: ignore[arg-type]
    try:
        if bundle is not None:
            if isinstance(bundle, Path) or (isinstance(bundle, str) and "\n" not in bundle and Path(bundle).is_file()):
                repository.import_file(store, bundle, prompts_dir=cfg.prompts_dir)
            else:
                harness.import_yaml(str(bundle))
        app.start()
        harness.simulator = Simulator(app.server.address, time_scale=time_scale)
        yield harness
    finally:
        app.stop()
        store.close()
        if tmp is not None:
            tmp.cleanup()
