"""What a node may ask of the database during a call: data-table look-ups, the authorize
lock-out, setting a time-condition override (the staff feature code) and the agent IVR's agent
rows (log-in, lock-out per agent, PIN). Every query runs through ``Store.run`` (gevent's
threadpool), so a look-up never blocks the hub; each is one statement on a primary key or an index
(an override: one row and its log row). PIN hashes are checked, and made, on the threadpool too
(scrypt is slow by design: tens of milliseconds of CPU per hash).

Nodes reach it as ``call.services.data`` (engine/node.py says what a node may touch).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import gevent

from fsivr.engine.pins import hash_pin, verify_pin
from fsivr.store import agents, campaigns, lockout, overrides, queuewaits, tables
from fsivr.store.db import Store
from fsivr.store.phone import caller_key


def agent_key(name: str) -> str:
    """The lock-out key of an agent (auth_failures.caller holds caller numbers and these)."""
    return ("agent:" + name)[:64]


class CallData:
    def __init__(self, store: Store | None) -> None:
        #: None where no database is wired (a unit test's Services): every look-up says so.
        self.store = store

    def _run(self, fn: Any) -> Any:
        if self.store is None:
            raise RuntimeError("no database: look-ups and the lock-out need fsivr's store")
        return self.store.run(fn)

    # ---- lookup --------------------------------------------------------------------------------

    def lookup(self, table: str, key: str) -> dict[str, Any] | None:
        return self._run(lambda s: tables.lookup(s, table, key))

    def last_agent(self, caller: str, since: datetime) -> dict[str, Any] | None:
        return self._run(lambda s: tables.last_agent(s, caller, since))

    def campaign_row(self, job: str) -> dict[str, str] | None:
        """The columns of the campaign row a placed call is for, as call variables."""
        return self._run(lambda s: campaigns.row_variables(s, job))

    # ---- queue ---------------------------------------------------------------------------------

    def queue_history(self, queue: str) -> list[queuewaits.Wait]:
        """The queue's last answered waits, newest first (the estimated wait's history)."""
        return self._run(lambda s: queuewaits.recent(s, queue))

    def queue_wait(self, wait: queuewaits.Wait) -> None:
        self._run(lambda s: queuewaits.record(s, wait))

    # ---- authorize -----------------------------------------------------------------------------

    def locked_out(self, caller: str, now: datetime, window: float, failures: int) -> bool:
        """Has ``caller`` failed ``failures`` times within the last ``window`` seconds?"""
        key, since = caller_key(caller), now - timedelta(seconds=window)
        return self._run(lambda s: lockout.failures_since(s, key, since)) >= failures

    def auth_failed(self, caller: str, now: datetime) -> None:
        key = caller_key(caller)
        self._run(lambda s: lockout.record_failure(s, key, now))

    def auth_ok(self, caller: str, now: datetime, window: float) -> None:
        key, before = caller_key(caller), now - timedelta(seconds=window)
        self._run(lambda s: lockout.clear(s, key, before))

    # ---- agent IVR -----------------------------------------------------------------------------

    def agent(self, name: str) -> agents.AgentLogin | None:
        return self._run(lambda s: agents.find(s, name))

    def agent_by_phone(self, caller: str) -> str | None:
        return self._run(lambda s: agents.by_phone(s, caller))

    def agent_locked_out(self, name: str, now: datetime, window: float, failures: int) -> bool:
        """Like ``locked_out``, counted per agent (``agent:<name>``): one agent's wrong PINs never
        lock another out, whichever phone either calls from."""
        key, since = agent_key(name), now - timedelta(seconds=window)
        return self._run(lambda s: lockout.failures_since(s, key, since)) >= failures

    def agent_failed(self, name: str, now: datetime) -> None:
        key = agent_key(name)
        self._run(lambda s: lockout.record_failure(s, key, now))

    def agent_ok(self, name: str, now: datetime, window: float) -> None:
        key, before = agent_key(name), now - timedelta(seconds=window)
        self._run(lambda s: lockout.clear(s, key, before))

    def set_agent_pin(self, name: str, pin: str) -> bool:
        """Hash ``pin`` (scrypt, on the threadpool) and store the hash; False: no such agent."""
        hashed = str(gevent.get_hub().threadpool.apply(hash_pin, (pin,)))
        return bool(self._run(lambda s: agents.set_pin(s, name, hashed)))

    # ---- time-condition overrides (the feature code) -----------------------------------------

    def set_override(self, name: str, state: str, until: datetime, who: str, at: datetime) -> overrides.Override:
        """Force switch ``name`` open/closed until ``until``; logged with ``who`` in the same transaction."""
        return self._run(lambda s: overrides.set_override(s, name, state, until, who, at))

    def clear_override(self, name: str, who: str, at: datetime) -> bool:
        return self._run(lambda s: overrides.clear_override(s, name, who, at))

    def pin_list(self, table: str) -> list[tuple[str, str]] | None:
        """(key, PIN hash) of each row of the data table ``table``; None if there is none."""
        return self._run(lambda s: tables.pin_list(s, table))

    @staticmethod
    def match_pin(pin: str, entries: Sequence[tuple[str, str]]) -> str | None:
        """The key of the entry whose hash ``pin`` matches, or None. As check_pin: every hash is
        tried, on the threadpool."""
        def job() -> str | None:
            found = None
            for key, stored in entries:
                if verify_pin(pin, stored) and found is None:
                    found = key
            return found

        return gevent.get_hub().threadpool.apply(job)  # type: ignore[no-any-return]

    @staticmethod
    def check_pin(pin: str, hashes: Sequence[str]) -> bool:
        """Does ``pin`` match one of ``hashes``? Every hash is tried (no early exit), so the
        time taken does not tell which position matched."""
        def job() -> bool:
            return sum(verify_pin(pin, h) for h in hashes) > 0

        return bool(gevent.get_hub().threadpool.apply(job))
