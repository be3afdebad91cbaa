"""What `stats` reads, on SQLite and PostgreSQL: per signal the events its ledger entries name, its
alerts of the period (digest rows and older alerts aside), tasks clicked and automatic, snoozes
(a snoozes row or the alert's state), not relevant by reason, no action yet, precision and the
median scores the hint quotes."""

from __future__ import annotations

import time

from sqlalchemy import update

from bot.decide.outcomes import Outcome, SignalDecision
from bot.store.alert_actions import NewTask
from bot.store.tables import alerts, ledger
from tests.support.stored import decide, entry, finish, new_alert, new_id

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


def test_counts_per_signal_precision_and_medians(store):
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
    old = new_id()
    finish(store, entry(old, below))
    finish(store, entry(new_id()))
    only_events = SignalDecision(signal="Signal C", outcome=Outcome.COOLDOWN, reason="cooldown")
    finish(store, entry(new_id(), only_events))
    with store.engine.begin() as conn:
        conn.execute(update(ledger).where(ledger.c.event_uuid == old).values(decided_at=now - 8 * DAY))

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
