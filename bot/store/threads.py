"""One thread per account and channel: which alert a new alert replies to, where that root is in
Slack, and what the root says of its thread.

The root is chosen when an alert is committed, before anything is sent, by an upsert on the
`threads` row of (account, channel): whichever alert comes first starts the thread, and every later
alert that comes within 7 days of the thread's latest one (root or reply) takes it as its root, in
this process or another. So a thread stays open while the account keeps alerting at least once a
week, however long that goes on. A retry, a restart or another process posting the reply therefore
finds the same root, and its `ts` in the store.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, case, delete, func, select, update

from bot.alerts.model import AlertState, ThreadShown
from bot.store.alert_actions import ActionStore, AlertRecord
from bot.store.records import NewAlert, to_json
from bot.store.tables import alerts, threads

THREAD_WINDOW_S = 7 * 86400  # a later alert joins the account's thread when its latest alert is this recent


@dataclass(frozen=True)
class ThreadRoot:
    """Where a reply goes: its root's state, and its message once posted."""

    status: str  # pending | sending | posted | failed
    channel: str | None
    ts: str | None
    next_attempt_at: float = 0.0  # when a root waiting to be retried is tried again


def end_thread(conn: Connection, root_id: str) -> None:
    """A root that will never be in Slack starts no more replies: the next alert starts anew."""
    conn.execute(delete(threads).where(threads.c.root_alert_id == root_id))


class ThreadStore(ActionStore):
    def _join_thread(self, conn: Connection, alert: NewAlert, now: float) -> str | None:
        """The alert the new `alert` replies to, or None when it starts the account's thread in its
        channel (no thread, or none whose latest alert is within 7 days). One statement: concurrent
        alerts agree.

        The row's `started_at` is the time of the thread's latest alert, root or reply: every alert
        that joins moves it forward (never back, whatever the clocks of the processes), under the
        row's lock, so the next alert measures the window from it."""
        statement = self._insert(threads).values(
            account=alert.account, channel=alert.channel, root_alert_id=alert.id, started_at=now
        )
        stale = threads.c.started_at < now - THREAD_WINDOW_S
        latest = case(
            (threads.c.started_at > statement.excluded.started_at, threads.c.started_at),
            else_=statement.excluded.started_at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[threads.c.account, threads.c.channel],
            set_={
                "root_alert_id": case(
                    (stale, statement.excluded.root_alert_id), else_=threads.c.root_alert_id
                ),
                "started_at": latest,
            },
        ).returning(threads.c.root_alert_id)
        root = conn.execute(statement).scalar_one()
        return None if root == alert.id else str(root)

    def threads_of(self, alert_ids: Sequence[str]) -> dict[str, str]:
        """The root of each of `alert_ids` that replies in a thread."""
        if not alert_ids:
            return {}
        with self._read() as conn:
            rows = conn.execute(
                select(alerts.c.id, alerts.c.thread_of).where(
                    alerts.c.id.in_(list(alert_ids)), alerts.c.thread_of.is_not(None)
                )
            ).all()
        return {r[0]: r[1] for r in rows}

    def thread_root(self, root_id: str) -> ThreadRoot | None:
        with self._read() as conn:
            row = conn.execute(
                select(alerts.c.status, alerts.c.posted_channel, alerts.c.ts, alerts.c.next_attempt_at).where(
                    alerts.c.id == root_id
                )
            ).first()
        return ThreadRoot(row[0], row[1], row[2], row[3] or 0.0) if row is not None else None

    def leave_thread(self, alert_id: str, root_id: str) -> None:
        """Slack no longer takes replies under `root_id` (deleted, or locked): the alert is posted on its
        own, and the account's next alert starts a new thread."""
        with self._write() as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(thread_of=None))
            end_thread(conn, root_id)

    def thread_grew(self, root_id: str) -> tuple[AlertRecord, AlertState] | None:
        """Count the replies posted in the root's thread into its state (one transaction, the root's
        row locked, so replies posted at once by several processes each leave the full count), and
        return the root with that state, for its message to be updated."""
        with self._write() as conn:
            raw = conn.execute(
                select(alerts.c.state).where(alerts.c.id == root_id).with_for_update()
            ).scalar()
            if raw is None:
                return None
            posted = and_(alerts.c.thread_of == root_id, alerts.c.status == "posted")
            count = conn.execute(select(func.count()).select_from(alerts).where(posted)).scalar_one()
            latest = conn.execute(
                select(alerts.c.signal, alerts.c.posted_at)
                .where(posted)
                .order_by(alerts.c.posted_at.desc())
                .limit(1)
            ).first()
            current = AlertState.model_validate_json(raw or "{}")
            if latest is None:
                return None
            shown = ThreadShown(
                replies=int(count), latest_signal=latest[0], latest_at=latest[1] or time.time()
            )
            state = current.with_thread(shown).model_copy(update={"version": current.version + 1})
            conn.execute(update(alerts).where(alerts.c.id == root_id).values(state=to_json(state)))
        record = self.alert(root_id)
        return (record, state) if record is not None else None
