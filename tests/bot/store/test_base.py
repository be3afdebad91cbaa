"""Processes and their claims, on SQLite and PostgreSQL: a claim stays with a process while it beats,
and a clean shutdown hands its events and alerts back at once instead of at the end of their lease."""

from __future__ import annotations

import time

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


def test_a_retiring_process_hands_back_the_report_it_was_composing(store):
    store.heartbeat("w1")
    store.heartbeat("w2")
    now = time.time()
    assert store.claim_report("r1", "C0REVOPS", "p1", "w1", now, 600.0, 7).report_id == "r1"
    assert store.claim_report("r2", "C0REVOPS", "p1", "w2", now, 600.0, 7).busy
    store.retire("w1")
    assert store.claim_report("r3", "C0REVOPS", "p1", "w2", now, 600.0, 7).report_id == "r1"


def test_the_store_answers_a_ping_and_counts_what_waits(store):
    store.ping()
    assert store.queue_depth() == 0
    decide(store, new_alert())
    assert store.queue_depth() == 1  # the alert waits for Slack
    ingest(store)
    assert store.queue_depth() == 2  # and an event for the worker
