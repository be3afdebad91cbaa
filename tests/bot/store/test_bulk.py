"""The webhook's bulk insert-or-ignore on SQLite and PostgreSQL: a batch larger than one SQLite lookup
holds, with events already stored and a uuid repeated inside the batch, stores each new event once,
says exactly which were new, and leaves the events already stored as they were."""

from __future__ import annotations

import time

from bot.store import InboxRow, tables
from tests.support.stored import new_id, rows


def test_a_large_batch_with_known_and_repeated_uuids_stores_only_the_new_events_once(store):
    now = time.time()
    known = [new_id() for _ in range(300)]
    assert store.ingest([InboxRow(u, "ev", b"{}", now, "r1") for u in known]) == set(known)

    fresh = [new_id() for _ in range(900)]
    batch = [*fresh[:450], *known, fresh[0], *fresh[450:]]
    again = [InboxRow(u, "ev", b"{}", now, "r2") for u in batch]
    assert store.ingest(again) == set(fresh)

    inbox = rows(store, tables.inbox)
    assert len(inbox) == len(known) + len(fresh)
    assert {r["uuid"] for r in inbox if r["request_id"] == "r2"} == set(fresh)
    assert store.ingest(again) == set()
