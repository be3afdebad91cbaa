"""What `stats` reads, on SQLite and PostgreSQL: per signal the events its ledger entries name, its
alerts of the period (digest rows and older alerts aside), tasks clicked and automatic, snoozes
(a snoozes row or the alert's state), not relevant by reason, no action yet, precision and the
median scores the hint quotes."""

from __future__ import annotations

import threading
import time
from collections import Counter

import orjson
from sqlalchemy import insert, update

from bot.decide.outcomes import Outcome, SignalDecision
from bot.store import Finish, InboxRow, Store, migrate
from bot.store.alert_actions import NewTask
from bot.store.stats import HOUR_S
from bot.store.tables import alerts, ledger, signal_hours
from tests.support.stored import decide, entry, finish, ingest, new_alert, new_id, rows

DAY = 86_400.0


def stored(store, signal: str, score: int, age_s: float = 0.0) -> str:
    """An alert of `signal` decided from an event of its own, created `age_s` ago with `score`."""
    alert = new_alert(signal=signal, account=f"{new_id()}.com")
    decide(store, alert)
    with store.engine.begin() as conn:
        conn.execute(
            update(alerts).where(alerts.c.id == alert.id).values(score=score, created_at=time.time() - age_s)
        )
    return alert.id


def task(store, alert_id: str, by: str = "U0ONE") -> None:
    """A task created for the alert (an attempt still in progress is no task yet)."""
    store.begin_task(alert_id, NewTask(by, "store", "s", "b", time.time(), None))
    store.task_created(alert_id, None, None)


def test_counts_per_signal_precision_and_medians(store, monkeypatch):
    store.heartbeat("w1")
    now = time.time()
    clicked = stored(store, "Signal A", 80)
    auto = stored(store, "Signal A", 90)
    wrong = stored(store, "Signal A", 30)
    bad = stored(store, "Signal A", 40)
    snoozed = stored(store, "Signal A", 50)
    in_state = stored(store, "Signal A", 55)
    untouched = stored(store, "Signal A", 60)
    stored(store, "Signal A", 99, age_s=8 * DAY)  # before the period: not counted
    other = stored(store, "Signal B", 70)

    task(store, clicked)
    store.task_created(clicked, None, None)
    task(store, auto, by="auto")
    store.record_feedback(wrong, "wrong_fit", None, "U0TWO")
    store.record_feedback(bad, "bad_data", "typo", "U0TWO")
    store.snooze("x.com", now + DAY, "U0ONE", snoozed)
    with store.engine.begin() as conn:  # snoozed from the message, as its state shows
        conn.execute(update(alerts).where(alerts.c.id == in_state).values(state='{"snooze": {"until": 1}}'))
    store.snooze("y.com", now + DAY, "U0ONE", None)  # from a command, no alert: counts nowhere

    # Events the signal decided about without alerting count as seen; filtered ones name no signal.
    below = SignalDecision(signal="Signal B", outcome=Outcome.BELOW_THRESHOLD, reason="below threshold")
    finish(store, entry(new_id(), below))
    finish(store, entry(new_id(), below))
    with monkeypatch.context() as then:  # decided 8 days ago
        then.setattr(time, "time", lambda: now - 8 * DAY)
        finish(store, entry(new_id(), below))
    finish(store, entry(new_id()))
    only_events = SignalDecision(signal="Signal C", outcome=Outcome.COOLDOWN, reason="cooldown")
    finish(store, entry(new_id(), only_events))

    a, b, c = store.signal_stats(now - 7 * DAY)
    # Events count by when they were decided: the older alert's event was decided within the period.
    assert (a.signal, a.events, a.alerts) == ("Signal A", 8, 7)
    assert (a.tasks_clicked, a.tasks_auto, a.snoozed) == (1, 1, 2)
    assert a.not_relevant == {"bad_data": 1, "wrong_fit": 1}
    assert a.no_action == 1  # `untouched`
    assert a.precision == 0.5 and a.judged == 4
    assert a.acted_median == 85.0 and a.dismissed_median == 35.0
    assert (b.signal, b.events, b.alerts, b.no_action, b.precision) == (
        "Signal B",
        3,
        1,
        1,
        None,
    )  # alert + 2 below
    assert (c.signal, c.events, c.alerts, c.acted_median) == ("Signal C", 1, 0, None)
    assert other and untouched


def test_digest_rows_and_an_empty_period(store):
    store.heartbeat("w1")
    assert store.signal_stats(time.time() - DAY) == []
    alert_id = stored(store, "Signal A", 50)
    with store.engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(signal="$digest"))
    assert [s.signal for s in store.signal_stats(time.time() - DAY)] == ["Signal A"]  # its event only
    [s] = store.signal_stats(time.time() - DAY)
    assert (s.events, s.alerts) == (1, 0)


def seen(decision_signals: str, outcome: Outcome = Outcome.BELOW_THRESHOLD) -> list[SignalDecision]:
    return [SignalDecision(signal=name, outcome=outcome, reason="r") for name in decision_signals.split(",")]


def events_in_ledger(store, since: float, until: float = float("inf")) -> dict[str, int]:
    """Events seen per signal, counted from every ledger entry decided from `since` to `until`."""
    counts: Counter[str] = Counter()
    for e in store.ledger_entries():
        if since <= e["decided_at"] < until:
            counts.update({d["signal"] for d in e["signals"] if d.get("signal")})
    return dict(counts)


def events_in_stats(store, since: float, until: float | None = None) -> dict[str, int]:
    return {s.signal: s.events for s in store.signal_stats(since, until) if s.events}


def decided_at(monkeypatch, store, at: float, *decisions: SignalDecision) -> str:
    """An event decided by the worker at `at`."""
    uuid = new_id()
    with monkeypatch.context() as then:
        then.setattr(time, "time", lambda: at)
        finish(store, entry(uuid, *decisions))
    return uuid


def test_a_period_counts_the_entries_decided_from_its_first_second_on(store, monkeypatch):
    """Whole hours come from the counts and the part-hour before them from the ledger: a period that
    starts anywhere in an hour counts exactly the entries decided from then on."""
    store.heartbeat("w1")
    hour = (time.time() // HOUR_S - 50) * HOUR_S  # two days ago, on the hour
    for offset in (0, 1, 1799, 1800, 1801, 3599, 3600, 3601, 7300, 45 * HOUR_S):
        decided_at(monkeypatch, store, hour + offset, *seen("A,B"))
        decided_at(monkeypatch, store, hour + offset + 0.5, *seen("A"))
    decided_at(monkeypatch, store, hour + 10, *seen("A,A,C"))  # one event, named twice: counted once
    decided_at(monkeypatch, store, hour + 20)  # no signal listens: counted nowhere
    for since in (
        hour - 1,
        hour,
        hour + 0.5,
        hour + 1800,
        hour + 1800.5,
        hour + 3600,
        hour + 5000,
        time.time(),
    ):
        assert events_in_stats(store, since) == events_in_ledger(store, since), since
    assert events_in_stats(store, hour + 1800) == {"A": 14, "B": 7}
    # A period that ends before now (a report sent late): its end is as exact as its start.
    ends = (hour + 1, hour + 1800, hour + 3600, hour + 3600.5, hour + 7300, hour + 7300.5, hour + 50 * HOUR_S)
    for since in (hour - 1, hour + 0.5, hour + 1800.5, hour + 3600):
        for until in ends:
            assert events_in_stats(store, since, until) == events_in_ledger(store, since, until), (
                since,
                until,
            )
    assert events_in_stats(store, hour, hour + 3600) == {"A": 13, "B": 6, "C": 1}


def test_a_redelivered_event_counts_once(store):
    """The inbox keeps one copy of an event however often it arrives, and only the holder of its
    claim decides it: the counts grow once."""
    store.heartbeat("w1")
    store.heartbeat("w2")
    uuid = ingest(store)
    assert store.ingest([store_row(uuid)]) == set()  # redelivered before it was decided
    [claim] = store.claim_events("w1", 1, 0.0)  # a lease that runs out at once
    assert [c.uuid for c in store.claim_events("w2", 1, 60)] == [claim.uuid]  # taken over
    [lost] = store.finish_events("w1", [Finish(uuid, entry(uuid, *seen("A")), [], 1.0)])
    [kept] = store.finish_events("w2", [Finish(uuid, entry(uuid, *seen("A")), [], 1.0)])
    assert (lost.committed, kept.committed) == (False, True)
    assert store.ingest([store_row(uuid)]) == set()  # redelivered after
    assert store.claim_events("w1", 1, 60) == []
    assert events_in_stats(store, time.time() - DAY) == {"A": 1}
    assert sum(r["events"] for r in rows(store, signal_hours)) == 1


def store_row(uuid: str) -> InboxRow:
    return InboxRow(uuid, "ev", b"{}", time.time(), "r2")


def test_writers_on_one_database_count_every_entry_once(db_url):
    """Two stores (two processes) deciding at once, their batches naming the same signals in any
    order: the counts are the ledger's, and no commit waits forever for another's rows."""
    stores = [Store.from_url(db_url) for _ in range(2)]
    stores[0].upgrade()
    for _ in range(200):
        ingest(stores[0])
    names = ["A", "B", "C", "D"]
    start = threading.Barrier(len(stores))
    failed: list[BaseException] = []

    def decide_all(n: int, store: Store) -> None:
        worker = f"w{n}"
        store.heartbeat(worker)
        start.wait()
        try:
            while claimed := store.claim_events(worker, 4, 60):
                finishes = []
                for i, c in enumerate(claimed):
                    first = (i + n) % 4
                    picked = (names[first:] + names[:first])[: 1 + i % 4]
                    finishes.append(Finish(c.uuid, entry(c.uuid, *seen(",".join(picked))), [], 1.0))
                assert all(commit.committed for commit in store.finish_events(worker, finishes))
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=decide_all, args=(n, s)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failed and not any(t.is_alive() for t in threads)
    since = time.time() - DAY
    assert len(stores[0].ledger_entries()) == 200
    assert events_in_stats(stores[0], since) == events_in_ledger(stores[0], since)
    for store in stores:
        store.dispose()


def test_an_upgraded_database_reports_the_events_it_reported_before(db_url):
    """0010 counts the entries a database at 0009 holds as `stats` counted them then: once per
    signal an entry's decisions name, by the hour it was decided in."""
    store = Store.from_url(db_url)
    with store.engine.begin() as conn:
        migrate._alembic(conn, "upgrade", "0009")
    now = time.time()

    def row(at: float, decisions: list[dict[str, object]]) -> dict[str, object]:
        return {
            "event_uuid": new_id(),
            "event_name": "ev",
            "distinct_id": "u1",
            "account": "acme.com",
            "outcome": "below_threshold",
            "signals": orjson.dumps(decisions).decode(),
            "event_time": at,
            "decided_at": at,
            "request_id": "r1",
        }

    def named(*signals: str) -> list[dict[str, object]]:
        return [{"signal": s, "outcome": "below_threshold", "reason": "r", "score": 10} for s in signals]

    written = [
        *(row(now - n * 1234.5, named("Signal A", "Signal B")) for n in range(200)),  # three days
        *(row(now - n * 7777.7, named("Signal C")) for n in range(400)),  # five weeks
        row(now - 60, named("Signal A", "Signal A")),  # named twice: once
        row(now - 60, [{"outcome": "filtered", "reason": "no signal listens to this event"}]),
        row(now - 60, [{"outcome": "failed", "reason": "gave up after 5 attempts: boom"}]),
        row(now - 60, named('Quote " and \\ and ünïcode')),
    ]
    with store.engine.begin() as conn:
        conn.execute(insert(ledger), written)
    periods = [now - 7 * DAY, now - 30 * DAY, now - 1800.25, now - 40 * DAY]
    before = {since: events_in_ledger(store, since) for since in periods}

    assert store.upgrade().current == "0009"

    for since in periods:
        assert events_in_stats(store, since) == before[since], since
    assert before[now - 40 * DAY] == {
        "Signal A": 201,
        "Signal B": 200,
        "Signal C": 400,
        'Quote " and \\ and ünïcode': 1,
    }
    store.dispose()
