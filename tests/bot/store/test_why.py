"""What `/posthog why` reads, on SQLite and PostgreSQL: the newest entries of the accounts and persons
asked about, by event time (else decision time) and then uuid, each once, and no one else's."""

from __future__ import annotations

import random

import orjson
from sqlalchemy import insert

from bot.store.tables import ledger
from tests.support.stored import new_id

ACCOUNTS = ["acme.com", "person:jane@acme.com", "globex.de", None]
PEOPLE = ["jane@acme.com", "u_1", "u_2", None]


def written(store, count: int, seed: int) -> list[dict[str, object]]:
    """`count` entries over a few accounts and persons, many at the same event time, some without
    one (decided later: their decision time tells their place)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        event_time = None if rng.random() < 0.2 else float(rng.randint(1_000, 1_005))
        rows.append(
            {
                "event_uuid": new_id(),
                "event_name": "ev",
                "distinct_id": rng.choice(PEOPLE),
                "account": rng.choice(ACCOUNTS),
                "outcome": "below_threshold",
                "signals": orjson.dumps(
                    [{"signal": "S", "outcome": "below_threshold", "reason": "r"}]
                ).decode(),
                "event_time": event_time,
                "decided_at": float(rng.randint(1_000, 1_006)),
                "request_id": "r1",
            }
        )
    with store.engine.begin() as conn:
        conn.execute(insert(ledger), rows)
    return rows


def newest(rows, accounts, distinct_ids, limit: int) -> list[str]:
    """What the story holds: every entry of theirs, ordered, the first `limit`."""
    theirs = [r for r in rows if r["account"] in accounts or r["distinct_id"] in distinct_ids]
    at = lambda r: r["event_time"] if r["event_time"] is not None else r["decided_at"]  # noqa: E731
    return [r["event_uuid"] for r in sorted(theirs, key=lambda r: (-at(r), r["event_uuid"]))][:limit]


def test_the_story_is_their_newest_entries_each_once(store):
    rows = written(store, 300, seed=16)
    asked = [
        (("acme.com",), ()),
        (("acme.com", "person:jane@acme.com"), ("jane@acme.com",)),  # an email: entries match twice
        (("person:u_1",), ("u_1",)),
        (("globex.de", "acme.com"), ("u_2", "u_1")),
        (("nobody.example",), ("nobody",)),
    ]
    for accounts, distinct_ids in asked:
        for limit in (1, 3, 10, 20, 400):
            story = store.account_story(accounts, distinct_ids, limit)
            assert [e.event_uuid for e in story] == newest(rows, accounts, distinct_ids, limit)
            for e in story:
                assert e.at == next(
                    r["event_time"] if r["event_time"] is not None else r["decided_at"]
                    for r in rows
                    if r["event_uuid"] == e.event_uuid
                )
    assert store.account_story((), ()) == []
