"""A worker's housekeeping, on SQLite and PostgreSQL: counted threshold events older than the longest
window a signal may have, plus a day, are forgotten on its schedule; newer ones stay."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from bot.app.housekeeping import KEEP_THRESHOLD_EVENTS, housekeeping
from bot.config.signals_file import Threshold
from bot.decide.thresholds import Contribution
from bot.store import Store
from bot.store.tables import threshold_events


def _kept(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(threshold_events.c.event_uuid)).scalars())


def test_old_threshold_events_are_forgotten_on_the_schedule(db_url):
    store = Store.from_url(db_url)
    store.upgrade()
    now = time.time()
    keep = KEEP_THRESHOLD_EVENTS.total_seconds()
    weekly = Threshold(count=5, within="7d")
    for n, age in enumerate((keep + 60, keep + 30, keep - 60, 0)):
        store.count_towards("S", "acme.com", Contribution(f"e{n}", now - age, "u1", 1.0), weekly)

    async def run_a_while() -> None:
        task = asyncio.create_task(housekeeping(store, every_s=0.05, clock=lambda: now))
        try:
            for _ in range(200):
                await asyncio.sleep(0.05)
                if len(await asyncio.to_thread(_kept, store)) == 2:
                    break
        finally:
            task.cancel()

    try:
        asyncio.run(run_a_while())
        assert _kept(store) == ["e2", "e3"]
    finally:
        store.dispose()
