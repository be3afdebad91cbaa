"""What `/posthog why` reads: an account's (or a person's) latest ledger entries, newest first, along
the ledger's account and distinct id indexes, so the answer stays fast on a ledger of millions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from bot.decide.outcomes import SignalDecision
from bot.store.base import StoreBase
from bot.store.records import parse_decisions
from bot.store.tables import ledger


@dataclass(frozen=True, slots=True)
class StoryEntry:
    """One event of the account's story, as the ledger recorded it."""

    event_uuid: str
    event_name: str
    distinct_id: str | None
    account: str | None
    outcome: str
    decisions: list[SignalDecision]
    at: float  # the event's time, else when it was decided


class WhyStore(StoreBase):
    def account_story(
        self, accounts: Sequence[str], distinct_ids: Sequence[str], limit: int = 20
    ) -> list[StoryEntry]:
        """The newest `limit` ledger entries of these accounts or these persons."""
        conditions = []
        if accounts:
            conditions.append(ledger.c.account.in_(list(accounts)))
        if distinct_ids:
            conditions.append(ledger.c.distinct_id.in_(list(distinct_ids)))
        if not conditions:
            return []
        at = func.coalesce(ledger.c.event_time, ledger.c.decided_at)
        query = (
            select(
                ledger.c.event_uuid,
                ledger.c.event_name,
                ledger.c.distinct_id,
                ledger.c.account,
                ledger.c.outcome,
                ledger.c.signals,
                at.label("at"),
            )
            .where(or_(*conditions))
            .order_by(at.desc(), ledger.c.event_uuid)
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [StoryEntry(r[0], r[1], r[2], r[3], r[4], parse_decisions(r[5]), float(r[6])) for r in rows]
