"""The inbox and the decision ledger: ingest, claims, decisions."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import (
    and_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from bot.decide.outcomes import Outcome
from bot.store.base import StoreBase, abandoned
from bot.store.records import (
    ClaimedEvent,
    Commit,
    Finish,
    InboxRow,
    LedgerEntry,
    NewAlert,
    PastEntry,
    TotalKey,
    apply_cooldowns,
    parse_decisions,
    to_json,
)
from bot.store.stats import add_signal_events, signal_events
from bot.store.storable import storable
from bot.store.tables import alerts, cooldowns, inbox, ledger, ledger_totals, snoozes


def _oldest(due: Any) -> Any:
    return (
        select(inbox.c.uuid, inbox.c.received_at)
        .where(due)
        .order_by(inbox.c.received_at)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )


# Built once: the worker claims and commits a batch of events many times a second, and building a
# statement costs more than SQLite takes to run it.
_PENDING = _oldest(and_(inbox.c.status == "pending", inbox.c.next_attempt_at <= bindparam("now")))
_ABANDONED = _oldest(and_(inbox.c.status == "claimed", abandoned(inbox)))
_CLAIM = (
    update(inbox)
    .where(inbox.c.uuid.in_(bindparam("uuids", expanding=True)))
    .values(
        status="claimed",
        claimed_by=bindparam("claimer"),
        lease_until=bindparam("lease_until"),
        attempts=inbox.c.attempts + 1,
    )
    .returning(inbox.c.uuid, inbox.c.payload, inbox.c.attempts, inbox.c.received_at, inbox.c.request_id)
)
_RELEASE = (
    update(inbox)
    .where(
        inbox.c.uuid.in_(bindparam("uuids", expanding=True)),
        inbox.c.claimed_by == bindparam("claimer"),
        inbox.c.status == "claimed",
    )
    .values(status="done", lease_until=None, last_error=None)
    .returning(inbox.c.uuid)
)

_HISTORY = (
    select(ledger.c.signals, ledger.c.event_time)
    .where(
        ledger.c.account == bindparam("account"),
        ledger.c.event_time >= bindparam("since"),
        ledger.c.event_uuid != bindparam("exclude"),
        ledger.c.outcome != Outcome.FILTERED,
    )
    .order_by(ledger.c.event_time.desc())
    .limit(bindparam("limit"))
)


def pending_values(rows: Sequence[InboxRow]) -> list[tuple[object, ...]]:
    """Inbox rows as the bulk insert takes them: pending, never attempted."""
    return [
        (
            r.uuid,
            storable(r.event_name[:400]),
            r.payload.decode(),
            "pending",
            r.received_at,
            r.request_id,
            0,
            0.0,
        )
        for r in rows
    ]


def add_totals(store: StoreBase, conn: Connection, counts: Mapping[TotalKey, int]) -> None:
    """Add to the ledger's totals, in the caller's transaction: the counts of events without an entry
    of their own (counted, not stored; or their entry forgotten by retention, bot/store/retention.py)."""
    rows: dict[tuple[int, str, str], int] = {}
    for key, count in counts.items():  # names that store alike are one total
        stored = (key.minute, storable(key.event_name[:400]), key.outcome.value)
        rows[stored] = rows.get(stored, 0) + count
    if not rows:
        return
    insert_totals = store._insert(ledger_totals)
    upsert = insert_totals.on_conflict_do_update(
        index_elements=[ledger_totals.c.minute, ledger_totals.c.event_name, ledger_totals.c.outcome],
        set_={"count": ledger_totals.c.count + insert_totals.excluded.count},
    )
    values = [
        {"minute": minute, "event_name": name, "outcome": outcome, "count": count}
        for (minute, name, outcome), count in rows.items()
    ]
    conn.execute(upsert, values)


class EventStore(StoreBase):
    # -- inbox ------------------------------------------------------------------------------------
    def ingest(self, rows: Sequence[InboxRow]) -> set[str]:
        """Insert-or-ignore the rows, pending for the worker, in one transaction; returns the uuids that
        were new."""
        if not rows:
            return set()
        return self._bulk.insert(pending_values(rows))

    def add_totals(self, counts: Mapping[TotalKey, int]) -> None:
        """Add to the ledger's totals in one upsert: a total already there grows by what is added."""
        if counts:
            with self._write() as conn:
                add_totals(self, conn, counts)

    @staticmethod
    def _ledger_values(entry: LedgerEntry, now: float) -> dict[str, Any]:
        return {
            "event_uuid": entry.event_uuid,
            "event_name": entry.event_name,
            "distinct_id": entry.distinct_id or None,
            "account": entry.account,
            "outcome": entry.outcome.value,
            "signals": to_json(entry.signals),
            "event_time": entry.event_time,
            "decided_at": now,
            "request_id": entry.request_id,
        }

    def claim_events(self, worker: str, limit: int, lease_s: float) -> list[ClaimedEvent]:
        """Lease up to `limit` due events, oldest first. SKIP LOCKED keeps concurrent claimers on
        PostgreSQL apart.

        Pending events and abandoned claims are looked up apart, each along `ix_inbox_due` in the order
        they arrived, so a claim reads about `limit` rows however long the backlog. They are chosen and
        locked first, then updated, in one transaction: as a subquery of the UPDATE, PostgreSQL may run
        the locking LIMIT again for each row it updates, and so claim every due event whatever the
        limit."""
        now = time.time()
        params = {**self._claim_params(now, worker), "limit": limit}
        with self._write() as conn:
            candidates = [*conn.execute(_PENDING, params), *conn.execute(_ABANDONED, params)]
            if not candidates:
                return []
            uuids = [uuid for uuid, _ in sorted(candidates, key=lambda row: row[1])[:limit]]
            rows = conn.execute(
                _CLAIM, {"uuids": uuids, "claimer": worker, "lease_until": now + lease_s}
            ).all()
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

    def forget_payloads(self, before: float, after: float | None = None, batch: int = 2_000) -> int:
        """Drop the bodies of events decided and received before `before`, a batch per transaction so
        that no writer waits long; returns how many. A decided event's body is never read again (its
        ledger entry says what was decided and why), and its row stays: a redelivery is still a
        duplicate. `after`: only events received since (what an earlier round has not looked at), so
        a round reads along `ix_inbox_due` no further back than it needs to."""
        gone = 0
        received = [inbox.c.received_at < before]
        if after is not None:
            received.append(inbox.c.received_at >= after)
        while True:
            oldest = (
                select(inbox.c.uuid)
                .where(inbox.c.status == "done", *received, inbox.c.payload.is_not(None))
                .limit(batch)
            )
            with self._write() as conn:
                uuids = list(conn.execute(oldest).scalars())
                if uuids:
                    conn.execute(
                        update(inbox)
                        .where(inbox.c.uuid.in_(uuids), inbox.c.status == "done")
                        .values(payload=None)
                    )
            gone += len(uuids)
            if len(uuids) < batch:
                return gone

    def finish_events(self, worker: str, items: Sequence[Finish]) -> list[Commit]:
        """Record decisions (and count them towards their signals' hour, for `stats`) and create
        alerts in one transaction, each only while its claim is still ours (a lost claim leaves that
        event to whoever holds it now).

        Each alert first takes its (signal, account) cooldown slot; when another event took it first
        (in this or another process), that signal is recorded as `cooldown` instead. Rows are built
        before the transaction so the write lock is held for the statements only.
        """
        now = time.time()
        uuids = [item.uuid for item in items]
        alert_rows = {
            alert.id: self._alert_values(alert, item, now) for item in items for alert in item.alerts
        }
        commits: list[Commit] = []
        with self._write() as conn:
            owned = {row[0] for row in conn.execute(_RELEASE, {"uuids": uuids, "claimer": worker})}
            new_alerts: list[dict[str, Any]] = []
            ledger_rows: list[dict[str, Any]] = []
            entries: list[LedgerEntry] = []
            for item in items:
                if item.uuid not in owned:
                    commits.append(Commit(committed=False))
                    continue
                commit = Commit(committed=True)
                for alert in item.alerts:
                    if self._take_cooldown(conn, alert.signal, alert.account, alert.cooldown_s, now):
                        row = alert_rows[alert.id]
                        if alert.threaded:
                            row["thread_of"] = self._join_thread(conn, alert, now)
                            if row["thread_of"] and alert.details.priority == "high":
                                row["message"] = to_json({**alert.message, "reply_broadcast": True})
                        new_alerts.append(row)
                        commit.alerts_created.append(alert.id)
                        if alert.reports_snooze:
                            conn.execute(
                                update(snoozes).where(snoozes.c.id == alert.reports_snooze).values(reported=1)
                            )
                    else:
                        commit.cooled_down[alert.signal] = alert.cooldown_s
                entry = apply_cooldowns(item.entry, commit.cooled_down) if commit.cooled_down else item.entry
                commit.outcome = entry.outcome
                ledger_rows.append(self._ledger_values(entry, now))
                entries.append(entry)
                commits.append(commit)
            if new_alerts:
                conn.execute(insert(alerts), new_alerts)
            if ledger_rows:
                conn.execute(insert(ledger), ledger_rows)
                # Last: on PostgreSQL its rows are the ones concurrent commits share.
                add_signal_events(conn, self._insert, signal_events(entries, now))
        return commits

    @staticmethod
    def _alert_values(alert: NewAlert, item: Finish, now: float) -> dict[str, Any]:
        return {
            "id": alert.id,
            "event_uuid": item.uuid,
            "signal": alert.signal,
            "account": alert.account,
            "channel": alert.channel,
            "owner": alert.owner,
            "score": alert.score,
            "message": to_json(alert.message),
            "status": "digest" if alert.digested else "pending",  # a digest waits for its time
            "ts": None,
            "posted_channel": None,
            "attempts": 0,
            "next_attempt_at": 0.0,
            "claimed_by": None,
            "lease_until": None,
            "sending_since": None,
            "received_at": item.received_at,
            "created_at": now,
            "posted_at": None,
            "request_id": item.entry.request_id,
            "error": None,
            "details": to_json(alert.details),
            "state": "{}",
            "thread_of": None,
            "digest_id": None,
            "auto_task": int(alert.details.auto_task),
        }

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
            now = time.time()
            conn.execute(insert(ledger).values(**self._ledger_values(entry, now)))
            add_signal_events(conn, self._insert, signal_events([entry], now))
            return True

    # -- reads for decisions ------------------------------------------------------------------------
    def account_history(
        self, account: str, since: float, exclude_uuid: str, limit: int = 20
    ) -> list[PastEntry]:
        """Recent ledger entries of an account in which some signal matched, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                _HISTORY, {"account": account, "since": since, "exclude": exclude_uuid, "limit": limit}
            ).all()
        return [PastEntry(event_time, parse_decisions(signals)) for signals, event_time in rows]

    def outcome_counts(self) -> dict[str, int]:
        """Events by outcome: the ledger's entries and its totals (events counted, not stored)."""
        with self._read() as conn:
            entries = conn.execute(select(ledger.c.outcome, func.count()).group_by(ledger.c.outcome)).all()
            totals = conn.execute(
                select(ledger_totals.c.outcome, func.sum(ledger_totals.c.count)).group_by(
                    ledger_totals.c.outcome
                )
            ).all()
        counts: Counter[str] = Counter()
        for outcome, count in [*entries, *totals]:
            counts[outcome] += int(count)
        return dict(counts)

    def ledger_entries(self, uuids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        stmt = select(ledger).order_by(ledger.c.decided_at)
        if uuids is not None:
            stmt = stmt.where(ledger.c.event_uuid.in_(list(uuids)))
        with self._read() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [{**row, "signals": orjson.loads(row["signals"])} for row in rows]
