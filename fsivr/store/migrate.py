"""Running the alembic migrations in migrations/ programmatically (``fsivr db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

#: migrations/ sits beside the package in the source tree (an editable install uses it in place).
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    if not (MIGRATIONS / "env.py").is_file():
        raise RuntimeError(f"alembic migrations not found at {MIGRATIONS} "
                           "(install fsivr from its source tree: `pip install -e .`)")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # env.py takes the engine from here rather than from a URL: URLs may hold '%' that the ini
    # parser would choke on, and the caller's engine already has its connect hooks.
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    # Read alembic's table directly: MigrationContext would log its set-up at INFO on every command.
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


class NotMigrated(ValueError):
    """The database's schema is not the one this fsivr needs (nothing was changed)."""


def require_up_to_date(engine: Engine) -> None:
    """Raise NotMigrated naming the database (password hidden) unless its schema is current.

    Commands that only read a database (serve, simulate by name) check this instead of migrating
    it behind the operator's back."""
    if not is_up_to_date(engine):
        where = engine.url.render_as_string(hide_password=True)
        raise NotMigrated(f"database {where} is not migrated: run `fsivr db upgrade`")
