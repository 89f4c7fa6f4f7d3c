"""Tests of the test infrastructure itself: tests/conftest.py, the demo bundle, the prompts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFTEST = Path(__file__).resolve().parent / "conftest.py"
# Nothing listens on port 1: the connection is refused at once.
UNREACHABLE_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:1/test"


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _existing_databases(pg_url: str) -> set[str]:
    with psycopg.connect(_conninfo(pg_url), connect_timeout=2) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


# ---------------------------------------------------------------------------------- PostgreSQL


def test_pg_url_connects(pg_url: str) -> None:
    with psycopg.connect(_conninfo(pg_url), connect_timeout=2) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_pg_database_is_fresh_and_usable(pg_url: str, pg_database: str) -> None:
    name = make_url(pg_database).database
    assert name != make_url(pg_url).database
    assert name.startswith("fsivr_test_")
    assert name in _existing_databases(pg_url)
    # The engine is not disposed on purpose: its pooled connection stays open and the drop must
    # force it out (test_pg_database_is_dropped_after_each_test checks the drop).
    engine = sa.create_engine(pg_database)
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT current_database()")).scalar() == name
        tables = conn.execute(sa.text(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")).scalar()
        assert tables == 0
        conn.execute(sa.text("CREATE TABLE t (x int)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))


def test_pg_module_database(pg_module_database: str) -> None:
    with psycopg.connect(_conninfo(pg_module_database), connect_timeout=2) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0].startswith("fsivr_test_")


# ------------------------------------------------------------------------- SQLite and db_url


def test_sqlite_url(sqlite_url: str, tmp_path: Path) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x int)"))
    engine.dispose()
    assert Path(make_url(sqlite_url).database).parent == tmp_path


def test_db_url_is_fresh(db_url: str, request: pytest.FixtureRequest) -> None:
    kind = request.node.callspec.params["db_url"]
    engine = sa.create_engine(db_url)
    try:
        assert engine.dialect.name == {"sqlite": "sqlite", "postgres": "postgresql"}[kind]
        assert sa.inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (x int)"))
        assert sa.inspect(engine).get_table_names() == ["t"]
    finally:
        engine.dispose()


def test_db_url_postgres_param_is_marked(request: pytest.FixtureRequest) -> None:
    # Tests using pg_url (even indirectly) carry the postgres marker, so -m "not postgres" works.
    items = [i for i in request.session.items if i.originalname == "test_pg_url_connects"]
    assert items and all(i.get_closest_marker("postgres") for i in items)
    params = {i.callspec.params["db_url"]: i for i in request.session.items
              if i.originalname == "test_db_url_is_fresh"}
    assert params["postgres"].get_closest_marker("postgres")
    assert params["sqlite"].get_closest_marker("postgres") is None


# ------------------------------------------------------------------------------------ traces


def test_traces_dir(traces_dir: Path) -> None:
    assert (traces_dir / "README.md").is_file()
    assert list(traces_dir.glob("*.jsonl"))


# ------------------------------------------------------------- conftest in a pytest subprocess


def _run_pytest(tmp_path: Path, test_source: str, *, pg_url: str | None = None,
                require: bool = False, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run a tiny test file with our conftest in a bare directory, in a subprocess."""
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -ra -p no:cacheprovider\n")
    (tmp_path / "test_tiny.py").write_text(textwrap.dedent(test_source))
    env = {k: v for k, v in os.environ.items()
           if k not in ("FSIVR_REQUIRE_POSTGRES", "FSIVR_TEST_PG_URL", "PYTEST_ADDOPTS")}
    if pg_url is not None:
        env["FSIVR_TEST_PG_URL"] = pg_url
    if require:
        env["FSIVR_REQUIRE_POSTGRES"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", *args, str(tmp_path)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)


PG_TESTS = """
    def test_uses_postgres(pg_url):
        pass

    def test_uses_db_url(db_url):
        pass

    def test_plain():
        pass
"""


def test_unreachable_postgres_skips(tmp_path: Path) -> None:
    res = _run_pytest(tmp_path, PG_TESTS, pg_url=UNREACHABLE_PG_URL)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "3 passed" not in out and "2 passed, 2 skipped" in out, out
    assert "PostgreSQL not reachable at postgresql+psycopg://postgres@127.0.0.1:1/test" in out, out


def test_unreachable_postgres_fails_when_required(tmp_path: Path) -> None:
    res = _run_pytest(tmp_path, PG_TESTS, pg_url=UNREACHABLE_PG_URL, require=True)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "2 passed, 2 errors" in out, out
    assert "skipped" not in out.splitlines()[-1], out
    assert "PostgreSQL not reachable at" in out and "FSIVR_REQUIRE_POSTGRES=1" in out, out


def test_password_is_hidden_in_messages(tmp_path: Path) -> None:
    res = _run_pytest(tmp_path, PG_TESTS, pg_url="postgresql+psycopg://u:s3cret@127.0.0.1:1/test")
    out = res.stdout + res.stderr
    assert "PostgreSQL not reachable at postgresql+psycopg://u:***@127.0.0.1:1/test" in out, out
    assert "s3cret" not in out


def test_not_postgres_marker_deselects(tmp_path: Path) -> None:
    res = _run_pytest(tmp_path, PG_TESTS, pg_url=UNREACHABLE_PG_URL, require=True,
                      args=("-m", "not postgres"))
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "2 passed, 2 deselected" in out, out


HAND_SKIPS = """
    import pytest

    def test_own_postgres_skip():
        pytest.skip("PostgreSQL server too old")

    def test_other_skip():
        pytest.skip("sox not installed")

    @pytest.mark.xfail(reason="postgres feature not written yet")
    def test_xfail():
        raise NotImplementedError
"""


def test_postgres_skip_by_hand_is_a_skip_normally(tmp_path: Path) -> None:
    res = _run_pytest(tmp_path, HAND_SKIPS)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "2 skipped, 1 xfailed" in out, out


def test_postgres_skip_by_hand_fails_when_required(tmp_path: Path) -> None:
    res = _run_pytest(tmp_path, HAND_SKIPS, require=True)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    # The PostgreSQL skip fails; an unrelated skip and an xfail stay what they are.
    assert "1 failed, 1 skipped, 1 xfailed" in out, out
    assert "skipped for PostgreSQL under FSIVR_REQUIRE_POSTGRES=1" in out, out
    assert "PostgreSQL server too old" in out, out


def test_pg_database_is_dropped_after_each_test(tmp_path: Path, pg_url: str) -> None:
    names = tmp_path / "names.txt"
    source = f"""
        from sqlalchemy.engine import make_url

        def _note(url):
            with open({str(names)!r}, "a") as f:
                f.write(make_url(url).database + "\\n")

        def test_one(pg_database):
            _note(pg_database)

        def test_two(pg_database):
            _note(pg_database)

        def test_three(db_url):
            if db_url.startswith("postgresql"):
                _note(db_url)
                # left open on purpose: the drop must end it
                import psycopg
                globals()["_open"] = psycopg.connect(db_url.replace("+psycopg", ""))
    """
    (tmp_path / "run").mkdir()
    res = _run_pytest(tmp_path / "run", source, pg_url=pg_url, require=True)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "4 passed" in out, out
    created = [n for n in names.read_text().splitlines() if n.startswith("fsivr_test_")]
    assert len(created) == 3 and len(set(created)) == 3, created
    assert not set(created) & _existing_databases(pg_url)


# ------------------------------------------------------------------------- demo bundle, prompts

ALLOWED_DEMO_TYPES = {"time_condition", "play", "menu", "set", "goto", "exit", "hangup", "dial"}
OUTCOMES = {
    "time_condition": {"match", "nomatch"},
    "play": {"next"},
    "set": {"next"},
    "menu": {"timeout", "invalid", "extension"},
    "dial": {"answered", "no_answer", "busy", "failed"},
    "goto": set(),
    "exit": set(),
    "hangup": set(),
}
PARAMS = {
    "time_condition": {"timezone", "rules", "holidays", "override"},
    "play": {"prompt", "text", "language", "voice", "rate", "volume", "duration", "answer"},
    "set": {"variables"},
    "menu": {"prompt", "options", "input_timeout", "digit_timeout", "max_attempts", "invalid_prompt",
             "allow_extension"},
    "dial": {"targets", "strategy", "ring_timeout", "caller_id", "record"},
    "goto": {"scenario"},
    "exit": set(),
    "hangup": {"cause"},
}


def test_demo_bundle_is_consistent() -> None:
    bundle = yaml.safe_load((REPO_ROOT / "examples" / "demo.yaml").read_text())
    assert {"accounts", "prompts", "scenarios"} <= set(bundle)
    prompts = {p["name"] for p in bundle["prompts"]}
    users = {a["user"] for a in bundle["accounts"]}
    assert {"101", "102"} <= users
    scenarios = {s["scenario"]: s for s in bundle["scenarios"]}
    numbers = [n["number"] if isinstance(n, dict) else n for s in scenarios.values() for n in s.get("numbers", [])]
    assert {"7000", "+48221234000"} <= set(numbers) and len(numbers) == len(set(numbers))
    # Numbers a stock FreeSWITCH sends elsewhere before fsivr's dialplan (README: Connecting FreeSWITCH).
    from fsivr.render.stock import VANILLA_SHADOWS

    assert not [n for n in numbers for shadow in VANILLA_SHADOWS["public"] if shadow.takes(n)]
    for s in scenarios.values():
        nodes = s["nodes"]
        assert s["start"] in nodes
        for node_id, node in nodes.items():
            where = f"{s['scenario']}.{node_id}"
            kind = node["type"]
            assert kind in ALLOWED_DEMO_TYPES, where
            keys = set(node) - {"type", "options"}
            assert keys <= PARAMS[kind] | OUTCOMES[kind] | {"next", "error"}, where
            edges = [node[k] for k in keys & (OUTCOMES[kind] | {"next", "error"})]
            edges += list(node.get("options", {}).values())
            assert all(e in nodes for e in edges), where
            for key in ("prompt", "invalid_prompt"):
                if key in node:
                    assert node[key] in prompts, where
            if kind == "goto":
                assert node["scenario"] in scenarios, where
            if kind == "dial":
                assert all(t.startswith("sip:") and t[4:] in users for t in node["targets"]), where
            if kind == "menu":
                assert all(isinstance(k, str) for k in node["options"]), where


@pytest.mark.parametrize("name", ["welcome.wav", "goodbye.wav"])
def test_demo_prompt_files(name: str) -> None:
    path = REPO_ROOT / "prompts" / name
    assert path.stat().st_size < 100_000
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        assert w.getframerate() in (8000, 16000)
        assert w.getnframes() > w.getframerate() // 2
