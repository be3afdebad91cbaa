"""Counting towards account-level thresholds: each event once per signal, and the account's window
read in the same transaction, taking turns per (signal, account) so that several processes on one
PostgreSQL count as one (SQLite's one writer serialises them anyway)."""

from __future__ import annotations

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.engine import Connection

from bot.decide.thresholds import LATEST_SHOWN, Contribution, Tally
from bot.store.base import StoreBase
from bot.store.tables import threshold_accounts, threshold_events

_IN_WINDOW = and_(
    threshold_events.c.signal == bindparam("signal"),
    threshold_events.c.account == bindparam("account"),
    threshold_events.c.event_time >= bindparam("since"),
    threshold_events.c.event_time <= bindparam("until"),
)
_TALLY = select(
    func.count(),
    func.count(func.distinct(threshold_events.c.distinct_id)),
    func.coalesce(func.sum(threshold_events.c.value), 0.0),
).where(_IN_WINDOW)
_LATEST = (
    select(threshold_events.c.distinct_id, threshold_events.c.event_time)
    .where(_IN_WINDOW)
    .order_by(threshold_events.c.event_time.desc())
    .limit(LATEST_SHOWN)
)
_COUNTED = select(threshold_events.c.event_uuid).where(
    threshold_events.c.signal == bindparam("signal"), threshold_events.c.event_uuid == bindparam("uuid")
)
_SEEN_PERSON = select(threshold_events.c.event_uuid).where(
    _IN_WINDOW, threshold_events.c.distinct_id == bindparam("person")
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
        self, signal: str, account: str, event: Contribution, within_s: float, record: bool = True
    ) -> Tally:
        """The account's window for `signal` ending at the event's time, the event included. With
        `record`, the event is kept (once, however often it is counted); without, nothing is written
        (a dry run: `/posthog test`, `replay` against the store)."""
        params = {
            "signal": signal,
            "account": account,
            "since": event.event_time - within_s,
            "until": event.event_time,
            "uuid": event.event_uuid,
        }
        if not record:
            with self._read() as conn:
                tally = self._tally(conn, params)
                if conn.execute(_COUNTED, params).first() is not None:
                    return tally
                seen = event.distinct_id is not None and (
                    conn.execute(_SEEN_PERSON, {**params, "person": event.distinct_id}).first() is not None
                )
            return _with(tally, event, new_person=event.distinct_id is not None and not seen)
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
            return self._tally(conn, params)

    @staticmethod
    def _tally(conn: Connection, params: dict[str, object]) -> Tally:
        count, people, total = conn.execute(_TALLY, params).one()
        latest = tuple((row[0], row[1]) for row in conn.execute(_LATEST, params))
        return Tally(int(count), int(people), float(total), latest)


def _with(tally: Tally, event: Contribution, new_person: bool) -> Tally:
    """`tally` as if `event` were counted too (a dry run)."""
    latest = sorted([(event.distinct_id, event.event_time), *tally.latest], key=lambda row: -row[1])
    return Tally(
        tally.count + 1,
        tally.people + (1 if new_person else 0),
        tally.total + event.value,
        tuple(latest[:LATEST_SHOWN]),
    )
