"""What `stats` reads: per signal, how many events it saw, how many alerts it sent and what people did
with them (a task, a snooze, "not relevant" and why), so a team can tell how good each rule is.

Events seen are counted as they are decided, per signal and UTC hour (`signal_hours`, added to in the
transaction that writes the ledger entries), so a period costs the same to read whatever it holds: one
statement for its alerts, one for its whole hours of events, and the ledger entries of the parts of an
hour it starts and ends with (at most an hour's entries each), which keeps the count exact."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from bot.store.alert_actions import AUTO_REQUESTER
from bot.store.base import StoreBase
from bot.store.messages import MESSAGE_SIGNALS
from bot.store.records import LedgerEntry
from bot.store.storable import storable
from bot.store.tables import alerts, feedback, ledger, signal_hours, snoozes, tasks

HOUR_S = 3600


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


def hour_of(at: float) -> int:
    """The start of the UTC hour `at` falls in: how `signal_hours` files an entry decided at `at`."""
    return int(at // HOUR_S) * HOUR_S


def stored_signal(name: str) -> str:
    """A signal's name as its rows store it (storable.py): names that store alike are one count."""
    return storable(name[:100])


def signal_events(entries: Iterable[LedgerEntry], decided_at: float) -> Counter[tuple[int, str]]:
    """What `entries` decided at `decided_at` add to `signal_hours`: each counts once for every signal
    its decisions name."""
    counts: Counter[tuple[int, str]] = Counter()
    hour = hour_of(decided_at)
    for entry in entries:
        counts.update({(hour, stored_signal(d.signal)) for d in entry.signals if d.signal is not None})
    return counts


_UPSERTS: dict[Any, Any] = {}  # per dialect: built once, as the worker adds counts with every commit


def _upsert(insert: Any) -> Any:
    stmt = _UPSERTS.get(insert)
    if stmt is None:
        stmt = insert(signal_hours)
        stmt = _UPSERTS[insert] = stmt.on_conflict_do_update(
            index_elements=[signal_hours.c.hour, signal_hours.c.signal],
            set_={"events": signal_hours.c.events + stmt.excluded.events},
        )
    return stmt


def add_signal_events(conn: Connection, insert: Any, counts: Mapping[tuple[int, str], int]) -> None:
    """Add to `signal_hours` in `conn`'s transaction, the one that writes the entries counted: one
    upsert row per (hour, signal), in key order, so writers on PostgreSQL that add to the same rows
    wait for one another instead of deadlocking. `insert` is the dialect's (for ON CONFLICT)."""
    if counts:
        rows = [{"hour": h, "signal": name, "events": n} for (h, name), n in sorted(counts.items())]
        conn.execute(_upsert(insert), rows)


def _signals_named(raw: str | None) -> set[str]:
    """The signals a ledger entry's decisions name, as stored (an entry counts once per signal)."""
    try:
        decisions = orjson.loads(raw or "[]")
    except orjson.JSONDecodeError:
        return set()
    if not isinstance(decisions, list):
        return set()
    return {
        stored_signal(d["signal"])
        for d in decisions
        if isinstance(d, dict) and isinstance(d.get("signal"), str)
    }


def _period_parts(
    since: float, until: float | None
) -> tuple[tuple[int, int | None] | None, list[tuple[float, float]]]:
    """A period as the whole hours `signal_hours` counts ([first, last), last None for "on") and the
    parts of an hour at its edges, read from the ledger itself: at most an hour's entries at each
    end, so the count is exact and costs the same whatever the period holds."""
    first = hour_of(since)
    if first < since:
        first += HOUR_S
    last = None if until is None else hour_of(until)
    if last is not None and first >= last:  # no whole hour inside: read the entries themselves
        return None, [(since, until)] if until is not None and since < until else []
    edges = [(since, float(first))] if first > since else []
    if last is not None and until is not None and until > last:
        edges.append((float(last), until))
    return (first, last), edges


def _median(scores: list[int]) -> float | None:
    return float(statistics.median(scores)) if scores else None


class StatsStore(StoreBase):
    def signal_stats(self, since: float, until: float | None = None) -> list[SignalStats]:
        """Per signal, the period from `since` up to `until` (now when None): events seen, alerts and
        what was done with them; most alerts first, then most events. `ledger_totals` is left out: its
        events have no signal."""
        snoozed_ids = select(snoozes.c.alert_id).where(snoozes.c.alert_id.is_not(None))
        in_period = [alerts.c.created_at >= since, alerts.c.signal.not_in(MESSAGE_SIGNALS)]
        if until is not None:
            in_period.append(alerts.c.created_at < until)
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
            .where(*in_period)
        )
        hours, edges = _period_parts(since, until)
        tallies: defaultdict[str, _Tally] = defaultdict(_Tally)
        with self._read() as conn:
            for r in conn.execute(query).mappings():
                self._count_alert(tallies[r["signal"]], r)
            if hours is not None:
                counted = select(signal_hours.c.signal, func.sum(signal_hours.c.events)).where(
                    signal_hours.c.hour >= hours[0]
                )
                if hours[1] is not None:
                    counted = counted.where(signal_hours.c.hour < hours[1])
                for name, events in conn.execute(counted.group_by(signal_hours.c.signal)):
                    tallies[name].events += int(events)
            for start, end in edges:
                # Only entries some signal decided about carry `"signal"` in their JSON; the
                # database skips the rest.
                edge = select(ledger.c.signals).where(
                    ledger.c.decided_at >= start,
                    ledger.c.decided_at < end,
                    ledger.c.signals.like('%"signal"%'),
                )
                for (raw,) in conn.execute(edge):
                    for name in _signals_named(raw):
                        tallies[name].events += 1
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
