"""Forgetting old decision-ledger entries (`LEDGER_RETENTION_DAYS`): oldest first along
`ix_ledger_decided`, a batch per transaction with a pause between, so a first round on a ledger of
millions never holds SQLite's write lock, nor one PostgreSQL transaction, for long.

What stays: the inbox rows (a redelivery is still a duplicate), `signal_hours` (so `stats` still
counts the whole hours of a period older than the retention), and the counts by outcome: a forgotten
entry is added to `ledger_totals` in the transaction that deletes it, so `/metrics`' counter never
goes down. What a decision reads
from the ledger is younger than the shortest retention allowed (bot/config/settings.py), except the
`snoozed` entries of a snooze that no alert has reported yet: the next alert for the account counts
them ("3 signals were held back while …"), however long that takes, so they stay until it has."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, delete, exists, or_, select

from bot.decide.outcomes import Outcome
from bot.store.base import StoreBase
from bot.store.inbox import add_totals
from bot.store.records import TotalKey
from bot.store.tables import ledger, snoozes

# A webhook commit that arrives during a batch waits for it on SQLite: at 250 entries a batch takes
# about 20 ms there (p99 43 ms; five indexes to update per entry), and the webhook's p99 while a round
# runs is 37 ms instead of 125 ms at 1,000 (bench/ledger_retention.py).
LEDGER_BATCH = 250
# Between batches, so the writers queued meanwhile (the worker's commits, the webhook's inserts) go
# first: neither the thread lock nor `flock` is fair to them when this thread asks again at once.
LEDGER_PAUSE_S = 0.01

# Held back by a snooze still to be reported: what `_HELD_BACK` (account_state.py) will count.
_UNREPORTED = exists().where(
    snoozes.c.account == ledger.c.account,
    snoozes.c.reported == 0,
    snoozes.c.created_at <= ledger.c.decided_at,
    snoozes.c.until >= ledger.c.decided_at,
)
_OLDEST = (
    select(ledger.c.event_uuid, ledger.c.decided_at)
    .where(
        ledger.c.decided_at >= bindparam("since"),
        ledger.c.decided_at < bindparam("before"),
        or_(ledger.c.outcome != Outcome.SNOOZED, ~_UNREPORTED),
    )
    .order_by(ledger.c.decided_at)
    .limit(bindparam("limit"))
    # Housekeepers of several processes on PostgreSQL take different batches instead of queueing.
    .with_for_update(skip_locked=True)
)
_FORGET = (
    delete(ledger)
    .where(
        ledger.c.event_uuid.in_(bindparam("uuids", expanding=True)),
        ledger.c.decided_at < bindparam("before"),
    )
    .returning(ledger.c.event_name, ledger.c.outcome, ledger.c.decided_at)
)


def _totals(forgotten: Sequence[Row[Any]]) -> Counter[TotalKey]:
    """What the forgotten entries add to the ledger's totals, so that the events counted by outcome
    (`signals_outcomes_total`, a Prometheus counter) never go down."""
    return Counter(
        TotalKey(int(decided_at // 60) * 60, name, Outcome(outcome))
        for name, outcome, decided_at in forgotten
    )


class RetentionStore(StoreBase):
    def forget_ledger_entries(
        self, before: float, batch: int = LEDGER_BATCH, pause_s: float = LEDGER_PAUSE_S
    ) -> int:
        """Delete the ledger entries decided before `before`, oldest first, `batch` per transaction
        and `pause_s` between them; returns how many went. An entry a snooze not yet reported holds
        back stays (see above)."""
        gone, since = 0, float("-inf")
        while True:
            with self._write() as conn:
                rows = conn.execute(_OLDEST, {"since": since, "before": before, "limit": batch}).all()
                if rows:
                    uuids = [uuid for uuid, _ in rows]
                    forgotten = conn.execute(_FORGET, {"uuids": uuids, "before": before}).all()
                    add_totals(self, conn, _totals(forgotten))
                    gone += len(forgotten)
            if len(rows) < batch:
                return gone
            # What is older than this batch's newest is gone, held back or being deleted by another
            # process: the next batch starts here rather than reading past what is held back again.
            since = rows[-1][1]
            time.sleep(pause_s)
