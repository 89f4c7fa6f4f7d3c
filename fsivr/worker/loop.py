"""The worker loop: claim due rows (up to ``batch`` in one transaction), send them one by one,
record each outcome; on SIGTERM finish the row in hand, give back the untried ones, then stop.

One row at a time per process: each send is short (one SMTP conversation, one HTTP request) and a
second worker process (PostgreSQL) is the way to send more at once. The database being unreachable
(fsivr.store.outage: connection refused, dropped, timed out) is waited out, logged once per
outage, never a crash: rows wait in the table meanwhile. Any other database error is a bug
or a wrong schema and ends the worker with a traceback.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Any, Protocol, TypeVar

import gevent

from fsivr.store import outbox
from fsivr.store.db import Store, in_pool
from fsivr.store.outage import UNREACHABLE, OutageLog
from fsivr.store.outbox import Claimed, Executor, RetryPolicy
from fsivr.store.types import utcnow
from fsivr.worker.errors import NotNow, PermanentFailure, RetryAt, SendFailed
from fsivr.worker.lock import SqliteWorkerLock

log = logging.getLogger("fsivr.worker")

Clock = Callable[[], datetime]

#: The first wait after the outbox ran dry; it doubles while nothing is due, up to
#: ``poll_interval``. Rows tend to come in runs (a busy hour's calls): a worker that waited the
#: whole poll interval as soon as it had caught up made each of them wait ~poll_interval / 2 on
#: average (1 s of lag at a steady 50/s with the 2 s default, bench/outbox.py), while a fully idle
#: worker still polls once per interval after a few doublings.
FIRST_IDLE = 0.05
#: A pooled connection idle this long is pinged before use (fsivr.store.db.Store ``ping_idle``):
#: a busy worker checks one out several times per notification, and pinging each time was ~0.3 ms
#: of CPU per checkout (bench/outbox.py).
PING_IDLE = 1.0
#: Rows a worker claims in one transaction: a claim per row was about half of the database work
#: per notification (bench/outbox.py). Two workers still share a run of rows (SKIP LOCKED).
BATCH = 10
T = TypeVar("T")


class Sender(Protocol):
    """Sends one row's payload; returns a one-line description of what the far end said. Raises
    SendFailed (retry after the backoff), PermanentFailure (dead now); any other exception is
    treated like SendFailed, so a bug in one sender cannot stop the others' rows."""

    kind: str

    def __call__(self, payload: dict[str, Any], key: str) -> str: ...


def blocks(sender: Sender) -> bool:
    """Whether ``sender`` waits on network I/O the hub cannot see (smtplib, http.client: the worker
    is not monkey-patched); such a send runs on a thread (``Worker._call``). One that talks over
    the live link (chat SMS, callbacks) is a gevent client of this hub and runs on it."""
    return bool(getattr(sender, "blocking", False))


@dataclass(frozen=True)
class WorkerSettings:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    lease_seconds: float = 300.0
    poll_interval: float = 2.0
    #: Rows claimed at once (one transaction). The batch is sent one row after the other; a row is
    #: only started while its lease outlasts ``send_timeout``, the rest go back (``release``).
    #: ``fsivr worker`` claims BATCH (from_config); 1 is one row per ``run_once``.
    batch: int = 1
    #: The longest one send may take (the transports' timeouts).
    send_timeout: float = 60.0
    #: How often the worker renews the lease of the row in hand (default: a quarter of the lease),
    #: so a send slower than the lease (or a stalled process) does not let another worker take it.
    renew_seconds: float | None = None

    @property
    def renew_every(self) -> float:
        return self.renew_seconds if self.renew_seconds is not None else self.lease_seconds / 4

    @classmethod
    def from_config(cls, cfg: Any) -> WorkerSettings:
        policy = RetryPolicy(cfg.worker_max_attempts, cfg.worker_backoff_base, cfg.worker_backoff_max,
                             cfg.worker_backoff_jitter)
        if cfg.outbound_endpoint and cfg.worker_lease_seconds <= cfg.originate_timeout + 60:
            raise ValueError("worker_lease_seconds must be longer than originate_timeout + 60 s: a callback "
                             "still ringing when its lease expires could be placed again by another worker")
        if cfg.worker_lease_seconds <= max(cfg.smtp_timeout, cfg.sms_http_timeout):
            raise ValueError("worker_lease_seconds must be longer than smtp_timeout and sms_http_timeout: "
                             "a send still running when its lease expires could be sent again by another worker")
        longest = max(cfg.smtp_timeout, cfg.sms_http_timeout,
                      cfg.originate_timeout + 60 if cfg.outbound_endpoint else 0)
        return cls(policy, cfg.worker_lease_seconds, cfg.worker_poll_interval, batch=BATCH, send_timeout=longest)


@dataclass
class _InHand:
    row: Claimed
    label: str
    #: time.monotonic() of the last renewal (or of the start of the send)
    renewed: float


def worker_name() -> str:
    """host:pid:random — unique per process even when pids are reused across container restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(self, store: Store, senders: Mapping[str, Sender], settings: WorkerSettings | None = None,
                 clock: Clock = utcnow, rng: random.Random | None = None, name: str | None = None) -> None:
        self.store = store
        self.senders = dict(senders)
        self.settings = settings or WorkerSettings()
        self.clock = clock
        self.rng = rng or random.Random()
        self.name = name or worker_name()
        self.stopping = threading.Event()
        #: Run beside the loop, each in its own greenlet, once the worker holds its lock (the
        #: campaign dialler: fsivr/worker/campaign.py); each returns when ``stopping`` is set.
        self.companions: list[Callable[[], None]] = []
        #: The database outage report of this process (the loop's and the metrics' scrapes).
        self.outage = OutageLog(store.url, log, "rows wait")
        #: The row being sent, for the heartbeat thread (``_beat``) that renews its lease.
        self._in_hand: _InHand | None = None
        self._hand_lock = threading.Lock()
        self._beater: threading.Thread | None = None

    # --- one row ------------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Claim up to ``batch`` due rows and process them; False when none was due."""
        s = self.settings
        now = self.clock()
        with self.store.connection() as conn:
            rows = outbox.claim_many(conn, self.name, now, timedelta(seconds=s.lease_seconds),
                                     self.senders.keys(), s.policy.max_attempts, s.batch)
        if not rows:
            return False
        claimed = time.monotonic()
        for n, row in enumerate(rows):
            # Stopping, or a send started now could outlive the lease (another worker would take
            # the row and send it again): the rest go back, untried.
            if n and (self.stopping.is_set() or time.monotonic() - claimed + s.send_timeout >= s.lease_seconds):
                rest = [r.id for r in rows[n:]]
                self._record(lambda session, rest=rest: outbox.release(session, rest, self.name))  # type: ignore[misc]
                break
            self._process(row, now)
            # The companions (the campaign dialler, the callback senders' live link) are greenlets
            # of this hub, and a send blocks it (SMTP, HTTP: the process is not monkey-patched):
            # without a yield between rows, a burst of notifications held every campaign's pace
            # and the link's reading until the outbox was empty.
            gevent.sleep(0)
        return True

    def _process(self, row: Claimed, claimed_at: datetime) -> None:
        """Send one claimed row (``claimed_at``: the worker's clock when it was claimed)."""
        label = f"outbox #{row.id} {row.kind} (attempt {row.attempt}{', reclaimed' if row.reclaimed else ''})"
        s = self.settings
        # The fence: when a quarter of the lease or more has gone since the claim (later rows of a
        # batch, a stalled process), renew it first — conditional on still holding this attempt's
        # lease — and send only if that worked: a lost lease means another worker has the row and
        # may have sent it already. A row sent right after its claim needs no extra write.
        if self.clock() - claimed_at >= timedelta(seconds=s.renew_every) and not self._record(self._renewal(row)):
            log.warning("%s: the lease was lost before sending; left to the worker that took the row", label)
            return
        with self._heartbeat(row, label):
            self._send(row, label)

    def _renewal(self, row: Claimed) -> Callable[[Executor], bool]:
        lease = timedelta(seconds=self.settings.lease_seconds)
        return lambda session: outbox.renew(session, row.id, self.name, row.attempt, self.clock(), lease)

    @contextmanager
    def _heartbeat(self, row: Claimed, label: str) -> Iterator[None]:
        """The row is in hand while the body runs (its send and the recording of the outcome): the
        heartbeat thread renews its lease every ``renew_every`` seconds meanwhile."""
        with self._hand_lock:
            self._in_hand = _InHand(row, label, time.monotonic())
            if self._beater is None:
                self._beater = threading.Thread(target=self._beat, name=f"lease-{self.name}", daemon=True)
                self._beater.start()
        try:
            yield
        finally:
            with self._hand_lock:
                self._in_hand = None

    def _beat(self) -> None:
        """The heartbeat: one real thread per worker (senders block the worker's thread — SMTP,
        HTTP — and the process is not monkey-patched), until the worker stops. Each renewal is
        conditional on still holding that attempt's lease; once lost, the row is left alone."""
        every = self.settings.renew_every
        while not self.stopping.wait(every / 2):
            with self._hand_lock:
                hand = self._in_hand
            if hand is None or time.monotonic() - hand.renewed < every:
                continue
            try:
                with self.store.connection() as conn:
                    held = self._renewal(hand.row)(conn)
            except Exception as exc:  # the database away: try again next beat (the loop reports it)
                log.debug("%s: lease renewal failed: %s", hand.label, exc)
                continue
            hand.renewed = time.monotonic()
            with self._hand_lock:
                still = self._in_hand is hand
            if not held and still:
                log.warning("%s: the lease was lost while sending; another worker may send it again", hand.label)
                with self._hand_lock:
                    if self._in_hand is hand:
                        self._in_hand = None

    def _send(self, row: Claimed, label: str) -> None:
        sender = self.senders[row.kind]
        policy = self.settings.policy
        if row.reclaimed:
            log.warning("%s: the previous attempt never finished; sending again under the same key %s",
                        label, row.key)
        try:
            said = self._call(sender, row)
        except NotNow as not_now:
            # Claimed outside the sender's hours: no attempt was made, the row waits uncounted.
            wait_until, why = not_now.at, str(not_now)
            self._record(lambda session: outbox.reschedule(session, row.id, self.name, wait_until, None,  # type: ignore[arg-type]
                                                           uncount=True))
            log.info("%s: not now (%s); due again at %s", label, why, wait_until)
            return
        except RetryAt as retry_at:
            retry, error = retry_at.at, str(retry_at)
            if self._record(lambda session: outbox.reschedule(session, row.id, self.name, retry, error)):  # type: ignore[arg-type]
                log.warning("%s failed, will retry at %s: %s", label, retry, error)
            return
        except Exception as exc:  # every failure is recorded on the row; the loop goes on
            permanent = isinstance(exc, PermanentFailure)
            error = str(exc) or type(exc).__name__
            if not isinstance(exc, SendFailed):
                error = f"{type(exc).__name__}: {error}"
                log.exception("%s: the %s sender crashed", label, row.kind)
            state = self._record(lambda session: outbox.fail(
                session, row.id, self.name, error, self.clock(), policy, self.rng, permanent))
            if state == "dead":
                log.error("%s failed, given up%s: %s", label,
                          "" if permanent else f" after {policy.max_attempts} attempts", error)
            elif state == "pending":
                log.warning("%s failed, will retry: %s", label, error)
            else:
                log.warning("%s failed (%s), but the row was taken from this worker meanwhile", label, error)
            return
        if self._record(lambda session: outbox.complete(session, row.id, self.name, self.clock())):
            log.info("%s sent: %s", label, said)
        else:
            log.warning("%s sent (%s), but its lease had been lost meanwhile: another worker may send it "
                        "again under the same key", label, said)

    def _call(self, sender: Sender, row: Claimed) -> str:
        """The send; on a thread of gevent's pool when it blocks and companions run beside the
        loop: the campaign dialler is a greenlet of this hub, and a slow SMTP server or SMS gateway
        held its passes for the whole send. The hand-off costs ~0.35 ms of CPU per row (bench/
        outbox.py: 510 -> 414/s for one worker), so a worker with no companion sends on the hub
        as before. One row at a time either way (the loop waits for it): a sender's kept
        connection is never used by two threads at once."""
        if not (self.companions and blocks(sender)):
            return sender(row.payload, row.key)
        return in_pool(lambda: sender(row.payload, row.key))

    def _record(self, write: Callable[[Executor], T]) -> T | None:
        """Record an attempt's outcome, waiting out a database outage for as long as the lease lasts
        (the writes are conditional on still holding the lease, so a late one is harmless; giving up
        early would only make a resend more likely). None when it could not be recorded. Each
        write is one transaction on a plain connection (Core statements: fsivr/store/outbox.py)."""
        deadline = time.monotonic() + self.settings.lease_seconds
        while True:
            try:
                with self.store.connection() as conn:
                    result = write(conn)
            except UNREACHABLE as exc:
                self.outage.failed(exc)
                if time.monotonic() >= deadline:
                    return None
                time.sleep(min(self.settings.poll_interval, max(deadline - time.monotonic(), 0)))
                continue
            self.outage.succeeded()
            return result

    # --- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        """Until ``stop()``: process due rows; when none is due wait, from FIRST_IDLE doubling up to
        ``poll_interval``."""
        log.info("worker %s: sending %s", self.name, ", ".join(sorted(self.senders)) or "nothing")
        lock = SqliteWorkerLock(self.store.url) if self.store.url.get_backend_name() == "sqlite" else None
        if lock is not None:
            lock.acquire()
        try:
            if lock is not None:
                # Holding the lock proves no other worker lives: a leased row is a dead worker's.
                with self.store.session() as session:
                    taken = outbox.expire_leases(session, self.clock())
                if taken:
                    log.warning("%d outbox row(s) left leased by a worker that died are due again", taken)
            wait = FIRST_IDLE
            companions = [gevent.spawn(run) for run in self.companions]
            while not self.stopping.is_set():
                try:
                    busy = self.run_once()
                except UNREACHABLE as exc:
                    self.outage.failed(exc)
                    busy = False
                    wait = self.settings.poll_interval
                else:
                    self.outage.succeeded()
                if busy:
                    wait = FIRST_IDLE
                else:
                    self._idle(min(wait, self.settings.poll_interval))
                    wait *= 2
            # Each finishes what it has in hand (the dialler: the originates sent) and returns.
            gevent.joinall(companions, timeout=self.settings.lease_seconds)
        finally:
            if lock is not None:
                lock.release()
            self._close_senders()
        log.info("worker %s stopped", self.name)

    def _close_senders(self) -> None:
        """Close the connections senders keep between rows (SMTP, the SMS gateway's keep-alive)."""
        for sender in self.senders.values():
            close = getattr(sender, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception as exc:  # stopping anyway; a far end that is gone is no news
                log.debug("closing the %s sender: %s", sender.kind, exc)

    def _idle(self, seconds: float) -> None:
        """Wait for due rows while gevent's hub runs: the live link of the callback sender (a
        greenlet) keeps reading FreeSWITCH's events and reconnecting meanwhile."""
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            gevent.sleep(min(0.1, max(deadline - time.monotonic(), 0)))

    def stop(self) -> None:
        """Finish the row in hand (if any), then leave ``run``."""
        self.stopping.set()

    def stop_on_signals(self) -> None:
        """SIGTERM/SIGINT call ``stop``: the row being sent is completed and recorded first."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("%s: finishing the row in hand, then stopping", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
