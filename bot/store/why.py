"""What `/posthog why` reads: an account's (or a person's) latest ledger entries, newest first, along
the ledger's account and distinct id indexes, so the answer stays fast on a ledger of millions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Select, Subquery, bindparam, select, union

from bot.decide.accounts import person_key
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


def _newest(key: Column[str], param: str, timed: bool) -> Subquery:
    """The newest `:limit` entries whose `key` is `:param`, with an event time (read backwards along
    the index on (key, event_time)) or without one (by when they were decided)."""
    at = ledger.c.event_time if timed else ledger.c.decided_at
    when = ledger.c.event_time.is_not(None) if timed else ledger.c.event_time.is_(None)
    return (
        select(
            ledger.c.event_uuid,
            ledger.c.event_name,
            ledger.c.distinct_id,
            ledger.c.account,
            ledger.c.outcome,
            ledger.c.signals,
            at.label("at"),
        )
        .where(key == bindparam(param), when)
        .order_by(at.desc(), ledger.c.event_uuid)
        .limit(bindparam("limit"))
        .subquery()
    )


_STORIES: dict[tuple[int, int], Select[Any]] = {}


def _story(accounts: int, people: int) -> Select[Any]:
    """The story of this many accounts (`:a0`, …) and distinct ids (`:d0`, …). Each reads its own
    newest `:limit` along its index, and the union of those (an entry found twice is one) holds the
    newest `:limit` of all: ordering all of a busy account's entries instead would read every one of
    them. Built once per shape, as building it takes longer than running it."""
    query = _STORIES.get((accounts, people))
    if query is None:
        keys = [(ledger.c.account, f"a{n}") for n in range(accounts)]
        keys += [(ledger.c.distinct_id, f"d{n}") for n in range(people)]
        parts = [_newest(key, param, timed) for key, param in keys for timed in (True, False)]
        found = union(*(select(part) for part in parts)).subquery()
        query = select(found).order_by(found.c.at.desc(), found.c.event_uuid).limit(bindparam("limit"))
        _STORIES[(accounts, people)] = query
    return query


class WhyStore(StoreBase):
    def account_story(
        self, accounts: Sequence[str], distinct_ids: Sequence[str], limit: int = 20
    ) -> list[StoryEntry]:
        """The newest `limit` ledger entries of these accounts or these persons, ordered by the
        event's time (else when it was decided), then uuid."""
        accounts, distinct_ids = list(dict.fromkeys(accounts)), list(dict.fromkeys(distinct_ids))
        if not accounts and not distinct_ids:
            return []
        params: dict[str, Any] = {"limit": limit}
        params.update({f"a{n}": value for n, value in enumerate(accounts)})
        params.update({f"d{n}": value for n, value in enumerate(distinct_ids)})
        with self._read() as conn:
            rows = conn.execute(_story(len(accounts), len(distinct_ids)), params).all()
        return [StoryEntry(r[0], r[1], r[2], r[3], r[4], parse_decisions(r[5]), float(r[6])) for r in rows]

    def account_of(self, distinct_id: str) -> str | None:
        """The account the person's newest event was counted for, when that is not the person
        themselves (a company, a group): along `ix_ledger_distinct_id`, newest first."""
        query = (
            select(ledger.c.account)
            .where(
                ledger.c.distinct_id == distinct_id,
                ledger.c.account.is_not(None),
                ledger.c.account != person_key(distinct_id),
            )
            .order_by(ledger.c.event_time.desc())
            .limit(1)
        )
        with self._read() as conn:
            return conn.execute(query).scalar()
