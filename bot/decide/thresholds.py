"""Account-level thresholds, pure: what one event adds to its account's window, whether the window
reached the signal's threshold, and how that is said in the ledger and the alert.

A window reaches back `within` from its end (both ends included), in event time, so a late or
replayed delivery counts where its timestamp puts it (see `best_window`). The store keeps the events
and hands them here (bot/store/thresholds.py); nothing here reads it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.config.signals_file import Threshold
from bot.decide.matching import lookup

LATEST_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Contribution:
    """One event, as a threshold counts it."""

    event_uuid: str
    event_time: float
    distinct_id: str | None
    value: float  # what it adds to a `sum` (1 for `count` and `people`)


@dataclass(frozen=True, slots=True)
class Tally:
    """An account's window for one signal, this event included."""

    count: int
    people: int
    total: float
    latest: tuple[tuple[str | None, float], ...] = ()  # (distinct_id, event time), newest first


def contribution(
    threshold: Threshold,
    event_uuid: str,
    event_time: float,
    distinct_id: str | None,
    context: Mapping[str, Any],
) -> Contribution:
    """What the event adds; for a `sum`, a path that is missing or not a number adds 0."""
    value = 1.0
    if threshold.sum is not None:
        found = lookup(context, threshold.sum)
        number = isinstance(found, int | float) and not isinstance(found, bool) and math.isfinite(found)
        value = float(found) if number else 0.0
    return Contribution(event_uuid, event_time, distinct_id, value)


def best_window(threshold: Threshold, counted: Sequence[Contribution], event: Contribution) -> Tally:
    """The account's window for `event`: of the windows that hold it (those ending at its own time
    or at a later counted event at most `within` after it), the one where the measure is highest,
    the earliest of equals. In event-time order that is the window ending at the event; an event that
    arrives after later ones counts in their windows too, so the one that completes a window reaches
    the threshold whatever order the events were counted in.

    `counted` is the counted events within `within` of this one on either side; this one is taken
    as counted whether or not it is among them (a dry run keeps nothing)."""
    within = threshold.within.total_seconds()
    if all(c.event_uuid != event.event_uuid for c in counted):
        counted = [*counted, event]
    rows = sorted(counted, key=lambda c: (c.event_time, c.event_uuid))
    people: Counter[str | None] = Counter()
    best: tuple[float, int, int] | None = None  # (measure, start, end) of the best window so far
    start = count = 0
    total = 0.0
    for end, row in enumerate(rows):
        count, total = count + 1, total + row.value
        people[row.distinct_id] += 1
        while rows[start].event_time < row.event_time - within:
            gone = rows[start]
            count, total = count - 1, total - gone.value
            people[gone.distinct_id] -= 1
            if not people[gone.distinct_id]:
                del people[gone.distinct_id]
            start += 1
        if row.event_time < event.event_time or row.event_time > event.event_time + within:
            continue
        if rows[start].event_time > event.event_time:
            continue  # the window no longer holds the event
        figure = {"count": count, "people": _people(people), "sum": total}[threshold.kind]
        if best is None or figure > best[0]:
            best = (figure, start, end)
    assert best is not None  # the window ending at the event itself always holds it
    _, first, last = best
    window = rows[first : last + 1]
    latest = tuple((c.distinct_id, c.event_time) for c in reversed(window[-LATEST_SHOWN:]))
    return Tally(
        len(window), _people(Counter(c.distinct_id for c in window)), sum(c.value for c in window), latest
    )


def _people(seen: Counter[str | None]) -> int:
    """Different persons: events without a distinct id name nobody."""
    return len(seen) - (1 if None in seen else 0)


def measure(threshold: Threshold, tally: Tally) -> float:
    if threshold.kind == "count":
        return float(tally.count)
    if threshold.kind == "people":
        return float(tally.people)
    return tally.total


def reached(threshold: Threshold, tally: Tally) -> bool:
    return measure(threshold, tally) >= threshold.target


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def progress(threshold: Threshold, tally: Tally, event: str) -> str:
    """The ledger's reason while the account accumulates: `3 of 5 invite_sent in 7d`."""
    window = _short(threshold.within)
    got, target = _number(measure(threshold, tally)), _number(threshold.target)
    if threshold.kind == "count":
        return f"{got} of {target} {event} in {window}"
    if threshold.kind == "people":
        return f"{got} of {target} people doing {event} in {window}"
    return f"{got} of {target} {threshold.sum} from {event} in {window}"


_UNITS = (("day", "d", 86400), ("hour", "h", 3600), ("minute", "m", 60), ("second", "s", 1))


def _short(window: timedelta) -> str:
    """`7d`, `36h`: the window as the signals file would write it (in days, not weeks)."""
    seconds = int(window.total_seconds())
    _, unit, size = next(u for u in _UNITS if seconds % u[2] == 0)
    return f"{seconds // size}{unit}"


def _spelled(window: timedelta) -> str:
    """`7 days`, `1 hour`: the window as the alert says it."""
    seconds = int(window.total_seconds())
    name, _, size = next(u for u in _UNITS if seconds % u[2] == 0)
    n = seconds // size
    return f"{n} {name}{'' if n == 1 else 's'}"


def reached_phrase(threshold: Threshold, tally: Tally, event: str) -> str:
    """What the alert says was reached: `5 invite_sent in 7 days by 3 people`."""
    window = _spelled(threshold.within)
    people = f"{tally.people} {'person' if tally.people == 1 else 'people'}"
    if threshold.kind == "sum":
        return f"{_number(tally.total)} {threshold.sum} from {tally.count} {event} in {window} by {people}"
    return f"{tally.count} {event} in {window} by {people}"
