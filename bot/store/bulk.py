"""The webhook's hot path: insert-or-ignore many inbox rows in one transaction, at a few microseconds a
row.

SQLAlchemy Core builds every other statement; these use the drivers directly on a connection of their
own (multi-row VALUES on SQLite, `unnest` over binary arrays on PostgreSQL), because building and
compiling a multi-row statement per request was the webhook's largest cost. Column lists come from
the table definitions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Engine

from bot.store.tables import inbox

INBOX_COLUMNS = (
    "uuid",
    "event_name",
    "payload",
    "status",
    "received_at",
    "request_id",
    "attempts",
    "next_attempt_at",
)
_PG_TYPES = {"received_at": "float8", "next_attempt_at": "float8", "attempts": "int4"}
_SQLITE_IN_LIMIT = 500  # uuids per IN (...) lookup, well under SQLite's parameter limit
_SQLITE_MAX_PARAMS = 32_000  # SQLite >= 3.32 allows 32766 bound parameters per statement


def _check(table: Table, columns: tuple[str, ...]) -> None:
    missing = set(columns) - set(table.c.keys())
    if missing:  # pragma: no cover - guards against a schema edit that forgets this module
        raise AssertionError(f"{table.name} has no column(s) {missing}")


_check(inbox, INBOX_COLUMNS)


def _pg_insert(table: Table, columns: tuple[str, ...]) -> str:
    arrays = ", ".join(f"%b::{_PG_TYPES.get(c, 'text')}[]" for c in columns)  # binary: no escaping
    return f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"


_PG_INBOX = _pg_insert(inbox, INBOX_COLUMNS) + " ON CONFLICT (uuid) DO NOTHING RETURNING uuid"


class BulkIngest:
    """A DBAPI connection of its own for the ingest thread: no pool checkout, no per-statement
    bookkeeping, just BEGIN, the bulk statements and COMMIT. Used by one thread at a time."""

    def __init__(self, engine: Engine, sqlite: bool, write_lock: AbstractContextManager[None] | None):
        self._engine = engine
        self._sqlite = sqlite
        self._lock = write_lock or contextlib.nullcontext()
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self._engine.raw_connection()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def insert(self, inbox_rows: Sequence[tuple[Any, ...]]) -> set[str]:
        """Insert the inbox rows whose uuid is new, in one commit; returns their uuids."""
        with self._lock:
            conn = self._connection()
            try:
                cursor = conn.cursor()
                if self._sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                    new = _insert_new_sqlite(cursor, inbox_rows)
                    cursor.execute("COMMIT")
                else:
                    new = _insert_new_postgres(cursor, inbox_rows)
                    conn.commit()
                cursor.close()
                return new
            except BaseException:
                with contextlib.suppress(Exception):
                    if self._sqlite:
                        conn.execute("ROLLBACK")
                    else:
                        conn.rollback()
                self._conn = None
                with contextlib.suppress(Exception):
                    conn.invalidate()
                raise


def _columns(rows: Sequence[tuple[Any, ...]]) -> tuple[list[Any], ...]:
    return tuple(list(column) for column in zip(*rows, strict=True))


def _insert_new_sqlite(cursor: Any, rows: Sequence[tuple[Any, ...]]) -> set[str]:
    """Rows whose uuid is new are inserted; returns their uuids. Exact because the caller holds
    SQLite's write lock (BEGIN IMMEDIATE): nobody can insert between the lookup and the insert."""
    uuids = [row[0] for row in rows]
    existing: set[str] = set()
    for start in range(0, len(uuids), _SQLITE_IN_LIMIT):
        chunk = uuids[start : start + _SQLITE_IN_LIMIT]
        sql = f"SELECT uuid FROM {inbox.name} WHERE uuid IN ({', '.join('?' * len(chunk))})"
        existing.update(r[0] for r in cursor.execute(sql, chunk).fetchall())
    fresh = [row for row in rows if row[0] not in existing]
    _sqlite_insert_many(cursor, inbox, INBOX_COLUMNS, fresh)
    return {row[0] for row in fresh}


def _sqlite_insert_many(
    cursor: Any, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Multi-row INSERT statements rather than executemany: one step per statement means one release
    of the GIL per statement instead of one per row, which keeps the event loop thread running."""
    per_statement = _SQLITE_MAX_PARAMS // len(columns)
    placeholder = "(" + ", ".join("?" * len(columns)) + ")"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql = f"INSERT OR IGNORE INTO {table.name} ({', '.join(columns)}) VALUES " + ", ".join(
            [placeholder] * len(chunk)
        )
        cursor.execute(sql, [value for row in chunk for value in row])


def _insert_new_postgres(cursor: Any, rows: Sequence[tuple[Any, ...]]) -> set[str]:
    """One statement for the whole batch; ON CONFLICT keeps concurrent servers from double-inserting."""
    cursor.execute(_PG_INBOX, _columns(rows))
    return {r[0] for r in cursor.fetchall()}
