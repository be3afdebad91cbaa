"""The outbox on SQLite and PostgreSQL: an alert is posted by one process at a time, retried when it is
due, never posted twice once recorded, and a failure shows in its event's ledger entry. Delivery's
own tests (tests/bot/alerts/test_delivery.py) drive these through Slack; here is what each call
leaves in the store."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select, text

from bot.store import Store
from bot.store.tables import ledger
from tests.support.stored import decide, new_alert


def test_two_alerts_of_one_event_failing_at_once_both_show_in_its_ledger_entry(store):
    first, second = new_alert(signal="S"), new_alert(signal="T")
    event_uuid, _ = decide(store, first, second)
    for alert in (first, second):
        assert store.claim_alert(alert.id, "w1", 60.0) is not None

    def fail(alert) -> threading.Thread:
        call = threading.Thread(
            target=store.alert_failed, args=(alert.id, "w1", "is_archived", event_uuid, alert.signal)
        )
        call.start()
        return call

    if store.sqlite:  # one writer at a time: the two cannot overlap
        calls = [fail(first), fail(second)]
    else:  # PostgreSQL: hold the entry while both read it, as two processes failing together do
        with store.engine.connect() as holder:
            holder.execute(
                select(ledger.c.signals).where(ledger.c.event_uuid == event_uuid).with_for_update()
            )
            calls = [fail(first), fail(second)]
            wait_until_blocked_by(store, holder, 2)
            holder.rollback()
    for call in calls:
        call.join(5)
    [entry] = store.ledger_entries([event_uuid])
    assert [d["outcome"] for d in entry["signals"]] == ["failed", "failed"]
    assert entry["outcome"] == "failed"


def wait_until_blocked_by(store: Store, holder, count: int) -> None:
    """Until `count` other PostgreSQL sessions wait, directly or behind one another, for `holder`."""
    pid = holder.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    deadline = time.monotonic() + 5
    with store.engine.connect() as watcher:
        while (blocked := watcher.execute(WAITING_BEHIND, {"pid": pid}).scalar()) < count:
            assert time.monotonic() < deadline, f"{blocked} of {count} sessions waited for the lock"
            watcher.rollback()  # pg_stat_activity holds still for the length of a transaction
            time.sleep(0.01)


WAITING_BEHIND = text(
    """
    WITH RECURSIVE waiting(pid) AS (
        SELECT pid FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))
        UNION
        SELECT a.pid FROM pg_stat_activity a JOIN waiting w ON w.pid = ANY(pg_blocking_pids(a.pid))
    )
    SELECT count(*) FROM waiting
    """
)
