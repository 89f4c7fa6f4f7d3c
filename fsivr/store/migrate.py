"""Running the alembic migrations in migrations/ programmatically (``fsivr db upgrade``).

alembic is imported by the functions that use it (upgrade, downgrade, the head revision), not by
this module: importing it costs a quarter of a second, and reading the current revision does not
need it.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

#: migrations/ sits beside the package in the source tree (an editable install uses it in place).
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _import_alembic() -> None:
    """Import alembic, without the lines it logs while it does (one INFO "setup plugin ..." per
    built-in plugin). Imported on first use, it comes after the command has set logging up, and
    every command that checks the schema would print them."""
    if "alembic" in sys.modules:
        return
    plugins = logging.getLogger("alembic.runtime.plugins")
    was, plugins.disabled = plugins.disabled, True
    try:
        import alembic  # noqa: F401
    finally:
        plugins.disabled = was


def alembic_config(engine: Engine | None = None) -> Config:
    if not (MIGRATIONS / "env.py").is_file():
        raise RuntimeError(f"alembic migrations not found at {MIGRATIONS} "
                           "(install fsivr from its source tree: `pip install -e .`)")
    _import_alembic()
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # env.py takes the engine from here rather than from a URL: URLs may hold '%' that the ini
    # parser would choke on, and the caller's engine already has its connect hooks.
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    _import_alembic()
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    _import_alembic()
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    # Read alembic's table directly: MigrationContext would log its set-up at INFO on every command.
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


_REVISION = re.compile(r"^revision(?:\s*:[^=\n]*)?\s*=\s*['\"]([^'\"]+)['\"]\s*$", re.M)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:[^=\n]*)?\s*=\s*(?:None|['\"]([^'\"]+)['\"])\s*$", re.M)
_BRANCHES = re.compile(r"^(?:branch_labels|depends_on)(?:\s*:[^=\n]*)?\s*=\s*(?!\s|None\s*$)", re.M)


def declared_head(versions: Path = MIGRATIONS / "versions") -> str | None:
    """The head revision as the migration files declare it, read as text: every command that opens
    a database checks it, and asking alembic costs ~0.25 s of imports per command. None where the
    files say something this reader does not follow (several heads, a merge's tuple of down
    revisions, branch labels, a revision it cannot find): then alembic decides."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in versions.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        rev, down = _REVISION.findall(text), _DOWN_REVISION.findall(text)
        if len(rev) != 1 or len(down) != 1 or _BRANCHES.search(text):
            return None
        revisions.add(rev[0])
        if down[0]:
            downs.add(down[0])
    heads = revisions - downs
    if len(heads) != 1 or not downs <= revisions:
        return None
    return heads.pop()


def head_revision() -> str | None:
    declared = declared_head()
    if declared is not None:
        return declared
    _import_alembic()
    from alembic.script import ScriptDirectory

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
