"""Engine construction for SQLite (embedded) and PostgreSQL (several instances) from `DATABASE_URL`.

SQLite runs in WAL mode with `synchronous=FULL`, so a commit that answered a webhook with 202 survives
a crash of the process and of the machine. Writes open with `BEGIN IMMEDIATE`: a transaction that
reads and then writes (claiming work) takes the write lock up front instead of failing half-way.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

READ_ONLY = {"signals_read_only": True}


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
            pool_size=8,
            max_overflow=8,
        )
        busy_ms = int(busy_timeout_s * 1000)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            read_only = conn.get_execution_options().get("signals_read_only", False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        pool_timeout=connect_timeout_s,
        connect_args={"connect_timeout": max(1, int(connect_timeout_s))},
    )


def make_null_pool_engine(url: str) -> Engine:
    """A connection-per-use engine for one-off administrative work (tests, check)."""
    return create_engine(normalise_url(url), poolclass=NullPool)
