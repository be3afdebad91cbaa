"""The store's schema version: bring a database up to date, say where it stands, print the SQL.

The schema is versioned with Alembic (bot/store/migrations/). An empty database gets today's tables
and is stamped with the newest revision; a database 0.1.0 created (its tables, no version) is taken as
revision 0001; anything older than the code is upgraded, inside one transaction that holds the
writers' lock on SQLite and an advisory lock on PostgreSQL, so several processes starting at once
upgrade it once. A database newer than the code is refused before anything is touched.

Alembic is imported only when there is something to do: a current database costs one query.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from importlib import resources
from itertools import takewhile
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot import __version__
from bot.store.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

# Oldest first; tests hold this to the scripts in migrations/versions.
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010")
HEAD = REVISIONS[-1]
VERSION_TABLE = "alembic_version"
FIRST_TABLE = "inbox"  # in every schema since 0.1.0: its presence without a version means 0.1.0
ADVISORY_LOCK = 0x7053_5353_6368_656D  # pg_advisory_xact_lock key of this app's schema changes


class SchemaTooNew(Exception):
    """The database was upgraded by a newer release than this one."""

    def __init__(self, found: str):
        super().__init__(
            f"The database's schema is at revision {found}, newer than this posthog-slack-signals "
            f"{__version__} knows (its newest is {HEAD}). Run the release that upgraded it, or restore a "
            "backup taken before; nothing was changed."
        )
        self.found = found


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # None: an empty database
    pending: tuple[str, ...]  # revisions an upgrade would run, oldest first
    versioned: bool = True  # False: 0.1.0's tables without a recorded version

    @property
    def up_to_date(self) -> bool:
        return self.current == HEAD


def status(conn: Connection) -> SchemaStatus:
    """Where the database stands: None when it is empty, 0001 when 0.1.0 created it (its tables, no
    version); SchemaTooNew when a newer release upgraded it."""
    tables = set(inspect(conn).get_table_names())
    found = None
    if VERSION_TABLE in tables:
        found = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    if found is None:
        if FIRST_TABLE not in tables:
            return SchemaStatus(None, REVISIONS)
        return SchemaStatus(REVISIONS[0], REVISIONS[1:], versioned=False)
    if found not in REVISIONS:
        raise SchemaTooNew(str(found))
    return SchemaStatus(found, REVISIONS[REVISIONS.index(found) + 1 :])


def upgrade(conn: Connection) -> SchemaStatus:
    """Bring the database on `conn` up to date, in the caller's transaction (which must hold the
    writers' lock on SQLite); returns where it stood before."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    before = status(conn)
    if before.current is None:
        metadata.create_all(conn)
        _alembic(conn, "stamp", HEAD)
    elif not before.up_to_date:
        if not before.versioned:
            _alembic(conn, "stamp", before.current)
        _alembic(conn, "upgrade", HEAD)
        log.info("schema upgraded from %s to %s", before.current, HEAD, extra={"migrations": before.pending})
    return before


def upgrade_sql(dialect: str, before: SchemaStatus) -> str:
    """The SQL that upgrades a database of `dialect` that stands at `before`, for a DBA to review and
    run. A revision that converts rows in Python (`sql_printable = False` in its script) has no SQL:
    the SQL stops before it and says so, so that a database upgraded by hand still records that
    revision as not yet run, and `migrate` (or `serve`) runs it and those after."""
    from alembic import command
    from alembic.script import ScriptDirectory

    out = io.StringIO()
    config = _config(output=out)
    config.attributes.update(dialect=dialect)
    printable = list(before.pending)
    if before.current is not None:  # an empty database has no rows to convert
        scripts = ScriptDirectory.from_config(config)
        printable = list(
            takewhile(lambda rev: getattr(scripts.get_revision(rev).module, "sql_printable", True), printable)
        )
    if not before.versioned:
        command.stamp(config, str(before.current), sql=True)
    if printable:
        command.upgrade(
            config, f"{before.current}:{printable[-1]}" if before.current else printable[-1], sql=True
        )
    left = before.pending[len(printable) :]
    if left:
        out.write(
            f"-- Revision {left[0]} converts rows in Python, which no SQL can do: once the SQL above\n"
            f"-- has run, `python -m bot migrate` runs {', '.join(left)}.\n"
        )
    return out.getvalue()


def _alembic(conn: Connection, verb: str, target: str) -> None:
    from alembic import command

    config = _config()
    config.attributes["connection"] = conn
    getattr(command, verb)(config, target)


def _config(output: io.StringIO | None = None) -> Config:
    from alembic.config import Config

    config = Config(output_buffer=output) if output is not None else Config()
    config.set_main_option("script_location", str(resources.files("bot.store") / "migrations"))
    return config
