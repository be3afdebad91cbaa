"""The tally of events no signal listens to, against a real store on SQLite and PostgreSQL: counts reach
the ledger's totals by minute and event name within the interval, a store that refuses them gets them
on a later try with none lost or counted twice, stopping writes the rest, and memory stays bounded
whatever names arrive."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from bot.ingest.tally import OTHER_EVENTS, Tally
from bot.store import Store, tables
from tests.support import stored

MINUTE = 1_800_000_000  # the start of a minute


@pytest.fixture
def store(module_store: Store) -> Iterator[Store]:
    """The module's store, its totals emptied after each test."""
    yield module_store
    with module_store.engine.begin() as conn:
        conn.execute(tables.ledger_totals.delete())


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.01)


def test_counts_reach_the_totals_by_minute_and_event_name_within_the_interval(store):
    clock = Clock(MINUTE + 20)

    async def scenario() -> None:
        tally = Tally(store.add_totals, interval_s=0.05, clock=clock)
        tally.start()
        tally.count(["$pageview", "$pageview", "$autocapture"])
        clock.now = MINUTE + 59.9
        tally.count(["$pageview"])
        await _until(lambda: stored.totals(store) != {})
        assert stored.totals(store) == {(MINUTE, "$pageview"): 3, (MINUTE, "$autocapture"): 1}
        clock.now = MINUTE + 60
        tally.count(["$pageview", "$page\x00view"])
        await _until(lambda: tally.waiting == 0)
        await tally.stop(timeout_s=5)

    asyncio.run(scenario())
    assert stored.totals(store) == {
        (MINUTE, "$pageview"): 3,
        (MINUTE, "$autocapture"): 1,
        (MINUTE + 60, "$pageview"): 1,
        (MINUTE + 60, "$page\ufffdview"): 1,
    }


def _refuse(store: Store, refused: bool) -> None:
    """The database refuses the totals (their table is not there), or takes them again."""
    names = ("ledger_totals", "ledger_totals_away")
    before, after = names if refused else reversed(names)
    with store.engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {before} RENAME TO {after}"))


def test_counts_the_store_refuses_are_kept_and_added_later_none_lost_or_doubled(store, caplog):
    clock = Clock(MINUTE)

    async def scenario() -> None:
        tally = Tally(store.add_totals, interval_s=0.05, clock=clock)
        tally.start()
        _refuse(store, True)
        tally.count(["$pageview"] * 3)
        await asyncio.sleep(0.3)  # several tries, each refused
        tally.count(["$pageview", "$autocapture"])
        clock.now = MINUTE + 60
        tally.count(["$pageview"])
        assert tally.waiting == 6
        _refuse(store, False)
        await _until(lambda: tally.waiting == 0)
        await tally.stop(timeout_s=5)

    with caplog.at_level(logging.INFO, logger="bot.ingest.tally"):
        asyncio.run(scenario())
    assert stored.totals(store) == {
        (MINUTE, "$pageview"): 4,
        (MINUTE, "$autocapture"): 1,
        (MINUTE + 60, "$pageview"): 1,
    }
    messages = [record.getMessage() for record in caplog.records if record.name == "bot.ingest.tally"]
    assert [m for m in messages if m.startswith("ledger totals not stored")] == [messages[0]]  # once
    assert messages[-1] == "ledger totals stored again"


def test_stopping_writes_what_is_counted(store):
    async def scenario() -> None:
        tally = Tally(store.add_totals, interval_s=60.0, clock=Clock(MINUTE))
        tally.start()
        tally.count(["$pageview", "signup_viewed"])
        await tally.stop(timeout_s=5)

    asyncio.run(scenario())
    assert stored.totals(store) == {(MINUTE, "$pageview"): 1, (MINUTE, "signup_viewed"): 1}


def test_stopping_while_the_store_refuses_retries_then_says_what_it_lost(store, caplog):
    async def scenario() -> float:
        tally = Tally(store.add_totals, interval_s=0.05, clock=Clock(MINUTE))
        tally.start()
        _refuse(store, True)
        tally.count(["$pageview"] * 7)
        started = time.monotonic()
        await tally.stop(timeout_s=0.5)
        return time.monotonic() - started

    with caplog.at_level(logging.ERROR, logger="bot.ingest.tally"):
        assert asyncio.run(scenario()) < 2
    _refuse(store, False)
    assert stored.totals(store) == {}
    lost = [r for r in caplog.records if r.getMessage().startswith("ledger totals lost on shutdown")]
    assert [r.__dict__["events_lost"] for r in lost] == [7]


def test_past_its_bound_of_names_a_minute_counts_further_names_as_other_events(store):
    clock = Clock(MINUTE)

    async def scenario() -> None:
        tally = Tally(store.add_totals, interval_s=60.0, max_names=3, clock=clock)
        tally.start()
        tally.count([f"event_{i}" for i in range(10)] + ["event_0"])
        clock.now = MINUTE + 60
        tally.count(["event_0", "event_11"])
        assert tally.waiting == 13
        await tally.stop(timeout_s=5)

    asyncio.run(scenario())
    assert stored.totals(store) == {
        (MINUTE, "event_0"): 2,
        (MINUTE, "event_1"): 1,
        (MINUTE, "event_2"): 1,
        (MINUTE, OTHER_EVENTS): 7,
        (MINUTE + 60, OTHER_EVENTS): 2,
    }
