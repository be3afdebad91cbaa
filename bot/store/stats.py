"""What `stats` reads: per signal, how many events it saw, how many alerts it sent and what people did
with them (a task, a snooze, "not relevant" and why), so a team can tell how good each rule is.
Reads only; one statement for the period's alerts and one pass over the period's ledger entries."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, select

from bot.store.alert_actions import AUTO_REQUESTER
from bot.store.base import StoreBase
from bot.store.messages import MESSAGE_SIGNALS
from bot.store.tables import alerts, feedback, ledger, snoozes, tasks

# The most ledger entries one `stats` reads: past it the events seen are a lower bound (`capped`).
# A week of signal events is far below this; unbounded, a busy month could hold a process for long.
MAX_LEDGER_ROWS = 500_000


@dataclass(frozen=True, slots=True)
class SignalStats:
    """One signal over the period: what it saw, what it sent and what was done with what it sent."""

    signal: str
    events: int = 0  # ledger entries that name the signal (any outcome)
    alerts: int = 0
    tasks_clicked: int = 0
    tasks_auto: int = 0
    snoozed: int = 0
    not_relevant: dict[str, int] = field(default_factory=dict)  # FeedbackReason value -> alerts
    no_action: int = 0  # no task, no feedback, no snooze yet
    dismissed_median: float | None = None  # median score of the alerts marked not relevant
    acted_median: float | None = None  # median score of the alerts with a task
    events_capped: bool = False  # the ledger held more than MAX_LEDGER_ROWS entries in the period

    @property
    def tasks(self) -> int:
        return self.tasks_clicked + self.tasks_auto

    @property
    def dismissed(self) -> int:
        return sum(self.not_relevant.values())

    @property
    def judged(self) -> int:
        """Alerts someone decided about: with a task, or not relevant."""
        return self.tasks + self.dismissed

    @property
    def precision(self) -> float | None:
        """Alerts with a task / (alerts with a task + not relevant); None before anything was judged."""
        return self.tasks / self.judged if self.judged else None


@dataclass(slots=True)
class _Tally:
    events: int = 0
    alerts: int = 0
    clicked: int = 0
    auto: int = 0
    snoozed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    no_action: int = 0
    dismissed_scores: list[int] = field(default_factory=list)
    acted_scores: list[int] = field(default_factory=list)


def _has_snooze(state: str | None) -> bool:
    try:
        parsed = orjson.loads(state or "{}")
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and bool(parsed.get("snooze"))


def _signals_named(raw: str | None) -> set[str]:
    """The signals a ledger entry's decisions name (an entry counts once per signal)."""
    try:
        decisions = orjson.loads(raw or "[]")
    except orjson.JSONDecodeError:
        return set()
    if not isinstance(decisions, list):
        return set()
    return {d["signal"] for d in decisions if isinstance(d, dict) and isinstance(d.get("signal"), str)}


def _median(scores: list[int]) -> float | None:
    return float(statistics.median(scores)) if scores else None


class StatsStore(StoreBase):
    def signal_stats(self, since: float) -> list[SignalStats]:
        """Per signal, the period from `since` on: events seen, alerts and what was done with them;
        most alerts first, then most events. `ledger_totals` is left out: its events have no signal."""
        snoozed_ids = select(snoozes.c.alert_id).where(snoozes.c.alert_id.is_not(None))
        query = (
            select(
                alerts.c.signal,
                alerts.c.score,
                alerts.c.state,
                tasks.c.requested_by,
                feedback.c.reason,
                alerts.c.id.in_(snoozed_ids).label("snoozed"),
            )
            .select_from(
                # A task counts once it exists: an attempt in progress or failed is no task yet.
                alerts.outerjoin(
                    tasks, and_(tasks.c.alert_id == alerts.c.id, tasks.c.status == "created")
                ).outerjoin(feedback, feedback.c.alert_id == alerts.c.id)
            )
            .where(alerts.c.created_at >= since, alerts.c.signal.not_in(MESSAGE_SIGNALS))
        )
        # Only entries some signal decided about carry `"signal"` in their JSON; the rest are skipped
        # by the database. Capped (reads run outside a transaction on PostgreSQL, so no server-side
        # cursor): the cap keeps a busy period's read bounded in time and memory.
        entries = (
            select(ledger.c.signals)
            .where(ledger.c.decided_at >= since, ledger.c.signals.like('%"signal"%'))
            .limit(MAX_LEDGER_ROWS + 1)
        )
        tallies: defaultdict[str, _Tally] = defaultdict(_Tally)
        read = 0
        with self._read() as conn:
            for r in conn.execute(query).mappings():
                self._count_alert(tallies[r["signal"]], r)
            for (raw,) in conn.execute(entries):
                read += 1
                if read > MAX_LEDGER_ROWS:
                    break
                for name in _signals_named(raw):
                    tallies[name].events += 1
        capped = read > MAX_LEDGER_ROWS
        found = [
            SignalStats(
                signal=name,
                events=t.events,
                alerts=t.alerts,
                tasks_clicked=t.clicked,
                tasks_auto=t.auto,
                snoozed=t.snoozed,
                not_relevant=dict(sorted(t.reasons.items())),
                no_action=t.no_action,
                dismissed_median=_median(t.dismissed_scores),
                acted_median=_median(t.acted_scores),
                events_capped=capped,
            )
            for name, t in tallies.items()
            if name not in MESSAGE_SIGNALS
        ]
        return sorted(found, key=lambda s: (-s.alerts, -s.events, s.signal))

    @staticmethod
    def _count_alert(tally: _Tally, r: Mapping[str, Any]) -> None:
        tally.alerts += 1
        requested_by, reason = r["requested_by"], r["reason"]
        snoozed = bool(r["snoozed"]) or _has_snooze(r["state"])
        if requested_by is not None:
            if requested_by == AUTO_REQUESTER:
                tally.auto += 1
            else:
                tally.clicked += 1
            tally.acted_scores.append(int(r["score"]))
        if reason is not None:
            tally.reasons[reason] += 1
            tally.dismissed_scores.append(int(r["score"]))
        if snoozed:
            tally.snoozed += 1
        if requested_by is None and reason is None and not snoozed:
            tally.no_action += 1
