"""Counting towards account-level thresholds: each event once per signal, and the account's events
around it read in the same transaction, taking turns per (signal, account) so that several processes
on one PostgreSQL count as one (SQLite's one writer serialises them anyway). Which window the event
reached is worked out in bot/decide/thresholds.py."""

from __future__ import annotations

from sqlalchemy import and_, bindparam, delete, func, select
from sqlalchemy.engine import Connection

from bot.config.signals_file import Threshold
from bot.decide.thresholds import LATEST_SHOWN, Contribution, Tally, best_window
from bot.store.base import StoreBase
from bot.store.tables import threshold_accounts, threshold_events

# Events further from this one than this are left out of its windows: an account with more within
# twice the window is past any threshold a signal file would set.
MAX_AROUND = 20_000

_AROUND = (
    select(
        threshold_events.c.event_uuid,
        threshold_events.c.event_time,
        threshold_events.c.distinct_id,
        threshold_events.c.value,
    )
    .where(
        threshold_events.c.signal == bindparam("signal"),
        threshold_events.c.account == bindparam("account"),
        threshold_events.c.event_time >= bindparam("since"),
        threshold_events.c.event_time <= bindparam("until"),
    )
    .order_by(threshold_events.c.event_time)
    .limit(MAX_AROUND)
)
_ENDING_AT = and_(
    threshold_events.c.signal == bindparam("signal"),
    threshold_events.c.account == bindparam("account"),
    threshold_events.c.event_time >= bindparam("since"),
    threshold_events.c.event_time <= bindparam("at"),
)
_WINDOW = select(
    func.count(),
    func.count(func.distinct(threshold_events.c.distinct_id)),
    func.coalesce(func.sum(threshold_events.c.value), 0.0),
).where(_ENDING_AT)
_LATEST = (
    select(threshold_events.c.distinct_id, threshold_events.c.event_time)
    .where(_ENDING_AT)
    .order_by(threshold_events.c.event_time.desc())
    .limit(LATEST_SHOWN)
)
_LATER = select(threshold_events.c.event_uuid).where(
    threshold_events.c.signal == bindparam("signal"),
    threshold_events.c.account == bindparam("account"),
    threshold_events.c.event_time > bindparam("at"),
    threshold_events.c.event_time <= bindparam("until"),
)
_FORGET = delete(threshold_events).where(
    threshold_events.c.signal == bindparam("key_signal"),
    threshold_events.c.event_uuid == bindparam("key_uuid"),
)
_TURN = (
    select(threshold_accounts.c.signal)
    .where(
        threshold_accounts.c.signal == bindparam("signal"),
        threshold_accounts.c.account == bindparam("account"),
    )
    .with_for_update()
)


class ThresholdStore(StoreBase):
    def count_towards(
        self, signal: str, account: str, event: Contribution, threshold: Threshold, record: bool = True
    ) -> Tally:
        """The account's window for `signal` that this event reached (see `best_window`). With
        `record`, the event is kept, once however often it is counted; without, nothing is written
        (a dry run: `/posthog test`), and the event is counted as if it were kept."""
        within = threshold.within.total_seconds()
        params = {
            "signal": signal,
            "account": account,
            "since": event.event_time - within,
            "until": event.event_time + within,
            "at": event.event_time,
        }
        if not record:
            with self._read() as conn:
                return best_window(threshold, self._around(conn, params), event)
        with self._write() as conn:
            conn.execute(
                self._insert(threshold_accounts)
                .values(signal=signal, account=account)
                .on_conflict_do_nothing()
            )
            conn.execute(_TURN, params).first()  # waits for any other process counting this account
            conn.execute(
                self._insert(threshold_events)
                .values(
                    signal=signal,
                    event_uuid=event.event_uuid,
                    account=account,
                    event_time=event.event_time,
                    distinct_id=event.distinct_id,
                    value=event.value,
                )
                .on_conflict_do_nothing()
            )
            if conn.execute(_LATER.limit(1), params).first() is not None:
                # Counted after later events: their windows may hold it too (see best_window).
                return best_window(threshold, self._around(conn, params), event)
            # In event-time order, as nearly always: the window ending at the event is its only one.
            count, people, total = conn.execute(_WINDOW, params).one()
            latest = tuple((row[0], row[1]) for row in conn.execute(_LATEST, params))
            return Tally(int(count), int(people), float(total), latest)

    def forget_threshold_events(self, before: float, batch: int = 2_000) -> int:
        """Delete the counted events older than `before`, a batch per transaction so that no writer
        waits long; returns how many went."""
        gone = 0
        while True:
            oldest = (
                select(threshold_events.c.signal, threshold_events.c.event_uuid)
                .where(threshold_events.c.event_time < before)
                .limit(batch)
            )
            with self._write() as conn:
                keys = [{"key_signal": row[0], "key_uuid": row[1]} for row in conn.execute(oldest)]
                if keys:
                    conn.execute(_FORGET, keys)
            gone += len(keys)
            if len(keys) < batch:
                return gone

    @staticmethod
    def _around(conn: Connection, params: dict[str, object]) -> list[Contribution]:
        return [Contribution(row[0], row[1], row[2], row[3]) for row in conn.execute(_AROUND, params)]
