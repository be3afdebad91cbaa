"""Alerts waiting for Slack (the outbox): claims, outcomes, reads."""

from __future__ import annotations

import time
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    and_,
    func,
    or_,
    select,
    update,
)

from bot.decide.outcomes import Outcome, overall, slack_refused
from bot.store.base import StoreBase, abandoned
from bot.store.messages import DIGEST_SIGNAL
from bot.store.records import ClaimedAlert, parse_decisions, to_json
from bot.store.tables import alerts, ledger
from bot.store.threads import end_thread


class AlertStore(StoreBase):
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
                .where(self._alert_due(now))
                .order_by(alerts.c.created_at)
                .limit(limit),
                self._claim_params(now, worker),
            ).all()
        return [(r[0], r[1]) for r in rows]

    def _alert_due(self, now: float) -> Any:
        return or_(
            and_(alerts.c.status == "pending", alerts.c.next_attempt_at <= now),
            and_(alerts.c.status == "sending", abandoned(alerts)),
        )

    def _claim_alerts(self, worker: str, lease_s: float, only: Any, limit: int) -> list[ClaimedAlert]:
        """Claim and mark as sending in one transaction. The returned `sending_since` is the mark a
        previous claimer left (None when no request can have reached Slack yet)."""
        now = time.time()
        due = self._alert_due(now)
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
                alerts.c.created_at,
                alerts.c.thread_of,
                alerts.c.auto_task,
            )
            .where(condition)
            .order_by(alerts.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._write() as conn:
            rows = conn.execute(candidates, self._claim_params(now, worker)).all()
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
            ClaimedAlert(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                orjson.loads(r[5]),
                r[6] + 1,
                r[7],
                r[8],
                r[9],
                r[10],
                r[11],
                bool(r[12]),
            )
            for r in rows
        ]

    def mark_posted(self, alert_id: str, worker: str, channel: str, ts: str) -> bool:
        """Record the post. The alerts a digest lists learn the channel it is in (the id Slack
        answered with), so their buttons in it are honoured there."""
        with self._write() as conn:
            posted = conn.execute(
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
                .returning(alerts.c.signal)
            ).first()
            if posted is not None and posted[0] == DIGEST_SIGNAL:  # only a digest lists alerts
                conn.execute(
                    update(alerts).where(alerts.c.digest_id == alert_id).values(posted_channel=channel)
                )
            return posted is not None

    def alert_retry(
        self,
        alert_id: str,
        worker: str,
        error: str,
        delay_s: float,
        uncertain: bool = False,
        counted: bool = True,
    ) -> None:
        """Back to the queue. `uncertain`: the request may have reached Slack, so the next attempt
        looks for the message before posting (the `sending_since` mark is kept). Not `counted`: the
        attempt this claim took is given back (Slack did not answer, so it tells nothing about the
        alert)."""
        values: dict[str, Any] = {
            "status": "pending",
            "claimed_by": None,
            "lease_until": None,
            "next_attempt_at": time.time() + delay_s,
            "error": error[:2000],
        }
        if not uncertain:
            values["sending_since"] = None
        if not counted:
            values["attempts"] = alerts.c.attempts - 1
        with self._write() as conn:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id, alerts.c.claimed_by == worker, alerts.c.status == "sending")
                .values(**values)
            )

    def alert_failed(self, alert_id: str, worker: str, error: str, event_uuid: str, signal: str) -> None:
        """Give up on an alert and record it in the event's ledger entry. The entry is read FOR UPDATE,
        so another alert of the event failing at the same moment (on PostgreSQL, in another process)
        waits for this change instead of writing back the entry without it."""
        with self._write() as conn:
            failed = conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id, alerts.c.status == "sending")
                .values(status="failed", lease_until=None, error=error[:2000])
            ).rowcount
            if not failed:
                return  # posted or failed meanwhile: nothing changes
            end_thread(conn, alert_id)
            listed = []
            if signal == DIGEST_SIGNAL:  # each alert a digest listed failed with it
                listed = conn.execute(
                    select(alerts.c.event_uuid, alerts.c.signal).where(alerts.c.digest_id == alert_id)
                ).all()
            if listed:
                conn.execute(
                    update(alerts)
                    .where(alerts.c.digest_id == alert_id)
                    .values(status="failed", error=error[:2000])
                )
            for uuid, name in [(event_uuid, signal), *listed]:
                _ledger_failed(conn, uuid, name, error)


def _ledger_failed(conn: Connection, event_uuid: str, signal: str, error: str) -> None:
    """The event's ledger entry says its alert of `signal` failed. The entry is read FOR UPDATE."""
    row = conn.execute(
        select(ledger.c.signals).where(ledger.c.event_uuid == event_uuid).with_for_update()
    ).first()
    if row is None:
        return
    decisions = [
        d.model_copy(update={"outcome": Outcome.FAILED, "reason": slack_refused(error)})
        if d.signal == signal and d.outcome is Outcome.ALERTED
        else d
        for d in parse_decisions(row[0])
    ]
    conn.execute(
        update(ledger)
        .where(ledger.c.event_uuid == event_uuid)
        .values(signals=to_json(decisions), outcome=overall(decisions))
    )
