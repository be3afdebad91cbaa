"""The inbox and the ledger on SQLite and PostgreSQL: an event is stored once however often PostHog
sends it, claimed by one process at a time under a lease, decided only by whoever holds its claim,
and alerted once per cooldown; an event given up on is recorded, never dropped."""

from __future__ import annotations

from tests.support.stored import ingest


def claimed(store, worker, limit=10, lease_s=60.0) -> list[str]:
    return [c.uuid for c in store.claim_events(worker, limit, lease_s)]


def test_claims_take_the_oldest_due_events_up_to_the_limit_and_count_attempts(store):
    for worker in ("w1", "w2", "w3"):
        store.heartbeat(worker)
    by_age = {at: ingest(store, received_at=at) for at in (3.0, 1.0, 2.0, 5.0, 4.0)}
    events = store.claim_events("w1", 2, 60)
    assert [(e.uuid, e.attempts, e.received_at) for e in events] == [
        (by_age[1.0], 1, 1.0),
        (by_age[2.0], 1, 2.0),
    ]
    assert claimed(store, "w2", limit=10) == [by_age[3.0], by_age[4.0], by_age[5.0]]
    assert claimed(store, "w3") == []
