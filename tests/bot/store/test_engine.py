"""The database connection as the app relies on it: every spelling of a PostgreSQL URL reaches
psycopg 3, SQLite is a durable file (WAL, synchronous=FULL) and never in memory, and SQLite writers
queue on a lock that holds across processes."""

from __future__ import annotations

import threading
import time

import pytest

from bot.store.engine import SqliteWriteLock, make_engine, normalise_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@db:5432/signals", "postgresql+psycopg://u@db:5432/signals"),
        ("postgresql://u@db/signals?sslmode=require", "postgresql+psycopg://u@db/signals?sslmode=require"),
        ("postgresql+psycopg://u@db/signals", "postgresql+psycopg://u@db/signals"),
        ("sqlite:////var/lib/signals.db", "sqlite:////var/lib/signals.db"),
    ],
)
def test_postgresql_urls_use_psycopg_3(url, expected):
    assert normalise_url(url) == expected


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_database_is_refused(url):
    with pytest.raises(ValueError, match="in-memory SQLite database cannot be shared"):
        make_engine(url)


def test_sqlite_commits_are_durable(sqlite_url):
    engine = make_engine(sqlite_url, busy_timeout_s=2.5)
    with engine.connect() as conn:
        pragmas = [
            conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "busy_timeout")
        ]
    engine.dispose()
    assert pragmas == ["wal", 2, 2500]  # synchronous=FULL


def test_sqlite_writers_queue_on_a_lock_another_process_would_share(tmp_path):
    database = str(tmp_path / "signals.db")
    mine, another_process = SqliteWriteLock(database), SqliteWriteLock(database)  # two open files
    order: list[str] = []

    def write() -> None:
        with another_process:
            order.append("second")

    with mine:
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.1)
        order.append("first")
    writer.join(5)
    assert order == ["first", "second"]
