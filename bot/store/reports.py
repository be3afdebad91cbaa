"""Scheduled reports: the schedule's anchor per channel, and each period's report as an outbox row
keyed by the channel and the period's end.

The row is claimed before the report is composed (status `composing`, with a lease), so of several
processes due at the same moment one composes it (one read of PostHog's event definitions, not one
per process) and the others leave it; a composer that dies is taken over once its heartbeat is
stale or its lease runs out, and one whose composing failed takes its own claim up again. Composed,
the row becomes `pending` and delivery posts it like any alert, at most once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update

from bot.store.base import StoreBase, abandoned
from bot.store.messages import COMPOSING, REPORT_SIGNAL, message_row
from bot.store.records import to_json
from bot.store.tables import alerts, report_schedule


def report_key(channel: str, period: str) -> str:
    return f"{REPORT_SIGNAL}:{channel}:{period}"


@dataclass(frozen=True)
class ReportClaim:
    """The outcome of claiming a period's report: `report_id` when this caller is to compose it;
    `busy` when another process is composing it now (look again later); neither when it is done."""

    report_id: str | None = None
    busy: bool = False


class ReportStore(StoreBase):
    def report_started_at(self, channel: str, now: float) -> float:
        """When the channel's report schedule started: `now` for the first caller, ever after the
        time that caller wrote (insert-or-ignore, so concurrent first starts agree)."""
        with self._write() as conn:
            conn.execute(
                self._insert(report_schedule).values(channel=channel, started_at=now).on_conflict_do_nothing()
            )
            return float(
                conn.execute(
                    select(report_schedule.c.started_at).where(report_schedule.c.channel == channel)
                ).scalar_one()
            )

    def claim_report(
        self, report_id: str, channel: str, period: str, worker: str, now: float, lease_s: float, days: int
    ) -> ReportClaim:
        """Claim the period's report for composing: a new row under `report_id`, or the row of a
        claimer whose lease ran out (its id, which the report's metadata must carry)."""
        key = report_key(channel, period)
        row = message_row(report_id, REPORT_SIGNAL, key, channel, {}, {"period": period, "days": days}, now)
        row.update(status=COMPOSING, claimed_by=worker, lease_until=now + lease_s)
        with self._write() as conn:
            inserted = conn.execute(
                self._insert(alerts).values(row).on_conflict_do_nothing().returning(alerts.c.id)
            ).first()
            if inserted is not None:
                return ReportClaim(report_id)
            taken = conn.execute(
                update(alerts)
                .where(
                    alerts.c.event_uuid == key[:200],
                    alerts.c.signal == REPORT_SIGNAL,
                    alerts.c.status == COMPOSING,
                    or_(abandoned(alerts), alerts.c.claimed_by == worker),
                )
                .values(claimed_by=worker, lease_until=now + lease_s)
                .returning(alerts.c.id),
                # The lease runs on the schedule's clock; heartbeats are beaten on the wall clock.
                {**self._claim_params(now, worker), "alive_since": time.time() - self.stale_after_s},
            ).first()
            if taken is not None:
                return ReportClaim(str(taken[0]))
            status = conn.execute(
                select(alerts.c.status).where(
                    alerts.c.event_uuid == key[:200], alerts.c.signal == REPORT_SIGNAL
                )
            ).scalar()
        return ReportClaim(busy=status == COMPOSING)

    def report_composed(self, report_id: str, worker: str, message: dict[str, Any], now: float) -> bool:
        """The composed report, queued for posting; false (nothing written) when this process's claim
        was taken over meanwhile."""
        with self._write() as conn:
            done = conn.execute(
                update(alerts)
                .where(alerts.c.id == report_id, alerts.c.status == COMPOSING, alerts.c.claimed_by == worker)
                .values(
                    message=to_json(message),
                    status="pending",
                    claimed_by=None,
                    lease_until=None,
                    next_attempt_at=0.0,
                    created_at=now,
                )
            ).rowcount
        return bool(done)
