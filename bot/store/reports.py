"""Scheduled reports: the schedule's anchor per channel, and the report of a period queued in the
outbox under a key made of the channel and the period's end, so however many processes are due at
once, and however often one restarts, each period's report is queued (and posted) once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.store.base import StoreBase
from bot.store.messages import REPORT_SIGNAL, message_row
from bot.store.tables import alerts, report_schedule


def report_key(channel: str, period: str) -> str:
    return f"{REPORT_SIGNAL}:{channel}:{period}"


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

    def report_queued(self, channel: str, period: str) -> bool:
        """Whether the period's report exists already (then there is nothing to compose)."""
        with self._read() as conn:
            found = conn.execute(
                select(alerts.c.id).where(alerts.c.event_uuid == report_key(channel, period))
            ).first()
        return found is not None

    def queue_report(
        self, report_id: str, channel: str, period: str, message: dict[str, Any], now: float, days: int
    ) -> bool:
        """Queue the period's report for posting: false when it was queued before (by
        another process, or before a restart), and then nothing changes."""
        row = message_row(
            report_id,
            REPORT_SIGNAL,
            report_key(channel, period),
            channel,
            message,
            {"period": period, "days": days},
            now,
        )
        with self._write() as conn:
            inserted = conn.execute(
                self._insert(alerts).values(row).on_conflict_do_nothing().returning(alerts.c.id)
            ).first()
        return inserted is not None
