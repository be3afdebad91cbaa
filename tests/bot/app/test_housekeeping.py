"""A worker's housekeeping, on SQLite and PostgreSQL: counted threshold events older than the longest
window a signal may have, plus a day, are forgotten on its schedule, newer ones stay; the bodies
of events decided before the retention go, while their rows and ledger entries stay; and ledger
entries decided before theirs go, unless their retention is None (`LEDGER_RETENTION_DAYS=0`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy import select

from bot.app.housekeeping import housekeeping
from bot.config.signals_file import THRESHOLD_EVENTS_KEPT, Threshold
from bot.decide.outcomes import Outcome, SignalDecision
from bot.decide.thresholds import Contribution
from bot.store import Finish, InboxRow, Store
from bot.store.tables import inbox, ledger, signal_hours, threshold_events
from tests.support import stored

DAY = 86_400.0


def _kept(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(threshold_events.c.event_uuid)).scalars())


def test_old_threshold_events_are_forgotten_on_the_schedule(db_url):
    store = Store.from_url(db_url)
    store.upgrade()
    now = time.time()
    keep = THRESHOLD_EVENTS_KEPT.total_seconds()
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


def test_the_bodies_of_old_decided_events_are_forgotten_and_their_rows_still_dedupe(db_url):
    """Past the retention, a decided event's body goes; its row stays (a redelivery is a duplicate)
    and its ledger entry too. A pending event keeps its body however old it is."""
    store = Store.from_url(db_url)
    store.upgrade()
    store.heartbeat("w1")
    now = time.time()
    try:
        old = stored.ingest(store, received_at=now - 40 * DAY)
        recent = stored.ingest(store, received_at=now - DAY)
        claimed = {c.uuid for c in store.claim_events("w1", 2, 60)}
        assert claimed == {old, recent}
        store.finish_events("w1", [Finish(u, stored.entry(u), [], 1.0) for u in (old, recent)])
        waiting = stored.ingest(store, received_at=now - 50 * DAY)  # not decided yet: kept

        async def run_a_while() -> None:
            task = asyncio.create_task(
                housekeeping(store, every_s=0.05, clock=lambda: now, keep_payloads_s=30 * DAY)
            )
            try:
                for _ in range(200):
                    await asyncio.sleep(0.05)
                    if stored.row(store, inbox, uuid=old)["payload"] is None:
                        break
            finally:
                task.cancel()

        asyncio.run(run_a_while())
        bodies = {r["uuid"]: r["payload"] for r in stored.rows(store, inbox)}
        assert bodies[old] is None and bodies[recent] is not None and bodies[waiting] is not None
        assert store.ingest([InboxRow(old, "ev", b"{}", now, "r2")]) == set()  # still a duplicate
        assert {e["event_uuid"] for e in store.ledger_entries()} == {old, recent}
    finally:
        store.dispose()


def _decided(store: Store, at: float, monkeypatch) -> str:
    """An event decided by the worker at `at`."""
    with monkeypatch.context() as then:
        then.setattr(time, "time", lambda: at)
        uuid = stored.ingest(store)
        [claimed] = store.claim_events("w1", 1, 60)
        seen = SignalDecision(signal="S", outcome=Outcome.BELOW_THRESHOLD, reason="below threshold")
        store.finish_events("w1", [Finish(uuid, stored.entry(uuid, seen), [], 1.0)])
    assert claimed.uuid == uuid
    return uuid


def _entries(store: Store) -> set[str]:
    return {r["event_uuid"] for r in stored.rows(store, ledger)}


def _run_until(store: Store, done: Callable[[], bool], **kept: float | None) -> None:
    """Housekeeping rounds every 50 ms with these retentions, until `done` (10 s at most)."""

    async def run_a_while() -> None:
        task = asyncio.create_task(housekeeping(store, every_s=0.05, clock=time.time, **kept))
        try:
            for _ in range(200):
                await asyncio.sleep(0.05)
                if await asyncio.to_thread(done):
                    break
        finally:
            task.cancel()

    asyncio.run(run_a_while())


def test_ledger_entries_decided_before_the_retention_are_forgotten(db_url, monkeypatch):
    """Past `LEDGER_RETENTION_DAYS` an entry goes; newer ones, its inbox row (a redelivery is still
    a duplicate) and the per-signal hours stay. None (the setting at 0) keeps every entry."""
    store = Store.from_url(db_url)
    store.upgrade()
    store.heartbeat("w1")
    now = time.time()
    try:
        old = _decided(store, now - 400 * DAY, monkeypatch)
        recent = _decided(store, now - 394 * DAY, monkeypatch)
        hours = stored.rows(store, signal_hours)
        assert len(hours) == 2

        a_few_rounds = time.monotonic() + 0.5
        _run_until(store, lambda: time.monotonic() > a_few_rounds, keep_ledger_s=None)
        assert _entries(store) == {old, recent}

        _run_until(store, lambda: _entries(store) == {recent}, keep_ledger_s=395 * DAY)
        assert _entries(store) == {recent}
        assert {r["uuid"] for r in stored.rows(store, inbox)} == {old, recent}
        assert store.ingest([InboxRow(old, "ev", b"{}", now, "r2")]) == set()
        assert stored.rows(store, signal_hours) == hours
    finally:
        store.dispose()
