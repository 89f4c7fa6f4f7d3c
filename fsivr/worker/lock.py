"""One worker per SQLite database: an OS file lock next to the database file.

SQLite has no ``SELECT … FOR UPDATE SKIP LOCKED``, so two workers on one file could both pick a
row between reading and leasing it; rather than make leasing slower for everyone, a second worker
is refused. Why a file lock (``flock``) and not a lock row in the database: the kernel releases it
the moment its process dies, SIGKILL included, so a restarted worker never waits for a stale lock to
expire, and the holder knows for certain that no other worker is alive — which lets it take back a
dead worker's leased rows at once (``outbox.expire_leases``). The lock file sits beside the database
because that is the one path every process using the database agrees on (SQLite itself keeps its
``-wal``/``-shm`` files there). Like SQLite's own locking, it needs a local file system.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import URL


class AnotherWorker(RuntimeError):
    """A worker already runs on this SQLite database."""


def lock_path(url: URL) -> Path | None:
    """Where the lock of an SQLite database lives; None for in-memory databases (private to a
    process, nothing to share)."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve().with_name(Path(database).name + ".worker-lock")


class SqliteWorkerLock:
    """Held for the worker's lifetime; ``acquire`` raises AnotherWorker naming the holder's pid."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.path = lock_path(url)
        self._fd: int | None = None

    def acquire(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            where = self.url.render_as_string(hide_password=True)
            raise AnotherWorker(
                f"another fsivr worker (pid {holder}) is already processing the outbox of {where}; "
                f"on SQLite only one worker may run (lock {self.path}); use PostgreSQL for several"
            ) from None
        # The pid is for the message above only; the lock is the flock, not the file's content.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> SqliteWorkerLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
