"""Directory data for the ringing nodes, held in memory: accounts, employees, groups, contacts, gateways.

A call never reads the directory from the database. The cache is loaded off the hub (``Store.run``)
and swapped in one assignment, so a call sees either the old or the new snapshot, never a mix.

Change detection: every write to the directory's tables bumps the ``directory`` change counter
in the same transaction (fsivr/store/versions.py), so ``refresh`` first reads that counter — one
query, whatever the directory's size — and re-reads the five tables only when it moved. A database
without the counter (``stamp`` returns None) falls back to reading and comparing every time. The
scenario cache's ``on_refresh`` hooks only fire when scenarios, routes or prompts change, so the
cache also runs its own tick (started by the first ``refresh``), which is what picks up an edited
account or contact within ``interval`` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gevent

from fsivr.engine.poll import poll
from fsivr.store.outage import OutageLog
from fsivr.store.phone import caller_key

if TYPE_CHECKING:
    from fsivr.store.db import Store
    from fsivr.store.directory import Account, Contact, Gateway, Group, Mailbox

log = logging.getLogger("fsivr.directory")

#: Seconds between directory checks (the scenario cache polls every 2 s; the directory changes less).
DEFAULT_INTERVAL = 10.0


@dataclass
class Snapshot:
    """One consistent view of the directory, with the indexes the nodes look things up by."""

    accounts: dict[str, Account] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    gateways: dict[str, Gateway] = field(default_factory=dict)
    #: Voicemail boxes (the voicemail node's e-mail address).
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    by_extension: dict[str, Account] = field(default_factory=dict)
    #: Contacts by their number in E.164 (fsivr.store.phone.caller_key).
    contacts_by_number: dict[str, Contact] = field(default_factory=dict)
    #: Department id -> ("queue" | "group", name): the agent's ``*2`` transfer (spec §5).
    departments: dict[str, tuple[str, str]] = field(default_factory=dict)

    def index(self) -> Snapshot:
        self.by_extension = {a.extension: a for a in self.accounts.values() if a.extension}
        # Imports store E.164 already; rows written before that (or by hand) are keyed the same way.
        self.contacts_by_number = {caller_key(c.number): c for c in self.contacts.values() if c.number}
        return self

    def same_data(self, other: Snapshot) -> bool:
        return (self.accounts, self.groups, self.contacts, self.gateways, self.mailboxes, self.departments) == (
            other.accounts, other.groups, other.contacts, other.gateways, other.mailboxes, other.departments)


Loader = Callable[[], Snapshot]
#: The directory's change counter, or None when the store has none (then every refresh reads all).
Stamp = Callable[[], "int | None"]


class DirectoryCache:
    """The live directory snapshot plus the loop that keeps it current."""

    def __init__(self, loader: Loader, interval: float = DEFAULT_INTERVAL, stamp: Stamp | None = None,
                 outage: OutageLog | None = None) -> None:
        #: Where an unreachable store is reported (once per outage; shared with the scenario cache).
        self.outage = outage or OutageLog(None, log, "keeping the cached directory")
        self.loader = loader
        self.stamp = stamp
        self.interval = interval
        self.snapshot = Snapshot()
        self.loaded = False
        #: Snapshots swapped in (the data changed).
        self.loads = 0
        #: Full reads of the tables (a moved counter, or no counter).
        self.reads = 0
        #: Refreshes answered by the counter alone.
        self.unchanged = 0
        self._stamp: int | None = None
        self._greenlet: gevent.Greenlet | None = None
        self._stopped = False

    @classmethod
    def for_store(cls, store: Store, interval: float = DEFAULT_INTERVAL, outage: OutageLog | None = None
                  ) -> DirectoryCache:
        from fsivr.store import versions

        def load() -> Snapshot:
            return store.run(load_snapshot)

        def stamp() -> int | None:
            return store.run(versions.read).get(versions.DIRECTORY)

        return cls(load, interval, stamp, outage)

    # ---- keeping current ---------------------------------------------------------------------

    def refresh(self) -> bool:
        """Load the directory; swap it in if it changed. Returns True when it changed.

        Also starts the periodic tick on first use (the app calls this from the scenario cache's
        refresh hook, which runs at start-up).
        """
        # The counter is read before the tables: a write committed in between is then in the
        # snapshot and also moves the counter again, which costs one more read, never a miss.
        stamp = self.stamp() if self.stamp is not None else None
        if self.loaded and stamp is not None and stamp == self._stamp:
            self.unchanged += 1
            self.start()
            return False
        fresh = self.loader().index()
        self.reads += 1
        self._stamp = stamp
        changed = not self.loaded or not fresh.same_data(self.snapshot)
        if changed:
            self.snapshot = fresh
            self.loads += 1
            log.info("directory: %d accounts, %d groups, %d contacts, %d gateways",
                     len(fresh.accounts), len(fresh.groups), len(fresh.contacts), len(fresh.gateways))
        self.loaded = True
        self.start()
        return changed

    def start(self) -> None:
        if self._greenlet is None and not self._stopped and self.interval > 0:
            self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        self._stopped = True
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _loop(self) -> None:
        # An unreachable store keeps the live snapshot until it is back.
        poll(self.refresh, self.interval, self.outage, log, "refreshing the directory failed; keeping the cached one",
             traceback=False, running=lambda: not self._stopped)

    def current(self) -> Snapshot:
        """The live snapshot; loaded once on demand if no refresh has run yet (e.g. a call that
        arrives in the instant between start-up and the first refresh)."""
        if not self.loaded:
            try:
                self.refresh()
            except Exception:
                log.exception("loading the directory failed")
        return self.snapshot

    # ---- look-ups (what the nodes ask) ---------------------------------------------------------

    def account(self, user: str) -> Account | None:
        return self.current().accounts.get(user)

    def employee(self, extension: str) -> Account | None:
        """The employee whose short number is ``extension``."""
        return self.current().by_extension.get(extension)

    def mailbox(self, box: str) -> Mailbox | None:
        return self.current().mailboxes.get(box)

    def group(self, name: str) -> Group | None:
        return self.current().groups.get(name)

    def department(self, dep: str) -> tuple[str, str] | None:
        """("queue" | "group", name) of a department id, None if no queue or group has it."""
        return self.current().departments.get(dep)

    def gateway(self, name: str | None = None) -> Gateway | None:
        """The named gateway, or with no name the default one: the one named ``default`` if it
        exists, else the first by name — so a PBX with a single trunk needs no ``gateway``
        parameter anywhere (with several, set ``default_gateway`` in the configuration)."""
        gateways = self.current().gateways
        if name:
            return gateways.get(name)
        if "default" in gateways:
            return gateways["default"]
        return gateways[min(gateways)] if gateways else None

    def contact_for(self, number: str) -> Contact | None:
        """The contact a caller's number belongs to, however either is written (``+48...``,
        ``0048...``, national with the configured default region): both compared in E.164."""
        if not number or not number.strip():
            return None
        return self.current().contacts_by_number.get(caller_key(number))


def load_snapshot(session: Any) -> Snapshot:
    """Read the directory tables (runs inside ``Store.run``, on a threadpool thread)."""
    from fsivr.store.directory import (
        departments,
        load_accounts,
        load_contacts,
        load_gateways,
        load_groups,
        load_mailboxes,
    )

    return Snapshot(accounts=load_accounts(session), groups=load_groups(session),
                    contacts=load_contacts(session), gateways=load_gateways(session),
                    mailboxes=load_mailboxes(session), departments=departments(session))


def static_cache(accounts: list[Account] | None = None, groups: list[Group] | None = None,
                 contacts: list[Contact] | None = None, gateways: list[Gateway] | None = None) -> DirectoryCache:
    """A cache over fixed data (tests, tools); it never ticks."""
    snap = Snapshot(accounts={a.user: a for a in accounts or []}, groups={g.name: g for g in groups or []},
                    contacts={c.number: c for c in contacts or []}, gateways={g.name: g for g in gateways or []})
    cache = DirectoryCache(lambda: snap, interval=0)
    cache.refresh()
    return cache
