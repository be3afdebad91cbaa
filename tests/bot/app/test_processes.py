"""`serve`'s worker processes as the web process sees them: it answers once they decide events, and a
worker that cannot start holds nothing back."""

from __future__ import annotations

import time

from sqlalchemy import select

from bot.app.processes import WorkerPool
from bot.config.signals_file import load_signals
from bot.store import Store
from bot.store.tables import workers
from testkit.examples import EXAMPLE_SIGNALS
from tests.conftest import fast_tuning, make_settings


def test_the_workers_are_ready_once_each_beats_and_decides(sqlite_url):
    pool = WorkerPool(make_settings(sqlite_url), load_signals(EXAMPLE_SIGNALS), fast_tuning(), count=2)
    pool.start()
    try:
        assert pool.wait_ready(60)
        store = Store.from_url(sqlite_url)
        with store.engine.connect() as conn:
            beating = conn.execute(select(workers.c.id)).scalars().all()
        store.dispose()
        assert {int(worker_id.split(":")[1]) for worker_id in beating} == set(pool.pids)
    finally:
        pool.stop()


def test_a_worker_that_dies_starting_is_not_waited_for(tmp_path):
    unwritable = f"sqlite:///{tmp_path / 'missing-folder' / 'signals.db'}"
    pool = WorkerPool(make_settings(unwritable), load_signals(EXAMPLE_SIGNALS), fast_tuning())
    pool.start()
    try:
        started = time.monotonic()
        assert not pool.wait_ready(120)
        assert time.monotonic() - started < 60  # it died: nobody waits out the two minutes
    finally:
        pool.stop()
