"""What the Home tab reads, on SQLite and PostgreSQL: an owner's alerts of the week (newest first,
with the total past the cap), the running snoozes on their alerts, and the week's counts per signal."""

from __future__ import annotations

import time

from sqlalchemy import update

from bot.store.alert_actions import NewTask
from bot.store.tables import alerts
from tests.support.stored import decide, new_alert

DAY = 86_400.0


def stored(store, signal: str, account: str, owner: str | None, age_s: float = 0.0) -> str:
    alert = new_alert(signal=signal, account=account)
    decide(store, alert)
    with store.engine.begin() as conn:
        conn.execute(
            update(alerts)
            .where(alerts.c.id == alert.id)
            .values(owner=owner, created_at=time.time() - age_s, ts=f"{int(time.time())}.000100")
        )
    return alert.id


def test_an_owners_week_their_snoozes_and_the_counts_per_signal(store):
    now = time.time()
    mine = stored(store, "Signal A", "acme.com", "U0ONE", age_s=60)
    newer = stored(store, "Signal A", "globex.com", "U0ONE", age_s=10)
    stored(store, "Signal B", "old.com", "U0ONE", age_s=8 * DAY)  # older than the week
    theirs = stored(store, "Signal A", "initech.com", "U0TWO")

    listed, total = store.owner_alerts("U0ONE", now - 7 * DAY, 40)
    assert [a.id for a in listed] == [newer, mine] and total == 2
    assert listed[1].account == "Acme Corp"  # the label from its details, not the key
    assert listed[1].channel == "C0AE1" and listed[1].ts and listed[1].score >= 0
    capped, total = store.owner_alerts("U0ONE", now - 7 * DAY, 1)
    assert [a.id for a in capped] == [newer] and total == 2
    assert store.owner_alerts("U0NOBODY", now - 7 * DAY, 40) == ([], 0)

    on_mine = store.snooze("acme.com", now + DAY, "U0SOMEONE", mine)
    store.snooze("initech.com", now + DAY, "U0ONE", theirs)  # made by U0ONE, on U0TWO's alert
    store.snooze("globex.com", now - 1, "U0ONE", newer)  # over already
    assert [s.id for s in store.owner_snoozes("U0ONE", now)] == [on_mine]

    store.begin_task(mine, NewTask("U0ONE", "store", "s", "b", now, None))
    store.task_created(mine, None, None)
    store.begin_task(newer, NewTask("U0ONE", "store", "s", "b", now, None))  # still creating
    store.record_feedback(theirs, "wrong_fit", None, "U0TWO")
    weeks = store.signal_stats(now - 7 * DAY)  # what a writer's Home tab shows
    assert [(w.signal, w.alerts, w.tasks, w.snoozed, w.dismissed) for w in weeks if w.alerts] == [
        ("Signal A", 3, 1, 3, 1)
    ]


def test_a_reply_carries_its_threads_first_message(store):
    store.heartbeat("w1")
    root = stored(store, "Signal A", "acme.com", "U0ONE", age_s=60)
    reply = stored(store, "Signal B", "acme.com", "U0ONE", age_s=30)  # the same account and channel
    listed, _ = store.owner_alerts("U0ONE", time.time() - DAY, 40)
    by_id = {a.id: a for a in listed}
    root_ts = by_id[root].ts
    assert by_id[reply].thread_ts == root_ts and by_id[root].thread_ts is None
