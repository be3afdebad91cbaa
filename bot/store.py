"""Durable state on SQLAlchemy Core: inbox, decision ledger, alerts (the outbox), cooldowns, snoozes and
the enrichment cache. The same statements run on SQLite and PostgreSQL.

Idempotency lives in keys: the inbox is keyed by `event.uuid` (insert-or-ignore is the dedupe), an
alert by (event, signal), a cooldown by (signal, account). Work is claimed with a lease, so a crashed
process's events and alerts are picked up again, and a finished claim is only committed while the
claimer still holds it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.db import READ_ONLY, is_sqlite, make_engine
from bot.durations import format_duration

metadata = MetaData()

inbox = Table(
    "inbox",
    metadata,
    Column("uuid", String(200), primary_key=True),
    Column("event_name", String(400), nullable=False),
    Column("payload", Text, nullable=True),  # NULL once decided at ingest (no signal wants it)
    Column("status", String(16), nullable=False),  # pending | claimed | done
    Column("received_at", Float, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),
    Column("claimed_by", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_inbox_claim", "status", "next_attempt_at"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("event_uuid", String(200), primary_key=True),
    Column("event_name", String(400), nullable=False),
    Column("distinct_id", String(400), nullable=True),
    Column("account", String(300), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("signals", Text, nullable=False),  # JSON: [{signal, outcome, reason, score?, alert_id?}]
    Column("event_time", Float, nullable=True),
    Column("decided_at", Float, nullable=False),
    Column("request_id", String(64), nullable=False),
    Index("ix_ledger_account", "account", "event_time"),
    Index("ix_ledger_outcome", "outcome"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("event_uuid", String(200), nullable=False),
    Column("signal", String(100), nullable=False),
    Column("account", String(300), nullable=False),
    Column("channel", String(100), nullable=False),
    Column("owner", String(32), nullable=True),
    Column("score", Integer, nullable=False),
    Column("message", Text, nullable=False),  # JSON: chat.postMessage arguments
    Column("status", String(16), nullable=False),  # pending | sending | posted | failed
    Column("ts", String(32), nullable=True),
    Column("posted_channel", String(100), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),
    Column("claimed_by", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("sending_since", Float, nullable=True),
    Column("received_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("posted_at", Float, nullable=True),
    Column("request_id", String(64), nullable=False),
    Column("error", Text, nullable=True),
    UniqueConstraint("event_uuid", "signal", name="uq_alerts_event_signal"),
    Index("ix_alerts_due", "status", "next_attempt_at"),
)

cooldowns = Table(
    "cooldowns",
    metadata,
    Column("signal", String(100), primary_key=True),
    Column("account", String(300), primary_key=True),
    Column("last_alert_at", Float, nullable=False),
)

snoozes = Table(
    "snoozes",
    metadata,
    Column("account", String(300), primary_key=True),
    Column("until", Float, nullable=False),
    Column("snoozed_by", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
)

enrichment_cache = Table(
    "enrichment_cache",
    metadata,
    Column("provider", String(32), primary_key=True),
    Column("key", String(300), primary_key=True),
    Column("value", Text, nullable=True),  # NULL: the provider knows nothing (negative cache)
    Column("fetched_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)


workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("heartbeat_at", Float, nullable=False),
    Column("started_at", Float, nullable=False),
)


class StoreUnavailable(Exception):
    """The database could not take or give the data (locked, down, disk full)."""


@dataclass(frozen=True, slots=True)
class InboxRow:
    uuid: str
    event_name: str
    payload: bytes | None
    received_at: float
    request_id: str
    status: str  # "pending" for the worker, "done" when decided at ingest


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    event_uuid: str
    event_name: str
    distinct_id: str | None
    account: str | None
    outcome: str
    signals: list[dict[str, Any]]
    event_time: float | None
    request_id: str


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    uuid: str
    payload: bytes
    attempts: int
    received_at: float
    request_id: str


@dataclass(slots=True)
class NewAlert:
    id: str
    signal: str
    account: str
    channel: str
    owner: str | None
    score: int
    message: dict[str, Any]
    cooldown_s: float


@dataclass(frozen=True, slots=True)
class ClaimedAlert:
    id: str
    event_uuid: str
    signal: str
    account: str
    channel: str
    message: dict[str, Any]
    attempts: int
    received_at: float
    request_id: str
    sending_since: float | None  # set when a previous claimer may have reached Slack


@dataclass
class Commit:
    """What a finished event commits: its ledger entry and the alerts that passed every check."""

    committed: bool
    alerts_created: list[str] = field(default_factory=list)
    cooled_down: dict[str, float] = field(default_factory=dict)  # signal -> cooldown seconds


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class Store:
    """All reads and writes. Methods are synchronous; async callers run them in a thread."""

    def __init__(self, engine: Engine, stale_after_s: float = 30.0):
        self.engine = engine
        self.stale_after_s = stale_after_s
        self.sqlite = is_sqlite(engine)
        # SQLite has one writer at a time; queueing our own threads here is fairer and cheaper than
        # letting them spin in SQLite's busy handler (other processes still wait via busy_timeout).
        self._write_lock = threading.Lock() if self.sqlite else None
        self._insert = sqlite.insert if self.sqlite else postgresql.insert

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Store:
        return cls(make_engine(url, **kwargs))

    def create(self) -> None:
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    def _read(self) -> Any:
        return self.engine.connect().execution_options(**READ_ONLY)

    # -- health -----------------------------------------------------------------------------------
    def ping(self) -> None:
        with self._read() as conn:
            conn.exec_driver_sql("SELECT 1")

    # -- liveness ---------------------------------------------------------------------------------
    def heartbeat(self, worker: str) -> None:
        """Say this process is alive: its claims stay its own while its heartbeat is fresh."""
        now = time.time()
        stmt = self._insert(workers).values(id=worker, heartbeat_at=now, started_at=now)
        stmt = stmt.on_conflict_do_update(index_elements=[workers.c.id], set_={"heartbeat_at": now})
        with self._write() as conn:
            conn.execute(stmt)
            conn.execute(delete(workers).where(workers.c.heartbeat_at < now - 86400))

    def retire(self, worker: str) -> None:
        """A clean shutdown: hand back unfinished claims at once instead of waiting for staleness."""
        with self._write() as conn:
            conn.execute(
                update(inbox)
                .where(inbox.c.claimed_by == worker, inbox.c.status == "claimed")
                .values(status="pending", claimed_by=None, lease_until=None)
            )
            conn.execute(
                update(alerts)
                .where(alerts.c.claimed_by == worker, alerts.c.status == "sending")
                .values(status="pending", claimed_by=None, lease_until=None)
            )
            conn.execute(delete(workers).where(workers.c.id == worker))

    def _abandoned(self, table: Table, now: float, worker: str) -> Any:
        """A claim whose lease ran out, or another process's claim whose heartbeat stopped."""
        alive = select(workers.c.id).where(workers.c.heartbeat_at >= now - self.stale_after_s)
        return or_(
            table.c.lease_until < now,
            and_(table.c.claimed_by != worker, table.c.claimed_by.not_in(alive.scalar_subquery())),
        )

    # -- inbox ------------------------------------------------------------------------------------
    def ingest(self, rows: Sequence[InboxRow], decided: Sequence[LedgerEntry]) -> set[str]:
        """Insert-or-ignore the rows in one transaction; returns the uuids that were new.

        `decided` carries ledger entries for rows stored as already done; only those whose inbox row
        was new are written, so a redelivered event never gets a second ledger entry.
        """
        if not rows:
            return set()
        values = [
            {
                "uuid": r.uuid,
                "event_name": r.event_name,
                "payload": r.payload.decode() if r.payload is not None else None,
                "status": r.status,
                "received_at": r.received_at,
                "request_id": r.request_id,
                "attempts": 0,
                "next_attempt_at": 0.0,
            }
            for r in rows
        ]
        new: set[str] = set()
        with self._write() as conn:
            for start in range(0, len(values), 1000):  # stay under the drivers' parameter limits
                chunk = values[start : start + 1000]
                stmt = self._insert(inbox).values(chunk).on_conflict_do_nothing().returning(inbox.c.uuid)
                new.update(row[0] for row in conn.execute(stmt))
            entries = [e for e in decided if e.event_uuid in new]
            if entries:
                now = time.time()
                conn.execute(insert(ledger), [self._ledger_values(e, now) for e in entries])
        return new

    @staticmethod
    def _ledger_values(entry: LedgerEntry, now: float) -> dict[str, Any]:
        return {
            "event_uuid": entry.event_uuid,
            "event_name": entry.event_name[:400],
            "distinct_id": entry.distinct_id[:400] if entry.distinct_id else None,
            "account": entry.account,
            "outcome": entry.outcome,
            "signals": _dumps(entry.signals),
            "event_time": entry.event_time,
            "decided_at": now,
            "request_id": entry.request_id,
        }

    def claim_events(self, worker: str, limit: int, lease_s: float) -> list[ClaimedEvent]:
        """Lease up to `limit` due events. SKIP LOCKED keeps concurrent claimers on PostgreSQL apart."""
        now = time.time()
        due = or_(
            and_(inbox.c.status == "pending", inbox.c.next_attempt_at <= now),
            and_(inbox.c.status == "claimed", self._abandoned(inbox, now, worker)),
        )
        candidates = (
            select(inbox.c.uuid)
            .where(due)
            .order_by(inbox.c.received_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(inbox)
            .where(inbox.c.uuid.in_(candidates.scalar_subquery()))
            .where(due)
            .values(
                status="claimed",
                claimed_by=worker,
                lease_until=now + lease_s,
                attempts=inbox.c.attempts + 1,
            )
            .returning(
                inbox.c.uuid, inbox.c.payload, inbox.c.attempts, inbox.c.received_at, inbox.c.request_id
            )
        )
        with self._write() as conn:
            rows = conn.execute(stmt).all()
        claimed = [ClaimedEvent(r[0], (r[1] or "{}").encode(), r[2], r[3], r[4]) for r in rows]
        claimed.sort(key=lambda c: c.received_at)
        return claimed

    def _release_claim(self, conn: Connection, uuid: str, worker: str, **values: Any) -> bool:
        result = conn.execute(
            update(inbox)
            .where(inbox.c.uuid == uuid, inbox.c.claimed_by == worker, inbox.c.status == "claimed")
            .values(**values)
        )
        return result.rowcount == 1

    def retry_event(self, uuid: str, worker: str, error: str, delay_s: float) -> bool:
        with self._write() as conn:
            return self._release_claim(
                conn,
                uuid,
                worker,
                status="pending",
                claimed_by=None,
                lease_until=None,
                next_attempt_at=time.time() + delay_s,
                last_error=error[:2000],
            )

    def finish_event(
        self, uuid: str, worker: str, entry: LedgerEntry, new_alerts: Sequence[NewAlert], received_at: float
    ) -> Commit:
        """Record the decision and create alerts atomically, while the claim is still ours.

        Each alert first takes its (signal, account) cooldown slot; when another event took it first
        (in this or another process), that signal is recorded as `cooldown` instead.
        """
        now = time.time()
        with self._write() as conn:
            if not self._release_claim(conn, uuid, worker, status="done", lease_until=None, last_error=None):
                conn.rollback()
                return Commit(committed=False)
            commit = Commit(committed=True)
            for alert in new_alerts:
                if not self._take_cooldown(conn, alert.signal, alert.account, alert.cooldown_s, now):
                    commit.cooled_down[alert.signal] = alert.cooldown_s
                    continue
                conn.execute(
                    insert(alerts).values(
                        id=alert.id,
                        event_uuid=uuid,
                        signal=alert.signal,
                        account=alert.account,
                        channel=alert.channel,
                        owner=alert.owner,
                        score=alert.score,
                        message=_dumps(alert.message),
                        status="pending",
                        attempts=0,
                        next_attempt_at=0.0,
                        received_at=received_at,
                        created_at=now,
                        request_id=entry.request_id,
                    )
                )
                commit.alerts_created.append(alert.id)
            if commit.cooled_down:
                entry = _apply_cooldowns(entry, commit.cooled_down)
            conn.execute(insert(ledger).values(**self._ledger_values(entry, now)))
        return commit

    def _take_cooldown(
        self, conn: Connection, signal: str, account: str, cooldown_s: float, now: float
    ) -> bool:
        inserted = conn.execute(
            self._insert(cooldowns)
            .values(signal=signal, account=account, last_alert_at=now)
            .on_conflict_do_nothing()
            .returning(cooldowns.c.signal)
        ).first()
        if inserted is not None:
            return True
        taken = conn.execute(
            update(cooldowns)
            .where(
                cooldowns.c.signal == signal,
                cooldowns.c.account == account,
                cooldowns.c.last_alert_at <= now - cooldown_s,
            )
            .values(last_alert_at=now)
        ).rowcount
        return taken == 1

    def fail_event(self, uuid: str, worker: str, entry: LedgerEntry) -> bool:
        """Give up on an event after its last attempt; it is recorded, never silently dropped."""
        with self._write() as conn:
            if not self._release_claim(conn, uuid, worker, status="done", lease_until=None):
                conn.rollback()
                return False
            conn.execute(insert(ledger).values(**self._ledger_values(entry, time.time())))
            return True

    # -- reads for decisions ------------------------------------------------------------------------
    def account_history(
        self, account: str, since: float, exclude_uuid: str, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Recent ledger entries of an account in which some signal matched, newest first."""
        stmt = (
            select(ledger.c.event_uuid, ledger.c.event_name, ledger.c.signals, ledger.c.event_time)
            .where(
                ledger.c.account == account,
                ledger.c.event_time >= since,
                ledger.c.event_uuid != exclude_uuid,
                ledger.c.outcome != "filtered",
            )
            .order_by(ledger.c.event_time.desc())
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [
            {"event_uuid": r[0], "event_name": r[1], "signals": orjson.loads(r[2]), "event_time": r[3]}
            for r in rows
        ]

    def snoozed_until(self, account: str, now: float) -> float | None:
        with self._read() as conn:
            until = conn.execute(
                select(snoozes.c.until).where(snoozes.c.account == account, snoozes.c.until > now)
            ).scalar()
        return until

    def snooze(self, account: str, until: float, by: str | None) -> None:
        now = time.time()
        with self._write() as conn:
            conn.execute(delete(snoozes).where(snoozes.c.account == account))
            conn.execute(insert(snoozes).values(account=account, until=until, snoozed_by=by, created_at=now))

    # -- enrichment cache -----------------------------------------------------------------------------
    def cache_get(self, provider: str, key: str, now: float) -> tuple[bool, dict[str, Any] | None]:
        """(hit, value); a hit with None value is a cached "unknown company"."""
        with self._read() as conn:
            row = conn.execute(
                select(enrichment_cache.c.value).where(
                    enrichment_cache.c.provider == provider,
                    enrichment_cache.c.key == key,
                    enrichment_cache.c.expires_at > now,
                )
            ).first()
        if row is None:
            return False, None
        return True, (orjson.loads(row[0]) if row[0] is not None else None)

    def cache_put(self, provider: str, key: str, value: dict[str, Any] | None, ttl_s: float) -> None:
        now = time.time()
        values = {
            "provider": provider,
            "key": key,
            "value": _dumps(value) if value is not None else None,
            "fetched_at": now,
            "expires_at": now + ttl_s,
        }
        stmt = self._insert(enrichment_cache).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[enrichment_cache.c.provider, enrichment_cache.c.key],
            set_={k: stmt.excluded[k] for k in ("value", "fetched_at", "expires_at")},
        )
        with self._write() as conn:
            conn.execute(stmt)

    # -- alerts (outbox) ------------------------------------------------------------------------------
    def claim_alert(self, alert_id: str, worker: str, lease_s: float) -> ClaimedAlert | None:
        """Claim one alert for posting, if it is due and nobody holds it."""
        claimed = self._claim_alerts(worker, lease_s, alerts.c.id == alert_id, 1)
        return claimed[0] if claimed else None

    def due_alerts(self, worker: str, limit: int) -> list[tuple[str, str]]:
        """(id, channel) of alerts waiting to be posted: due retries and claims whose process died."""
        now = time.time()
        with self._read() as conn:
            rows = conn.execute(
                select(alerts.c.id, alerts.c.channel)
                .where(self._alert_due(now, worker))
                .order_by(alerts.c.created_at)
                .limit(limit)
            ).all()
        return [(r[0], r[1]) for r in rows]

    def _alert_due(self, now: float, worker: str) -> Any:
        return or_(
            and_(alerts.c.status == "pending", alerts.c.next_attempt_at <= now),
            and_(alerts.c.status == "sending", self._abandoned(alerts, now, worker)),
        )

    def _claim_alerts(self, worker: str, lease_s: float, only: Any, limit: int) -> list[ClaimedAlert]:
        """Claim and mark as sending in one transaction. The returned `sending_since` is the mark a
        previous claimer left (None when no request can have reached Slack yet)."""
        now = time.time()
        due = self._alert_due(now, worker)
        condition = due if only is None else and_(due, only)
        candidates = (
            select(
                alerts.c.id,
                alerts.c.event_uuid,
                alerts.c.signal,
                alerts.c.account,
                alerts.c.channel,
                alerts.c.message,
                alerts.c.attempts,
                alerts.c.received_at,
                alerts.c.request_id,
                alerts.c.sending_since,
            )
            .where(condition)
            .order_by(alerts.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._write() as conn:
            rows = conn.execute(candidates).all()
            if not rows:
                return []
            conn.execute(
                update(alerts)
                .where(alerts.c.id.in_([r[0] for r in rows]))
                .values(
                    status="sending",
                    claimed_by=worker,
                    lease_until=now + lease_s,
                    attempts=alerts.c.attempts + 1,
                    sending_since=func.coalesce(alerts.c.sending_since, now),
                )
            )
        return [
            ClaimedAlert(r[0], r[1], r[2], r[3], r[4], orjson.loads(r[5]), r[6] + 1, r[7], r[8], r[9])
            for r in rows
        ]

    def mark_posted(self, alert_id: str, worker: str, channel: str, ts: str) -> bool:
        with self._write() as conn:
            return (
                conn.execute(
                    update(alerts)
                    .where(alerts.c.id == alert_id, alerts.c.status == "sending")
                    .values(
                        status="posted",
                        ts=ts,
                        posted_channel=channel,
                        posted_at=time.time(),
                        lease_until=None,
                        error=None,
                    )
                ).rowcount
                == 1
            )

    def alert_retry(
        self, alert_id: str, worker: str, error: str, delay_s: float, uncertain: bool = False
    ) -> None:
        """Back to the queue. `uncertain`: the request may have reached Slack, so the next attempt
        looks for the message before posting (the `sending_since` mark is kept)."""
        values: dict[str, Any] = {
            "status": "pending",
            "claimed_by": None,
            "lease_until": None,
            "next_attempt_at": time.time() + delay_s,
            "error": error[:2000],
        }
        if not uncertain:
            values["sending_since"] = None
        with self._write() as conn:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id, alerts.c.claimed_by == worker, alerts.c.status == "sending")
                .values(**values)
            )

    def alert_failed(self, alert_id: str, worker: str, error: str, event_uuid: str, signal: str) -> None:
        """Give up on an alert and record it in the event's ledger entry."""
        with self._write() as conn:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id, alerts.c.status == "sending")
                .values(status="failed", lease_until=None, error=error[:2000])
            )
            row = conn.execute(select(ledger.c.signals).where(ledger.c.event_uuid == event_uuid)).first()
            if row is None:
                return
            decisions = orjson.loads(row[0])
            for decision in decisions:
                if decision.get("signal") == signal and decision.get("outcome") == "alerted":
                    decision["outcome"] = "failed"
                    decision["reason"] = f"Slack refused the alert: {error}"[:500]
            outcome = summarise_outcomes(decisions)
            conn.execute(
                update(ledger)
                .where(ledger.c.event_uuid == event_uuid)
                .values(signals=_dumps(decisions), outcome=outcome)
            )

    def get_alert(self, alert_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
        return dict(row) if row else None

    # -- observability ------------------------------------------------------------------------------
    def outcome_counts(self) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(select(ledger.c.outcome, func.count()).group_by(ledger.c.outcome)).all()
        return {r[0]: r[1] for r in rows}

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

    def ledger_entries(self, uuids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        stmt = select(ledger).order_by(ledger.c.decided_at)
        if uuids is not None:
            stmt = stmt.where(ledger.c.event_uuid.in_(list(uuids)))
        with self._read() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [{**row, "signals": orjson.loads(row["signals"])} for row in rows]

    def alerts_for(self, event_uuid: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(alerts).where(alerts.c.event_uuid == event_uuid)).mappings().all()
        return [dict(r) for r in rows]


OUTCOME_PRECEDENCE = ("alerted", "failed", "cooldown", "snoozed", "below_threshold", "no_account", "filtered")


def summarise_outcomes(decisions: Sequence[dict[str, Any]]) -> str:
    """The event's single outcome: the most consequential of its per-signal decisions."""
    outcomes = {d.get("outcome") for d in decisions}
    for outcome in OUTCOME_PRECEDENCE:
        if outcome in outcomes:
            return outcome
    return "filtered"


def _apply_cooldowns(entry: LedgerEntry, cooled: dict[str, float]) -> LedgerEntry:
    decisions = []
    for decision in entry.signals:
        signal = decision.get("signal")
        if signal in cooled and decision.get("outcome") == "alerted":
            window = format_duration(timedelta(seconds=cooled[signal]))
            reason = f"this account already had this alert within its {window} cooldown"
            decision = {**decision, "outcome": "cooldown", "reason": reason}
            decision.pop("alert_id", None)
        decisions.append(decision)
    return LedgerEntry(
        event_uuid=entry.event_uuid,
        event_name=entry.event_name,
        distinct_id=entry.distinct_id,
        account=entry.account,
        outcome=summarise_outcomes(decisions),
        signals=decisions,
        event_time=entry.event_time,
        request_id=entry.request_id,
    )
