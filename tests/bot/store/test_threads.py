"""Which alert a new alert replies to: chosen when it is committed, one root per account and channel while
its alerts come within 7 days of each other, agreed on by alerts committed at once (in one process or
several), ended by a failed root."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from bot.store import Finish, Store, tables
from tests.support import stored
from tests.support.stored import decide, new_alert


@pytest.fixture
def store(worker_store):
    return worker_store


@pytest.fixture
def on_day(monkeypatch) -> Callable[[float], None]:
    """`on_day(9)`: what is committed next is committed 9 days after the test began (the store's clock
    for decisions, cooldowns and threads)."""
    start = time.time()
    now = [start]
    # `bot.store.inbox` the module (the package exports the table of that name)
    monkeypatch.setattr(sys.modules["bot.store.inbox"], "time", SimpleNamespace(time=lambda: now[0]))

    def move(day: float) -> None:
        now[0] = start + day * 86400

    return move


def _thread_of(store: Store, alert_id: str) -> str | None:
    return stored.alert(store, alert_id)["thread_of"]


def _latest_in_thread(store: Store) -> float:
    with store.engine.connect() as conn:
        return conn.execute(select(tables.threads.c.started_at)).scalar_one()


def test_a_later_alert_of_the_account_in_the_channel_replies_to_the_first(store):
    first, second, third = (new_alert(signal=s, cooldown_s=0) for s in ("A", "B", "C"))
    for alert in (first, second, third):
        decide(store, alert)
    assert _thread_of(store, first.id) is None
    assert _thread_of(store, second.id) == first.id
    assert _thread_of(store, third.id) == first.id  # all in one thread, not a chain


def test_other_channels_accounts_and_thread_none_start_their_own(store):
    root = new_alert(signal="A")
    elsewhere = new_alert(signal="B", channel="C0OTHER")
    other_account = new_alert(signal="C", account="globex.com")
    on_its_own = new_alert(signal="D", thread="none")
    for alert in (root, elsewhere, other_account, on_its_own):
        decide(store, alert)
    assert [_thread_of(store, a.id) for a in (elsewhere, other_account, on_its_own)] == [None] * 3
    later = new_alert(signal="E")
    decide(store, later)
    assert _thread_of(store, later.id) == root.id  # thread: none neither joined nor started one


def test_a_thread_whose_latest_alert_is_older_than_7_days_is_not_joined(store):
    root = new_alert(signal="A")
    decide(store, root)
    with store.engine.begin() as conn:
        conn.execute(update(tables.threads).values(started_at=time.time() - 7 * 86400 - 60))
    fresh = new_alert(signal="B")
    decide(store, fresh)
    assert _thread_of(store, fresh.id) is None
    after = new_alert(signal="C")
    decide(store, after)
    assert _thread_of(store, after.id) == fresh.id


def test_a_thread_stays_open_while_the_account_alerts_at_least_weekly(store, on_day):
    """Days 0, 3, 6 and 9: day 9 is 9 days after the root but 3 after the latest reply, so it joins."""
    alerts = [new_alert(signal=f"S{day}") for day in (0, 3, 6, 9)]
    for day, alert in zip((0, 3, 6, 9), alerts, strict=True):
        on_day(day)
        decide(store, alert)
    root = alerts[0]
    assert [_thread_of(store, a.id) for a in alerts] == [None, root.id, root.id, root.id]
    assert _latest_in_thread(store) == stored.alert(store, alerts[-1].id)["created_at"]


def test_a_week_without_an_alert_starts_a_new_thread(store, on_day):
    first, second, third = (new_alert(signal=s) for s in ("A", "B", "C"))
    on_day(0)
    decide(store, first)
    on_day(8)
    decide(store, second)
    on_day(11)
    decide(store, third)
    assert [_thread_of(store, a.id) for a in (first, second, third)] == [None, None, second.id]


def test_a_reply_measures_the_week_from_itself_not_from_the_root(store, on_day):
    """The latest alert of the thread is the reply of day 3: day 10.5 is 7.5 days after it, a new thread."""
    first, reply, later = (new_alert(signal=s) for s in ("A", "B", "C"))
    for day, alert in ((0, first), (3, reply), (10.5, later)):
        on_day(day)
        decide(store, alert)
    assert [_thread_of(store, a.id) for a in (first, reply, later)] == [None, first.id, None]


def test_an_alert_committed_by_a_clock_behind_does_not_move_the_week_back(store, on_day):
    """A process whose clock is behind commits an alert "on day 5" after day 6's: the thread's latest
    alert stays day 6's, so day 12.5 still joins."""
    alerts = [new_alert(signal=f"S{i}") for i in range(4)]
    for day, alert in zip((0, 6, 5, 12.5), alerts, strict=True):
        on_day(day)
        decide(store, alert)
    assert [_thread_of(store, a.id) for a in alerts] == [None] + [alerts[0].id] * 3


def test_a_high_priority_reply_is_also_posted_to_the_channel(store):
    decide(store, new_alert(signal="A"))
    high, medium = new_alert(signal="B", priority="high"), new_alert(signal="C", priority="medium")
    decide(store, high)
    decide(store, medium)
    assert stored.message_of(store, high.id).get("reply_broadcast") is True
    assert "reply_broadcast" not in stored.message_of(store, medium.id)


def test_a_root_slack_refused_ends_its_thread(store):
    root = new_alert(signal="A")
    decide(store, root)
    [claimed] = [store.claim_alert(root.id, "w1", 60)]
    store.alert_failed(claimed.id, "w1", "channel_not_found", claimed.event_uuid, claimed.signal)
    fresh = new_alert(signal="B")
    decide(store, fresh)
    assert _thread_of(store, fresh.id) is None


def test_a_digest_alert_takes_no_part_in_threads(store):
    decide(store, new_alert(signal="A"))
    digested = new_alert(signal="B", deliver="digest")
    decide(store, digested)
    row = stored.alert(store, digested.id)
    assert row["thread_of"] is None and row["status"] == "digest"


def test_alerts_committed_at_once_agree_on_one_root(db_url):
    """Eight workers (threads, each with its own store and connections) commit the first alerts of one
    account at the same moment: exactly one becomes the root, every other replies to it."""
    stores = [Store.from_url(db_url) for _ in range(8)]
    stores[0].upgrade()
    alerts = [new_alert(signal=f"S{i}") for i in range(8)]
    for i, s in enumerate(stores):
        s.heartbeat(f"w{i}")
    finishes = []
    for i, alert in enumerate(alerts):  # each worker holds the claim of its own event
        event_uuid = stored.ingest(stores[i])
        assert [c.uuid for c in stores[i].claim_events(f"w{i}", 1, 60)] == [event_uuid]
        decided = stored.entry(event_uuid, stored.alerted(alert))
        finishes.append(Finish(event_uuid, decided, [alert], 1.0))
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def commit(i: int) -> None:
        try:
            barrier.wait()
            [done] = stores[i].finish_events(f"w{i}", [finishes[i]])
            assert done.alerts_created == [alerts[i].id]
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=commit, args=(i,)) for i in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    try:
        assert errors == []
        roots = [a.id for a in alerts if _thread_of(stores[0], a.id) is None]
        assert len(roots) == 1
        assert {_thread_of(stores[0], a.id) for a in alerts if a.id not in roots} == {roots[0]}
    finally:
        for s in stores:
            s.dispose()
