"""Durable state on SQLAlchemy Core: inbox, decision ledger, alerts (the outbox), cooldowns, snoozes and
the enrichment cache. The same statements run on SQLite and PostgreSQL.

Idempotency lives in keys: the inbox is keyed by `event.uuid` (insert-or-ignore is the dedupe), an
alert by (event, signal), a cooldown by (signal, account). Work is claimed with a lease and a
heartbeat, so a crashed process's events and alerts are picked up again, and a finished claim is only
committed while the claimer still holds it.
"""

from __future__ import annotations

from sqlalchemy import func, select

from bot.store.account_state import AccountStore
from bot.store.alert_actions import ActionStore, AlertRecord, TaskStart
from bot.store.digests import DigestStore
from bot.store.home import HomeStore
from bot.store.inbox import EventStore
from bot.store.outbox import AlertStore
from bot.store.query_runs import QueryRun, QueryRunStore
from bot.store.records import (
    ClaimedAlert,
    ClaimedEvent,
    Commit,
    Finish,
    InboxRow,
    LedgerEntry,
    NewAlert,
    StoreUnavailable,
    TotalKey,
    is_row_error,
)
from bot.store.reports import ReportStore
from bot.store.retention import RetentionStore
from bot.store.stats import StatsStore
from bot.store.tables import alerts, inbox, metadata
from bot.store.threads import ThreadRoot, ThreadStore
from bot.store.thresholds import ThresholdStore
from bot.store.why import WhyStore

__all__ = [
    "AlertRecord",
    "ClaimedAlert",
    "ClaimedEvent",
    "Commit",
    "Finish",
    "InboxRow",
    "LedgerEntry",
    "NewAlert",
    "QueryRun",
    "Store",
    "StoreUnavailable",
    "TaskStart",
    "ThreadRoot",
    "TotalKey",
    "is_row_error",
    "metadata",
]


class Store(
    EventStore,
    AlertStore,
    AccountStore,
    ThreadStore,
    ActionStore,
    ThresholdStore,
    QueryRunStore,
    DigestStore,
    ReportStore,
    HomeStore,
    WhyStore,
    StatsStore,
    RetentionStore,
):
    """All reads and writes. Methods are synchronous; async callers run them in a thread."""

    def queue_depth(self) -> int:
        """Events not yet decided plus alerts not yet posted."""
        with self._read() as conn:
            events = conn.execute(
                select(func.count()).select_from(inbox).where(inbox.c.status.in_(("pending", "claimed")))
            ).scalar_one()
            pending_alerts = conn.execute(
                select(func.count()).select_from(alerts).where(alerts.c.status.in_(("pending", "sending")))
            ).scalar_one()
        return int(events) + int(pending_alerts)
