"""Compiled scenarios held in memory, refreshed when their version in the store changes.

A call never reads a scenario from the database: the cache is filled at start and a background
greenlet asks the store, every ``interval`` seconds, for the ``scenarios`` change counter (one
query, fsivr/store/versions.py: bumped with every write to scenarios, numbers and prompts). Only
when it moved does it read each scenario's version, the number routes and the prompts, and it
loads and recompiles only the scenarios whose version changed — a hosted PBX with 2,000 scenarios
recompiles one when one is edited. A scenario that fails to compile keeps its previous version
live, as the spec demands.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import gevent

from fsivr.engine.poll import Polled
from fsivr.engine.scenario import CompiledScenario, ScenarioSpec, ValidationFailed, compile_scenario
from fsivr.store.outage import OutageLog

log = logging.getLogger("fsivr.cache")


class ScenarioSource(Protocol):
    """Where scenarios come from (the store, through the gevent threadpool)."""

    def stamp(self) -> int | None: ...
    def versions(self) -> dict[str, int]: ...
    def load(self, names: set[str]) -> list[tuple[ScenarioSpec, int]]: ...
    def routes(self) -> dict[str, tuple[str, str | None]]: ...
    def prompts(self) -> dict[str, Any]: ...


@dataclass
class ScenarioCache(Polled):
    failed: ClassVar[str] = "refreshing scenarios failed; serving the cached ones"
    log: ClassVar[logging.Logger] = log

    source: ScenarioSource
    interval: float = 2.0
    on_refresh: list[Callable[[], None]] = field(default_factory=list)
    scenarios: dict[str, CompiledScenario] = field(default_factory=dict)
    routes: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    prompts: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    #: Refreshes that loaded scenarios from the store.
    loads: int = 0
    #: time.monotonic() of the last refresh that reached the store: /health's "database reachable".
    last_ok: float | None = None
    #: Where an unreachable store is reported (once per outage; shared with the directory cache).
    outage: OutageLog = field(default_factory=lambda: OutageLog(None, log, "serving the cached scenarios"))
    #: Scenarios compiled (each one loaded with a new version); what a benchmark and the tests count.
    compiles: int = 0
    #: Refreshes answered by the change counter alone.
    unchanged: int = 0
    _stamp: int | None = None
    _greenlet: gevent.Greenlet | None = None

    def refresh(self) -> bool:
        """Bring the cache up to date; return True if anything changed."""
        # Read before the rest, so a write committed meanwhile is either seen now or moves the
        # counter again for the next tick (fsivr/engine/directory.py does the same).
        stamp = self.source.stamp()
        if stamp is not None and stamp == self._stamp:
            self.unchanged += 1
            self.last_ok = time.monotonic()  # the counter query reached the store
            return False
        versions = self.source.versions()
        changed = {n for n, v in versions.items()
                   if n not in self.scenarios or self.scenarios[n].version != v}
        changed = {n for n in changed if self.errors.get(n) != f"v{versions[n]}"}
        removed = set(self.scenarios) - set(versions)
        if changed:
            self.loads += 1
            for spec, version in self.source.load(changed):
                if spec.name not in changed:
                    continue
                self.compiles += 1
                try:
                    self.scenarios[spec.name] = compile_scenario(spec, version)
                    self.errors.pop(spec.name, None)
                except ValidationFailed as exc:
                    # Import validates too, so this means the store was edited by hand; the
                    # version stays marked so the same failure is not recompiled every tick.
                    self.errors[spec.name] = f"v{version}"
                    log.error("scenario %s version %s does not compile; keeping the live one: %s",
                              spec.name, version, exc)
            # One line per refresh that compiled anything (the benchmark counts compilations here).
            log.info("compiled %d scenario(s): %s", len(changed),
                     ", ".join(sorted(changed)[:5]) + (" ..." if len(changed) > 5 else ""))
        for name in removed:
            del self.scenarios[name]
        routes = self.source.routes()
        prompts = self.source.prompts()
        dirty = bool(changed or removed or routes != self.routes or prompts != self.prompts)
        self.routes, self.prompts = routes, prompts
        self.last_ok = time.monotonic()
        self._stamp = stamp
        if dirty:
            for hook in self.on_refresh:
                hook()
        return dirty

    def for_number(self, number: str) -> tuple[CompiledScenario, str | None] | None:
        route = self.routes.get(number)
        if route is None:
            return None
        scenario = self.scenarios.get(route[0])
        return (scenario, route[1]) if scenario is not None else None

    def get(self, name: str) -> CompiledScenario | None:
        return self.scenarios.get(name)
