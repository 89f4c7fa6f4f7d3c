"""Agent statuses, kept the same in mod_callcenter and in the store, whoever changes them.

* The agent IVR (fsivr.nodes.agent_login / agent_menu) changes a status with ``set_status``: the
  store first (it is the truth the sync reconciles FreeSWITCH from), then ``callcenter_config
  agent set status <agent> '<Status>'`` over the live link — a status with a space quoted
  (mod_callcenter.c cc_config_api_function splits its arguments with switch_separate_string; trace
  11: unquoted ``Logged Out`` is ``-ERR Invalid Agent Status!``). The sync is told what
  FreeSWITCH now holds, so its next round does not send the same command again.
* mod_callcenter changes statuses by itself — max-no-answer puts an agent in the queue's
  ``agent-no-answer-status`` (``On Break`` by default): outbound_agent_thread_run calls
  cc_agent_update("status", ...), which fires ``CUSTOM callcenter::info`` with ``CC-Action:
  agent-status-change``, ``CC-Agent``, ``CC-Agent-Status`` (mod_callcenter.c v1.11.1). Such
  events reach only inbound listeners (trace 07), i.e. the live link. Each one is written back
  to the store (reason ``freeswitch``) and into what the sync believes FreeSWITCH holds — no
  command goes back. The status looked at is the one ``agent list <agent>`` shows when the event
  is handled, not the event's own (events and replies can cross), and it is news only when it
  differs from what the sync last made FreeSWITCH hold: an event of our own change, or one handled
  after the store has moved on (a change saved while the link was down, not sent yet), must not
  put an older status back into the store. While the sync does not know what FreeSWITCH holds (a
  reconcile is due) nothing is written back: the reconcile makes FreeSWITCH what the store says.

Both paths hold the sync's lock, so a sync round never works from a status read before one of
these changes and applied after it.

Without a live link (``fsivr simulate``, tests of single nodes) ``set_status`` sends the command
over the call's own socket (any ESL connection answers ``api``) and nothing is written back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gevent.lock import Semaphore
from gevent.pool import Group

from fsivr.callcenter.commands import ListError, arg, ok, parse_list
from fsivr.esl.frames import Event
from fsivr.esl.link import EventLink, LinkError
from fsivr.store import agents as stored
from fsivr.store.db import Store
from fsivr.store.models import AGENT_STATUSES

if TYPE_CHECKING:
    from fsivr.callcenter.sync import CallcenterSync

log = logging.getLogger("fsivr.callcenter.agents")

API = "callcenter_config "
SUBCLASS = "callcenter::info"
#: Seconds an agent's status change waits for a sync round in progress before it is only saved.
LOCK_WAIT = 5.0


class AgentDesk:
    """One per ``fsivr serve`` process (``Services.agents``)."""

    def __init__(self, store: Store | None, link: EventLink | None = None,
                 sync: CallcenterSync | None = None) -> None:
        self.store = store
        self.link = link
        #: The sync on the same link (its ``lock`` and ``note_agent_status``), or None.
        self.sync = sync
        self.lock = sync.lock if sync is not None else Semaphore()
        #: Statuses written back from mod_callcenter's own changes.
        self.written_back = 0
        #: The write-backs in progress (killed at stop: they belong to this server's link).
        self._pending = Group()

    def start(self) -> None:
        if self.link is not None:
            self.link.add_listener(self._on_event)

    def stop(self) -> None:
        if self.link is not None:
            self.link.remove_listener(self._on_event)
        self._pending.kill(block=True, timeout=2)

    # --- the agent IVR ---------------------------------------------------------------------------

    def set_status(self, agent: str, status: str, reason: str | None, api: Callable[[str], str],
                   at: datetime | None = None) -> bool:
        """Save ``status`` and apply it in mod_callcenter. ``api``: the call's own socket, used when
        there is no live link. True when mod_callcenter took it now; False when it did not (the
        link is down, the module refused, a sync round held the lock too long): the store has it,
        and the sync sends it."""
        if status not in AGENT_STATUSES:
            raise ValueError(f"{status!r} is not a mod_callcenter agent status")
        if self.store is None:
            raise RuntimeError("no database: agent statuses need fsivr's store")
        when = at or datetime.now(UTC)
        command = f"{API}agent set status {arg(agent)} {arg(status)}"

        def save() -> None:
            assert self.store is not None
            if not self.store.run(lambda s: stored.set_status(s, agent, status, reason, when)):
                raise LookupError(f"no agent {agent!r}")

        if not self.lock.acquire(timeout=LOCK_WAIT):
            # A sync round is stuck on a slow FreeSWITCH: the agent is not kept waiting. Saved
            # only; the sync's next round finds the store differing from what it applied and
            # sends it (or its current round read it already and sends it itself).
            save()
            if self.sync is not None:
                # A status write bumps no change counter (fsivr/store/agents.py): ask for the read.
                self.sync.reload_soon()
            log.warning("agent %s: status %s saved; FreeSWITCH busy, the sync sends it", agent, status)
            return False
        try:
            save()
            try:
                reply = self.link.api(command) if self.link is not None else api(command)
            except LinkError as exc:
                log.warning("agent %s: status %s saved; FreeSWITCH not told yet (%s): the sync sends it "
                            "when the link is back", agent, status, exc)
                self._forget()
                return False
            if not ok(reply):
                log.warning("agent %s: status %s saved; %s → %s (the sync retries)", agent, status, command,
                            reply.strip())
                self._forget()
                return False
            self._note(agent, status)
        finally:
            self.lock.release()
        log.info("agent %s: status %s (%s)", agent, status, reason or "agent IVR")
        return True

    def _note(self, agent: str, status: str) -> None:
        if self.sync is not None:
            self.sync.note_agent_status(agent, status)

    def _forget(self) -> None:
        if self.sync is not None:
            self.sync.reconcile_soon()

    # --- mod_callcenter's own changes ------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        # In the link's reader greenlet: nothing here may block.
        if event.get("Event-Subclass") != SUBCLASS or event.get("CC-Action") != "agent-status-change":
            return
        agent = event.get("CC-Agent") or ""
        if agent:
            self._pending.spawn(self._write_back, agent, event.get("CC-Agent-Status") or "")

    def _write_back(self, agent: str, said: str) -> None:
        try:
            with self.lock:
                status = self._current(agent) or said
                applied = self.sync.applied_status(agent) if self.sync is not None else None
                if status not in AGENT_STATUSES or self.store is None or applied in (None, status):
                    return
                now = datetime.now(UTC)
                if self.store.run(lambda s: stored.note_switch_status(s, agent, status, now)):
                    self.written_back += 1
                    log.info("agent %s: mod_callcenter set the status to %s; saved", agent, status)
                self._note(agent, status)
        except Exception:
            # The next reconcile puts the store's status back into FreeSWITCH: said, not fatal.
            log.exception("agent %s: mod_callcenter's status change could not be saved", agent)

    def _current(self, agent: str) -> str | None:
        """The status mod_callcenter's table holds now (``agent list <agent>``), or None."""
        if self.link is None:
            return None
        try:
            rows = parse_list(self.link.api(f"{API}agent list {arg(agent)}"))
        except (LinkError, ListError):
            return None
        return rows[0].get("status") if rows else None
