"""The webhook's bulk insert-or-ignore on SQLite and PostgreSQL: a batch larger than one SQLite lookup
holds, with events already stored and a uuid repeated inside the batch, stores each new event once,
says exactly which were new, and writes ledger entries only for those."""

from __future__ import annotations

import time

from bot.store import InboxRow
from tests.support.stored import entry, new_id


def test_a_large_batch_with_known_and_repeated_uuids_stores_only_the_new_events_once(store):
    now = time.time()
    known = [new_id() for _ in range(300)]
    assert store.ingest(
        [InboxRow(u, "ev", None, now, "r1", "done") for u in known], [entry(u) for u in known]
    ) == set(known)

    fresh = [new_id() for _ in range(900)]
    batch = [*fresh[:450], *known, fresh[0], *fresh[450:]]
    rows = [InboxRow(u, "ev", None, now, "r2", "done") for u in batch]
    decided = [entry(u, account="again.example") for u in batch]
    assert store.ingest(rows, decided) == set(fresh)

    ledger = store.ledger_entries([*known, *fresh])
    assert len(ledger) == len(known) + len(fresh)
    assert {e["event_uuid"] for e in ledger if e["account"] == "again.example"} == set(fresh)
    assert store.ingest(rows, decided) == set()
