"""Counting towards thresholds on SQLite and PostgreSQL: each event once per signal however often it
is counted, in event time (both ends of a window included), and a dry run that writes nothing;
several processes counting one account take turns."""

from __future__ import annotations

import multiprocessing
import time
import uuid

from sqlalchemy import func, select

from bot.config.signals_file import Threshold
from bot.decide.thresholds import Contribution
from bot.store import Store
from bot.store.tables import threshold_events

DAY = 86400.0
T = 1_800_000_000.0
WEEK = 7 * DAY
WEEKLY = Threshold(count=100, within="7d")


def event(at: float, person: str = "u1", value: float = 1.0, uuid_: str | None = None) -> Contribution:
    return Contribution(uuid_ or str(uuid.uuid4()), at, person, value)


def stored(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(threshold_events)).scalar_one())


def test_an_event_counts_once_however_often_it_is_counted(store):
    again = event(T)
    assert store.count_towards("S", "acme.com", again, WEEKLY).count == 1
    assert store.count_towards("S", "acme.com", again, WEEKLY).count == 1
    assert store.count_towards("Other", "acme.com", again, WEEKLY).count == 1  # per signal
    assert store.count_towards("S", "initech.com", event(T), WEEKLY).count == 1  # per account
    assert stored(store) == 3


def test_windows_are_in_event_time_and_include_both_ends(store):
    store.count_towards("S", "acme.com", event(T - WEEK - 1), WEEKLY)  # just outside the later windows
    store.count_towards("S", "acme.com", event(T - WEEK), WEEKLY)  # on the edge: inside
    store.count_towards("S", "acme.com", event(T + 60), WEEKLY)  # after: not in the window ending at T
    tally = store.count_towards("S", "acme.com", event(T), WEEKLY)
    assert tally.count == 2
    late = store.count_towards("S", "acme.com", event(T - 2 * DAY), WEEKLY)  # arrives last
    assert late.count == 3  # T - WEEK - 1, T - WEEK, and itself


def test_people_are_counted_once_each_and_the_latest_events_come_newest_first(store):
    for at, person in ((T - 3, "ann"), (T - 2, "bob"), (T - 1, "ann")):
        store.count_towards("S", "acme.com", event(at, person), WEEKLY)
    tally = store.count_towards("S", "acme.com", event(T, "cy", value=2.5), WEEKLY)
    assert (tally.count, tally.people, tally.total) == (4, 3, 5.5)
    assert tally.latest == (("cy", T), ("ann", T - 1), ("bob", T - 2), ("ann", T - 3))


def test_a_dry_run_writes_nothing_and_counts_the_event_as_if_it_were_kept(store):
    kept = event(T - 60, "ann")
    store.count_towards("S", "acme.com", kept, WEEKLY)
    dry = store.count_towards("S", "acme.com", event(T, "bob"), WEEKLY, record=False)
    assert (dry.count, dry.people) == (2, 2)
    assert store.count_towards("S", "acme.com", kept, WEEKLY, record=False).count == 1  # already counted
    same_person = store.count_towards("S", "acme.com", event(T, "ann"), WEEKLY, record=False)
    assert (same_person.count, same_person.people) == (2, 1)
    assert stored(store) == 1


def _count_in_a_process(url: str, events: int, start_at: float) -> list[int]:
    """A child process: wait for the moment both start, then count `events` events for one account."""
    own = Store.from_url(url)
    try:
        own.ping()  # connected before the start, so that both begin together
        time.sleep(max(0.0, start_at - time.time()))
        return [own.count_towards("S", "race.example", event(T), WEEKLY).count for _ in range(events)]
    finally:
        own.dispose()


def test_processes_counting_one_account_at_once_each_see_what_the_others_counted(store):
    """Two processes count 20 events each for one account at the same moment: every count they saw is
    different, so exactly one of them saw the total reach any given figure (one alert), and none was
    lost (40 in all)."""
    url = store.engine.url.render_as_string(hide_password=False)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        start_at = time.time() + 1.5  # both children are up and connected by then
        runs = [pool.apply_async(_count_in_a_process, (url, 20, start_at)) for _ in range(2)]
        seen = [count for run in runs for count in run.get(timeout=60)]
    assert sorted(seen) == list(range(1, 41))


def test_counted_events_older_than_any_window_are_forgotten_in_batches(store):
    for n in range(5):
        store.count_towards("S", "old.example", event(T - 100 * DAY + n), WEEKLY)
    store.count_towards("S", "old.example", event(T), WEEKLY)
    assert store.forget_threshold_events(T - 91 * DAY, batch=2) == 5
    assert stored(store) == 1
    assert store.forget_threshold_events(T - 91 * DAY) == 0
