"""Keeping mod_callcenter in step with the store while FreeSWITCH runs.

Our store is the truth; mod_callcenter's own SQLite/ODBC tables are not. So:

* at start, and every time the live link (re)connects — FreeSWITCH restarted, or mod_callcenter
  was reloaded — the service *reconciles*: it reads ``queue list``, ``agent list`` and ``tier
  list`` and sends whatever makes them what the store says;
* in between, it asks the store every ``interval`` seconds for the ``directory`` change counter
  (one small query, fsivr/store/versions.py: bumped with every write to the queues, agents,
  tiers, accounts and gateways the state is made from), and only when it moved reads the state and
  turns each change into the commands for that change alone — a new agent is ``agent add`` +
  ``agent set ...`` + ``tier add``, nobody restarts FreeSWITCH or reloads mod_callcenter for it.

A queue cannot be created or changed with ``callcenter_config``: ``queue load``/``reload`` read it
from callcenter.conf.xml. So before one, ``publish_conf`` (when given: it renders and writes the
file, then ``reloadxml``) makes the XML current. A command that fails, and every queue
load/reload (it re-applies the XML's agents and tiers), make the next round a full reconcile.

Status: the store's agent status is pushed at reconcile. mod_callcenter also changes it by itself
(max-no-answer → the queue's agent-no-answer-status); fsivr.callcenter.agents listens to
agent-status-change on the link, writes it back to the store and tells this service
(``note_agent_status``) so it does not send the status back. The agent IVR changes a status the
same way. Both hold ``lock``, which a round holds too: a round never compares a store read before
such a change with FreeSWITCH after it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import gevent
import gevent.event
import gevent.lock

from fsivr.callcenter.commands import QUEUE_LIST_PARAMS, ListError, Plan, ok, plan, state_from_lists
from fsivr.callcenter.state import CallcenterState
from fsivr.esl.link import EventLink, LinkError
from fsivr.store.outage import UNREACHABLE, OutageLog, cause

log = logging.getLogger("fsivr.callcenter")

API = "callcenter_config "


class CallcenterSync:
    """One per ``fsivr serve`` process, on the process's live link."""

    def __init__(self, link: EventLink, load: Callable[[], CallcenterState], *, interval: float = 2.0,
                 publish_conf: Callable[[CallcenterState], None] | None = None,
                 outage: OutageLog | None = None, stamp: Callable[[], int | None] | None = None) -> None:
        self.link = link
        #: Where an unreachable store is reported, once per outage (shared with the server's other
        #: loops; their next successful refresh reports the end of it).
        self.outage = outage
        #: Reads the wanted state from the store (called in this service's greenlet: it must
        #: go through Store.run so the hub never blocks on the database).
        self.load = load
        #: The change counter of everything ``load`` reads (None: no counter, load every round).
        self.stamp = stamp
        self.interval = interval
        self.publish_conf = publish_conf
        #: What FreeSWITCH was last made to hold (None: unknown → reconcile).
        self.applied: CallcenterState | None = None
        #: Rounds done (tests wait on it), and how many were full reconciles.
        self.rounds = 0
        self.reconciles = 0
        #: Rounds that read the state from the store, and rounds the counter alone answered.
        self.loads = 0
        self.unchanged = 0
        #: The counter the applied state was read at.
        self._stamp: int | None = None
        #: Read the store next round even if the counter has not moved (reload_soon).
        self._reload = False
        self._wake = gevent.event.Event()
        self._greenlet: gevent.Greenlet | None = None
        self._reported: set[str] = set()
        self._failed: set[str] = set()
        self._list_error: str | None = None
        #: Held by a round, and by whoever changes an agent's status beside it (callcenter.agents).
        self.lock = gevent.lock.RLock()

    def applied_status(self, agent: str) -> str | None:
        """The status this service last made FreeSWITCH hold for ``agent`` (None: unknown — a
        reconcile is due, or the agent is not in mod_callcenter)."""
        held = self.applied.agents.get(agent) if self.applied is not None else None
        return held.status if held is not None else None

    def note_agent_status(self, agent: str, status: str) -> None:
        """FreeSWITCH holds ``status`` for ``agent`` now and the store says so too (the agent IVR
        set it, or mod_callcenter did and it was written back): not a change to send."""
        if self.applied is not None and agent in self.applied.agents:
            self.applied.agents[agent] = dataclasses.replace(self.applied.agents[agent], status=status)

    def start(self) -> None:
        self.link.on_connected.append(self.reconcile_soon)
        self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self.reconcile_soon in self.link.on_connected:
            self.link.on_connected.remove(self.reconcile_soon)
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=2)
            self._greenlet = None

    def reload_soon(self) -> None:
        """The store holds a change the counter does not show (an agent status written while a
        round held the lock: fsivr.callcenter.agents): the next round reads it, counter or not —
        also when it is asked during a round that read the store before the write."""
        self._reload = True
        self._wake.set()

    def reconcile_soon(self) -> None:
        """FreeSWITCH's state is unknown again (it reconnected): compare it with the store."""
        self.applied = None
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.run_once()
            except UNREACHABLE as exc:
                if self.outage is None:
                    log.warning("callcenter sync: the database is unreachable; the next round reconciles: %s",
                                cause(exc))
                else:
                    self.outage.failed(exc)
                self.applied = None
            except Exception:
                log.exception("callcenter sync: a round failed; the next one reconciles")
                self.applied = None

    def run_once(self) -> None:
        """One round: read the store; reconcile or apply what changed. Never raises for
        FreeSWITCH being away (the link's reconnect brings a reconcile)."""
        with self.lock:
            self._round()

    def _round(self) -> None:
        if not self.link.connected:
            # Nothing to do until it is back; its reconnect asks for a reconcile.
            self.applied = None
            return
        # Read before the state, so a write committed meanwhile is either seen now or moves the
        # counter again for the next round (fsivr/engine/cache.py does the same).
        stamp = self.stamp() if self.stamp is not None else None
        if stamp is not None and stamp == self._stamp and self.applied is not None and not self._reload:
            self.unchanged += 1
            self.rounds += 1
            return
        self._reload = False
        self._stamp = None
        wanted = self.load()
        self.loads += 1
        self._report(wanted.problems)
        try:
            if self.applied is None:
                self.reconciles += 1
                try:
                    current = state_from_lists(self.link.api(API + "queue list"), self.link.api(API + "agent list"),
                                               self.link.api(API + "tier list"))
                except ListError as exc:
                    # Tried again every round; said once.
                    if str(exc) != self._list_error:
                        log.error("callcenter sync: FreeSWITCH's lists cannot be read (%s); is mod_callcenter "
                                  "loaded?", exc)
                    self._list_error = str(exc)
                    return
                self._list_error = None
                todo = plan(current, wanted, QUEUE_LIST_PARAMS)
            elif not self.applied.same_config(wanted):
                todo = plan(self.applied, wanted)
            else:
                self._stamp = stamp
                return
            if self._apply(todo, wanted):
                self.applied = wanted
                self._stamp = stamp
            else:
                self.applied = None
        except LinkError as exc:
            log.warning("callcenter sync: %s; reconciling once FreeSWITCH is back", exc)
            self.applied = None
        finally:
            self.rounds += 1

    def _apply(self, todo: Plan, wanted: CallcenterState) -> bool:
        """Send the plan; True when every command succeeded."""
        if todo.queues_from_xml and self.publish_conf is not None:
            self.publish_conf(wanted)
        failures = self._send(todo.commands)
        if todo.queues_from_xml:
            # load/reload re-applied the XML's agents and all its tiers (load_queue with
            # request_agents/request_tiers): put the store's back over them, queues aside.
            current = state_from_lists("+OK\n", self.link.api(API + "agent list"), self.link.api(API + "tier list"))
            current.queues = dict(wanted.queues)
            failures |= self._send(plan(current, wanted).commands)
        self._failed = failures
        return not failures

    def _send(self, commands: list[str]) -> set[str]:
        """Send each command; the failures, described (each logged once while it persists)."""
        failures = set()
        for cmd in commands:
            reply = self.link.api(API + cmd)
            if ok(reply):
                log.info("callcenter sync: %s", cmd)
                continue
            hint = ""
            if cmd.startswith(("queue load", "queue reload")):
                hint = " (the queue is not in FreeSWITCH's callcenter.conf.xml yet: run fsivr render-conf)"
            failure = f"callcenter_config {cmd} → {reply.strip()}{hint}"
            failures.add(failure)
            # Retried every round until it works: said once, not every few seconds.
            if failure not in self._failed:
                log.warning("callcenter sync: %s", failure)
        return failures

    def _report(self, problems: list[str]) -> None:
        """Each problem once (the store is read every few seconds)."""
        for problem in problems:
            if problem not in self._reported:
                log.warning("callcenter sync: %s", problem)
        self._reported = set(problems)
