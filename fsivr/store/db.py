"""The database handle: engine, sessions, and running DB work off the gevent hub."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import gevent
from gevent.threadpool import ThreadPool
from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# Registers the Session events that bump the change counters on every directory/scenario write.
import fsivr.store.versions  # noqa: F401

T = TypeVar("T")

DEFAULT_URL = "sqlite:///var/fsivr.sqlite3"
URL_ENV = "FSIVR_DATABASE_URL"
#: Benchmark aid (bench/): append one line per SQL statement executed to this file, so the
#: benchmark can count database round trips of a running ``fsivr serve`` from outside it.
SQL_LOG_ENV = "FSIVR_SQL_LOG"
#: Seconds libpq may take to connect to PostgreSQL (unless the URL sets ``connect_timeout``).
#: Without it a database host that drops packets blocks a threadpool thread for the kernel's TCP
#: timeout (minutes) per connection attempt, and a few of those wedge every call's DB work.
PG_CONNECT_TIMEOUT = 5


def default_url() -> str:
    return os.environ.get(URL_ENV) or DEFAULT_URL


class Store:
    """One database. Create one per process and share it.

    A running server reaches the database only through :meth:`run`: drivers block in C (sqlite3,
    libpq), which would stall every call's greenlet if done on the hub.
    """

    def __init__(self, url: str | None = None, *, ping_idle: float | None = None, **engine_kwargs: Any) -> None:
        """``ping_idle``: instead of pinging the server at every checkout of a pooled connection
        (``pool_pre_ping``, one round trip each time), ping only a connection that sat in the
        pool at least that many seconds — the ones a server restart or a firewall may have cut
        while nobody used them. For a process that runs short transactions back to back (the
        worker: ~0.3 ms of CPU per checkout was the ping, bench/outbox.py); a connection that
        dies while in use raises an OperationalError as it does with the pre-ping."""
        self.url = make_url(url or default_url())
        if self.url.get_backend_name() == "postgresql" and "connect_timeout" not in self.url.query:
            # A libpq connection parameter; SQLAlchemy passes the URL's query to psycopg.
            self.url = self.url.update_query_dict({"connect_timeout": str(PG_CONNECT_TIMEOUT)})
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if self.url.get_backend_name() == "sqlite":
            database = self.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # Sessions run on threadpool threads, never two at once on one connection.
            kwargs["connect_args"] = {"check_same_thread": False}
            kwargs.pop("pool_pre_ping")
        if ping_idle is not None and "pool_pre_ping" in kwargs:
            kwargs["pool_pre_ping"] = False
        else:
            ping_idle = None
        kwargs.update(engine_kwargs)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if ping_idle is not None:
            _ping_when_idle(self.engine, ping_idle)
        if self.url.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if os.environ.get(SQL_LOG_ENV):
            _log_statements(self.engine, os.environ[SQL_LOG_ENV])
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._background: ThreadPool | None = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """One transaction on a plain connection (Core statements, no ORM session), committed on
        success and rolled back on error: the worker's per-row writes (fsivr/worker/loop.py)."""
        with self.engine.begin() as conn:
            yield conn

    def run(self, fn: Callable[[Session], T], *, background: bool = False) -> T:
        """Run ``fn(session)`` in one transaction on gevent's threadpool; the calling greenlet waits,
        the hub does not. Exceptions from ``fn`` are raised here.

        ``background``: work no call is waiting for (the call-record writer's batches) runs on a
        thread of its own at a lower scheduling priority (nice +BACKGROUND_NICE), so that on a busy
        core the hub, which serves every call, gets the CPU first: each batch took ~3 ms of CPU
        which, on the server's core, was the tail of every other call's step latency (bench/)."""

        def job() -> T:
            with self.session() as session:
                return fn(session)

        return in_pool(job, self._background_pool() if background else None)

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema (alembic) to ``revision``."""
        from fsivr.store.migrate import upgrade

        upgrade(self.engine, revision)

    def _background_pool(self) -> ThreadPool:
        if self._background is None:
            self._background = ThreadPool(1)
            self._background.apply(_lower_priority)
        return self._background

    def close(self) -> None:
        if self._background is not None:
            self._background.kill()
            self._background = None
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"


#: Where a pooled connection keeps when it was last given back (``_ping_when_idle``).
_IDLE_SINCE = "fsivr_idle_since"


def _ping_when_idle(engine: Engine, idle: float) -> None:
    """Ping a connection at checkout only when it was given back ``idle`` seconds ago or more; a
    failed ping makes the pool drop it and connect afresh (SQLAlchemy's DisconnectionError
    protocol, as pool_pre_ping does)."""

    def checkin(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < idle:
            return  # a new connection, or one given back a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as err:
            raise exc.DisconnectionError(f"the pooled connection is dead: {err}") from err

    event.listen(engine, "checkin", checkin)
    event.listen(engine, "checkout", checkout)


def _log_statements(engine: Engine, path: str) -> None:
    """One line per statement: wall time, rows it carries (executemany, or the VALUES groups of a
    multi-row insert), the statement's first 200 chars."""
    import time

    # O_APPEND writes of one short line are atomic, so threadpool threads need no lock.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def before(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, many: bool) -> None:
        rows = len(params) if many and params is not None else statement.count("), (") + 1
        text = " ".join(statement.split())[:200]
        os.write(fd, f"{time.time():.6f}\t{rows}\t{text}\n".encode())

    event.listen(engine, "before_cursor_execute", before)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        # SQLite ignores foreign keys unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL: readers (servers polling versions) never block the call-record writer and vice versa;
        # synchronous=NORMAL is durable across application crashes and is what WAL is meant for.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


def in_pool(fn: Callable[[], T], pool: ThreadPool | None = None) -> T:
    """``fn()`` on a thread of ``pool`` (default: the hub's threadpool); the calling greenlet
    waits, the hub does not. Exceptions from ``fn`` are raised here: they travel back as values,
    since raised inside the pool gevent would also print each one (an import rejected by
    validation, a retried write, a gateway's 503) as if it were a crash."""

    def job() -> tuple[bool, Any]:
        try:
            return True, fn()
        except Exception as exc:
            return False, exc

    # not ``pool or ...``: an idle ThreadPool is empty, so false
    ok, value = (gevent.get_hub().threadpool if pool is None else pool).apply(job)
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


#: How much lower than the process the background writer thread runs (Linux nice; +10 leaves it
#: ~10% of a core the hub also wants, and all of an idle one).
BACKGROUND_NICE = 10


def _lower_priority() -> None:
    """Runs on the background thread itself: Linux schedules threads, and setpriority(2) with a
    thread id sets that thread's nice value (raising it needs no privilege)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
    except (OSError, AttributeError):
        pass  # not Linux, or refused: the writer then runs at the process's priority
