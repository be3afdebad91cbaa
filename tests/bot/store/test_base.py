"""Processes and their claims, on SQLite and PostgreSQL: a claim stays with a process while it beats,
and a clean shutdown hands its events and alerts back at once instead of at the end of their lease."""

from __future__ import annotations

from tests.support.stored import decide, ingest, new_alert


def test_a_retiring_process_hands_back_its_claims_at_once(store):
    store.heartbeat("w1")
    store.heartbeat("w2")
    alert = new_alert()
    _, commit = decide(store, alert, worker="w1")
    assert commit.alerts_created == [alert.id]
    event_uuid = ingest(store)
    assert [c.uuid for c in store.claim_events("w1", 10, 600)] == [event_uuid]
    assert store.claim_alert(alert.id, "w1", 600) is not None
    assert store.claim_events("w2", 10, 600) == [] and store.claim_alert(alert.id, "w2", 600) is None

    store.retire("w1")
    assert [c.uuid for c in store.claim_events("w2", 10, 600)] == [event_uuid]
    claimed = store.claim_alert(alert.id, "w2", 600)
    assert claimed is not None and claimed.sending_since is not None  # w1 may have reached Slack


def test_the_store_answers_a_ping_and_counts_what_waits(store):
    store.ping()
    assert store.queue_depth() == 0
    decide(store, new_alert())
    assert store.queue_depth() == 1  # the alert waits for Slack
    ingest(store)
    assert store.queue_depth() == 2  # and an event for the worker
