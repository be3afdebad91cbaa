"""Engine construction for SQLite (embedded) and PostgreSQL (several instances) from `DATABASE_URL`.

SQLite runs in WAL mode with `synchronous=FULL`, so a commit that answered a webhook with 202 survives
a crash of the process and of the machine. Writes open with `BEGIN IMMEDIATE`: a transaction that
reads and then writes (claiming work) takes the write lock up front instead of failing half-way.
"""

from __future__ import annotations

import fcntl
import os
import threading
from types import TracebackType

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

READ_ONLY = {"signals_read_only": True}
# A PostgreSQL that vanishes without closing the connection (a partition, a dead host) is noticed
# by the kernel within seconds instead of TCP's minutes: keepalive probes on an idle connection, and
# a limit on how long sent data may go unacknowledged. Slow queries are not affected by either.
POSTGRES_LIVENESS = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # milliseconds
}


def normalise_url(url: str) -> str:
    """`postgres://` and `postgresql://` use psycopg 3; everything else is passed through."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, busy_timeout_s: float = 5.0, connect_timeout_s: float = 3.0) -> Engine:
    """An engine with the pragmas and timeouts this app relies on."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        memory = parsed.database in (None, "", ":memory:")
        if memory:
            raise ValueError("an in-memory SQLite database cannot be shared by the worker; use a file")
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
            # One per thread that reads or writes at once (the loop, the default executor's threads,
            # the heartbeat, the ingest writer): a connection opened anew re-reads the schema.
            pool_size=16,
            max_overflow=16,
        )
        busy_ms = int(busy_timeout_s * 1000)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            # No checkpoint inside a writer's commit (it would hold the write lock while it copies
            # pages); the worker checkpoints in the background instead (Store.checkpoint).
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            read_only = conn.get_execution_options().get("signals_read_only", False)
            # On the driver's connection: SQLAlchemy's statement machinery would cost more than BEGIN.
            conn.connection.dbapi_connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(
        url,
        pool_size=16,
        max_overflow=10,
        pool_pre_ping=True,
        pool_timeout=connect_timeout_s,
        connect_args={"connect_timeout": max(1, int(connect_timeout_s)), **POSTGRES_LIVENESS},
    )


class SqliteWriteLock:
    """One writer at a time on a SQLite file, across threads and processes.

    SQLite's own busy handler polls with sleeps that grow to 100 ms, so two processes writing at once
    (the web and the worker process) would keep each other waiting far longer than any transaction
    takes. Writers here queue on a thread lock, then on `flock` of `<database>.lock`, which wakes the
    next writer the moment the lock is free. Tools outside the app still meet SQLite's busy_timeout.
    """

    def __init__(self, database: str):
        self._path = database + ".lock"
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a new process needs its own descriptor
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()
