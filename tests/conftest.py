"""Shared fixtures: databases (SQLite and PostgreSQL) and the recorded ESL traces.

Fixtures
--------
``pg_url``            SQLAlchemy URL of the PostgreSQL admin database (session). Skips the test when the
                      server is unreachable, or fails it when ``FSIVR_REQUIRE_POSTGRES=1``.
``pg_database``       URL of a fresh, uniquely named, empty PostgreSQL database for one test; dropped after.
``pg_module_database`` the same, shared by the tests of one module.
``sqlite_url``        URL of an SQLite file in the test's tmp_path.
``db_url``            parametrised over ``sqlite`` and ``postgres``: a fresh empty database of each kind.
``traces_dir``        Path of the real FreeSWITCH ESL traces (``FSIVR_TRACES`` or ``../shared/esl-traces``).
``connect_reply``     the CHANNEL_DATA reply a real FreeSWITCH sent to ``connect`` (trace 01-connect), for
                      tests that play FreeSWITCH on a raw socket (tests/eslpeer.py).
``repo_root``         Path of the repository.
``office``            the office scenario (``office_bundle``) in the real server, on SQLite and PostgreSQL (module).

Environment
-----------
``FSIVR_TEST_PG_URL``       PostgreSQL URL (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``).
``FSIVR_REQUIRE_POSTGRES``  ``1`` (as in ``.ci/run``): PostgreSQL must be there; a test skipped for a
                            PostgreSQL reason fails, and so does the session.
``FSIVR_TRACES``            directory of the ESL traces.

Tests that use ``pg_url`` (directly or through another fixture) get the ``postgres`` marker, so
``pytest -m "not postgres"`` runs without a server.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fsivr.testing.harness import Harness

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Every database the fixtures create starts with this, so leftovers are easy to find and drop.
TEST_DB_PREFIX = "fsivr_test_"
CONNECT_TIMEOUT_S = 2

_TRUE = {"1", "true", "yes", "on"}
_PG_REASON = re.compile(r"postgres|psycopg", re.IGNORECASE)

# URL -> None when reachable, else the reason; probed once per session and URL.
_probe_cache: dict[str, str | None] = {}
_postgres_skips: list[str] = []


#: Where fsivr caches rendered TTS when prompts_dir is the default, relative "prompts" and the
#: process runs in the checkout: a test must render into a prompts directory of its own.
REPO_TTS_CACHE = REPO_ROOT / "prompts" / "_tts"


def _tts_cache_files() -> set[str]:
    try:
        return set(os.listdir(REPO_TTS_CACHE))
    except FileNotFoundError:
        return set()


@pytest.fixture(autouse=True)
def _no_tts_into_the_checkout() -> Iterator[None]:
    """Fail the test that renders text into the repository's prompts/_tts (it would leave files in
    the checkout, and its result would depend on what earlier runs had cached there)."""
    before = _tts_cache_files()
    yield
    written = sorted(_tts_cache_files() - before)
    assert not written, (f"this test rendered TTS into the checkout's {REPO_TTS_CACHE}: {written}; give its "
                         f"Config a prompts_dir under tmp_path")


def require_postgres() -> bool:
    return os.environ.get("FSIVR_REQUIRE_POSTGRES", "").strip().lower() in _TRUE


def pg_test_url() -> str:
    return os.environ.get("FSIVR_TEST_PG_URL") or DEFAULT_PG_URL


def libpq_conninfo(url: str) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://...``) as a libpq URI psycopg accepts."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def probe_postgres(url: str) -> str | None:
    """None when a connection to ``url`` works within the timeout, else why it does not."""
    if url not in _probe_cache:
        try:
            import psycopg

            with psycopg.connect(libpq_conninfo(url), connect_timeout=CONNECT_TIMEOUT_S) as conn:
                conn.execute("SELECT 1")
            _probe_cache[url] = None
        except Exception as exc:
            _probe_cache[url] = _one_line(exc)
    return _probe_cache[url]


@contextmanager
def fresh_pg_database(admin_url: str) -> Iterator[str]:
    """Create an empty uniquely named database next to ``admin_url``; yield its URL; drop it after."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = f"{TEST_DB_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:10]}"
    # template0: nobody is ever connected to it, so concurrent CREATEs (xdist, several runs) cannot
    # trip over "source database template1 is being accessed by other users".
    with psycopg.connect(libpq_conninfo(admin_url), connect_timeout=CONNECT_TIMEOUT_S,
                         autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'")
                      .format(sql.Identifier(name)))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_pg_database(admin_url, name)


def drop_pg_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(libpq_conninfo(admin_url), connect_timeout=CONNECT_TIMEOUT_S,
                         autocommit=True) as admin:
        try:
            # FORCE (PostgreSQL >= 13) ends connections a test left open (e.g. an engine's pool).
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        except psycopg.errors.SyntaxError:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                          (name,))
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


# --------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = pg_test_url()
    reason = probe_postgres(url)
    if reason is not None:
        message = f"PostgreSQL not reachable at {safe_url(url)}: {reason}"
        if require_postgres():
            pytest.fail(f"{message} (FSIVR_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(message)
    return url


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[str]:
    with fresh_pg_database(pg_url) as url:
        yield url


@pytest.fixture(scope="module")
def pg_module_database(pg_url: str) -> Iterator[str]:
    with fresh_pg_database(pg_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fsivr.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh empty database: an SQLite file, then a PostgreSQL database (ids [sqlite], [postgres])."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_database")


#: The SIP realm of the test PBX: SIP passwords are stored and rendered as their a1-hash for it
#: (fsivr.store.secrets), and `fsivr import` refuses passwords without one. Set for the whole
#: session (servers the tests start inherit it); tests of the refusal remove it.
TEST_SIP_REALM = "pbx.fsivr.test"


@pytest.fixture(scope="session", autouse=True)
def sip_realm() -> Iterator[str]:
    before = os.environ.get("FSIVR_SIP_REALM")
    os.environ["FSIVR_SIP_REALM"] = before or TEST_SIP_REALM
    yield os.environ["FSIVR_SIP_REALM"]
    if before is None:
        os.environ.pop("FSIVR_SIP_REALM", None)


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    path = Path(os.environ.get("FSIVR_TRACES") or REPO_ROOT.parent / "shared" / "esl-traces")
    if not path.is_dir():
        pytest.skip(f"ESL traces not found at {path} (set FSIVR_TRACES to their directory)")
    return path


@pytest.fixture(scope="session")
def connect_reply(traces_dir: Path) -> bytes:
    for line in (traces_dir / "01-connect.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("dir") == "recv" and rec["conn"] == "outbound#1":
            return rec["data"].encode("latin-1")  # the first message: the CHANNEL_DATA reply
    raise AssertionError("no connect reply in trace 01")


# ------------------------------------------------------------------------------------------ hooks


def pytest_configure(config: pytest.Config) -> None:
    # Also declared in setup.cfg; repeated here so this conftest works on its own (tests/test_infra.py
    # runs it in a bare directory).
    config.addinivalue_line("markers", "postgres: needs the PostgreSQL server")


#: The files whose tests take longest (mostly waiting on real seconds or child processes), run
#: first: pytest-xdist (``make test`` runs several workers) hands tests out in collection order, so a
#: long test that came last would keep one worker busy after the others are done.
LONG_FIRST = (
    "tests/worker/test_campaign_process.py", "tests/engine/test_soak.py", "tests/bench/",
    "tests/nodes/test_lookup.py", "tests/cli/test_simulate.py", "tests/worker/test_worker_process.py",
    "tests/render/test_sip_secrets.py", "tests/cli/test_prompts.py", "tests/cli/test_table.py",
    "tests/esl/test_frame_fuzz.py", "tests/esl/test_server_fuzz.py", "tests/nodes/test_queue",
    "tests/cli/test_serve.py",
)


def _long_first(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next((i for i, prefix in enumerate(LONG_FIRST) if path.startswith(prefix)), len(LONG_FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
    items.sort(key=_long_first)  # stable: the order within a file and among the rest is kept


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Under FSIVR_REQUIRE_POSTGRES=1 a skip for a PostgreSQL reason is a failure, whoever skipped."""
    report: pytest.TestReport = yield
    if report.skipped and not hasattr(report, "wasxfail") and require_postgres():
        reason = _skip_reason(report)
        if _PG_REASON.search(reason):
            _postgres_skips.append(f"{item.nodeid}: {reason}")
            report.outcome = "failed"
            report.longrepr = f"FSIVR_REQUIRE_POSTGRES=1, but the test was skipped: {reason}"
    return report


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _postgres_skips:
        terminalreporter.section("skipped for PostgreSQL under FSIVR_REQUIRE_POSTGRES=1", red=True)
        for line in _postgres_skips:
            terminalreporter.line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _postgres_skips and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# ------------------------------------------------------------------------------ the office scenario

#: Office hours, a menu, templates, a goto to a second scenario that exits: the runner's tests
#: (tests/engine/test_runner.py) and the node tests of those types (tests/nodes/) call it.
OFFICE = """
prompts:
  - {name: welcome, text: "Welcome to the office"}
scenarios:
  - scenario: main
    numbers: ["100"]
    start: hours
    nodes:
      hours:
        type: time_condition
        timezone: Europe/Warsaw
        rules: [{days: mon-fri, hours: "08:00-16:00"}]
        holidays: ["2026-12-25"]
        match: welcome
        nomatch: closed
      welcome: {type: play, prompt: welcome, next: greet}
      greet: {type: set, variables: {greeting: "Hello {{ caller }}", plain: "x{{ number }}"}, next: menu}
      menu:
        type: menu
        text: "Press 1 for sales, 2 for information"
        options: {"1": sales, "2": info}
        input_timeout: 4
        max_attempts: 2
        invalid_text: "That key is not in the menu"
        timeout: bye
        invalid: sorry
      sales: {type: play, text: "Connecting you to sales", next: bye}
      info: {type: goto, scenario: info}
      sorry: {type: hangup, cause: CALL_REJECTED}
      closed: {type: play, text: "We are closed", next: bye}
      bye: {type: hangup}
  - scenario: info
    numbers: ["200"]
    start: about
    nodes:
      about: {type: play, text: "We sell telephones", next: leave}
      leave: {type: exit}
"""


@pytest.fixture(scope="session")
def office_bundle() -> str:
    return OFFICE


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def office(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The office scenario in the real server, on SQLite and on PostgreSQL."""
    from fsivr.config import Config
    from fsivr.testing.harness import running

    url = None if request.param == "sqlite" else request.getfixturevalue("pg_module_database")
    with running(OFFICE, database_url=url, config=Config()) as harness:
        yield harness
