"""Engine, transactions and process liveness shared by every part of the store."""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Self, TypeVar

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from bot.store import migrate
from bot.store.bulk import BulkIngest
from bot.store.engine import READ_ONLY, SqliteWriteLock, is_sqlite, make_engine
from bot.store.messages import COMPOSING
from bot.store.migrate import SchemaStatus
from bot.store.tables import alerts, inbox, workers

T = TypeVar("T")


class StoreBase:
    """The engine, write serialisation, liveness of processes, and schema creation."""

    def __init__(self, engine: Engine, stale_after_s: float = 30.0):
        self.engine = engine
        self.stale_after_s = stale_after_s
        self.sqlite = is_sqlite(engine)
        # SQLite has one writer at a time; see SqliteWriteLock for why writers queue here.
        self._write_lock = SqliteWriteLock(engine.url.database or "") if self.sqlite else None
        # Only the dialect in use is imported (PostgreSQL's takes a noticeable part of start-up).
        dialect = importlib.import_module(f"sqlalchemy.dialects.{'sqlite' if self.sqlite else 'postgresql'}")
        self._insert = dialect.insert
        self._bulk = BulkIngest(engine, self.sqlite, self._write_lock)
        # Whether the event loop calls the store itself rather than on a thread (`call`): set for a
        # worker process on SQLite, whose statements take microseconds, less than a thread hop, and
        # whose loop answers no HTTP meanwhile.
        self.on_loop = False

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` for the event loop: on a thread, or on the loop itself when `on_loop`."""
        if self.on_loop:
            return fn(*args)
        return await asyncio.to_thread(fn, *args)

    @classmethod
    def from_url(cls, url: str, stale_after_s: float = 30.0, **engine_options: Any) -> Self:
        return cls(make_engine(url, **engine_options), stale_after_s=stale_after_s)

    def upgrade(self) -> SchemaStatus:
        """Create the schema, or bring an older one up to date (bot/store/migrate.py); returns where
        it stood. SchemaTooNew, with nothing touched, when a newer release upgraded it."""
        with self._write() as conn:
            return migrate.upgrade(conn)

    def schema_status(self) -> SchemaStatus:
        """Where the schema stands, read only."""
        with self._read() as conn:
            return migrate.status(conn)

    def dispose(self) -> None:
        self._bulk.close()
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    def _read(self) -> Any:
        """A connection for reading. On PostgreSQL each statement is its own transaction
        (autocommit): a read then costs one round trip instead of three (BEGIN, the read, ROLLBACK),
        and every read here is one statement or tolerates the statements seeing different commits."""
        if self.sqlite:
            return self.engine.connect().execution_options(**READ_ONLY)
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT", **READ_ONLY)

    def checkpoint(self) -> None:
        """Copy the SQLite write-ahead log into the database without blocking writers (PASSIVE)."""
        if not self.sqlite:
            return
        conn = self.engine.raw_connection()  # outside any transaction, as a checkpoint must be
        try:
            conn.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()

    # -- health -----------------------------------------------------------------------------------
    def ping(self) -> None:
        with self._read() as conn:
            conn.exec_driver_sql("SELECT 1")

    # -- liveness ---------------------------------------------------------------------------------
    def heartbeat(self, worker: str) -> None:
        """Say this process is alive: its claims stay its own while its heartbeat is fresh."""
        now = time.time()
        stmt = self._insert(workers).values(id=worker, heartbeat_at=now, started_at=now)
        stmt = stmt.on_conflict_do_update(index_elements=[workers.c.id], set_={"heartbeat_at": now})
        with self._write() as conn:
            conn.execute(stmt)
            conn.execute(delete(workers).where(workers.c.heartbeat_at < now - 86400))

    def retire(self, worker: str) -> None:
        """A clean shutdown: hand back unfinished claims at once instead of waiting for staleness."""
        with self._write() as conn:
            conn.execute(
                update(inbox)
                .where(inbox.c.claimed_by == worker, inbox.c.status == "claimed")
                .values(status="pending", claimed_by=None, lease_until=None)
            )
            conn.execute(
                update(alerts)
                .where(alerts.c.claimed_by == worker, alerts.c.status == "sending")
                .values(status="pending", claimed_by=None, lease_until=None)
            )
            conn.execute(  # a report being composed: the next process composes it
                update(alerts)
                .where(alerts.c.claimed_by == worker, alerts.c.status == COMPOSING)
                .values(claimed_by=None, lease_until=0.0)
            )
            conn.execute(delete(workers).where(workers.c.id == worker))

    def _claim_params(self, now: float, worker: str) -> dict[str, Any]:
        """The values `abandoned()` reads."""
        return {"now": now, "worker": worker, "alive_since": now - self.stale_after_s}


def abandoned(table: Table) -> Any:
    """A claim whose lease ran out by `:now`, or the claim of another process than `:worker` whose
    heartbeat is older than `:alive_since`. Built once per table with bound parameters, as the
    claims that use it run for every batch of events."""
    alive = select(workers.c.id).where(workers.c.heartbeat_at >= bindparam("alive_since"))
    return or_(
        table.c.lease_until < bindparam("now"),
        and_(table.c.claimed_by != bindparam("worker"), table.c.claimed_by.not_in(alive.scalar_subquery())),
    )
