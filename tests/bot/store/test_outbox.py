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
from tests.support import stored
from tests.support.stored import decide, new_alert


def stored_alert(store: Store, **options) -> str:
    """An alert decided and waiting for Slack; returns its id."""
    alert = new_alert(**options)
    _, commit = decide(store, alert)
    assert commit.alerts_created == [alert.id]
    return alert.id


def test_an_alert_is_claimed_by_one_process_at_a_time_until_its_lease_runs_out(store):
    store.heartbeat("w1")
    store.heartbeat("w2")
    alert_id = stored_alert(store)
    first = store.claim_alert(alert_id, "w1", 0.0)  # a lease that runs out at once
    assert first is not None
    assert (first.attempts, first.sending_since, first.channel) == (1, None, "C0AE1")
    assert first.message["metadata"]["event_payload"]["alert_id"] == alert_id

    store.heartbeat("w1")
    second = store.claim_alert(alert_id, "w2", 60.0)
    assert second is not None and second.attempts == 2
    assert second.sending_since is not None  # w1 may have reached Slack: look before posting again
    assert store.claim_alert(alert_id, "w1", 60.0) is None


def test_due_alerts_are_waiting_ones_and_those_of_a_process_that_stopped(store):
    store.heartbeat("w1")
    waiting, sending, later, posted, orphaned = (stored_alert(store, signal=s) for s in "ABCDE")
    for alert_id in (sending, later, posted):
        assert store.claim_alert(alert_id, "w1", 60.0) is not None
    store.alert_retry(later, "w1", "ratelimited", 60.0)
    store.mark_posted(posted, "w1", "C0AE1", "1.1")
    assert store.claim_alert(orphaned, "gone", 60.0) is not None  # "gone" never beat
    assert store.due_alerts("w1", 10) == [(waiting, "C0AE1"), (orphaned, "C0AE1")]
    assert store.due_alerts("w1", 1) == [(waiting, "C0AE1")]


def test_a_posted_alert_is_recorded_once_and_never_claimed_again(store):
    alert_id = stored_alert(store)
    assert store.claim_alert(alert_id, "w1", 60.0) is not None
    assert store.mark_posted(alert_id, "w1", "C0MOVED", "1700000000.000100")
    alert = stored.alert(store, alert_id)
    assert (alert["status"], alert["ts"], alert["posted_channel"]) == (
        "posted",
        "1700000000.000100",
        "C0MOVED",
    )
    assert alert["posted_at"] is not None and alert["error"] is None
    assert not store.mark_posted(alert_id, "w2", "C0AE1", "1.2")
    assert stored.alert(store, alert_id)["ts"] == "1700000000.000100"
    assert store.claim_alert(alert_id, "w2", 60.0) is None


def test_a_retry_waits_its_delay_and_only_the_holder_may_hand_the_alert_back(store):
    store.heartbeat("w1")
    alert_id = stored_alert(store)
    assert store.claim_alert(alert_id, "w1", 60.0) is not None
    store.alert_retry(alert_id, "w2", "not mine", 0.0)
    assert stored.alert(store, alert_id)["status"] == "sending"
    store.alert_retry(alert_id, "w1", "ratelimited", 60.0)
    alert = stored.alert(store, alert_id)
    assert (alert["status"], alert["error"]) == ("pending", "ratelimited")
    assert store.claim_alert(alert_id, "w1", 60.0) is None  # not due for a minute


def test_a_retry_says_whether_slack_may_have_the_message_and_whether_the_attempt_counts(store):
    alert_id = stored_alert(store)
    first = store.claim_alert(alert_id, "w1", 60.0)
    store.alert_retry(alert_id, "w1", "timed out", 0.0, uncertain=True)
    second = store.claim_alert(alert_id, "w1", 60.0)
    assert second.sending_since == stored.alert(store, alert_id)["sending_since"] is not None
    assert second.attempts == first.attempts + 1

    store.alert_retry(alert_id, "w1", "cannot connect", 0.0, counted=False)
    third = store.claim_alert(alert_id, "w1", 60.0)
    assert third.attempts == second.attempts  # Slack never answered: the attempt is given back
    assert third.sending_since is None  # nothing was sent: post without looking first


def test_a_failed_alert_shows_in_its_events_ledger_entry(store):
    store.heartbeat("w1")
    first, second = new_alert(signal="S"), new_alert(signal="T")
    event_uuid, _ = decide(store, first, second)
    for alert in (first, second):
        assert store.claim_alert(alert.id, "w1", 60.0) is not None

    store.alert_failed(first.id, "w1", "channel_not_found", event_uuid, "S")
    assert stored.alert(store, first.id)["status"] == "failed"
    assert stored.alert(store, first.id)["error"] == "channel_not_found"
    [entry] = store.ledger_entries([event_uuid])
    assert entry["outcome"] == "alerted"  # T still alerts
    by_signal = {d["signal"]: d for d in entry["signals"]}
    assert by_signal["S"]["outcome"] == "failed"
    assert by_signal["S"]["reason"] == "Slack refused the alert: channel_not_found"
    assert by_signal["T"]["outcome"] == "alerted"

    store.alert_failed(second.id, "w1", "is_archived", event_uuid, "T")
    assert store.ledger_entries([event_uuid])[0]["outcome"] == "failed"
    assert store.due_alerts("w1", 10) == []


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
