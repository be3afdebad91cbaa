"""The tracking-plan report: five checks of PostHog's event definitions against the signals file, as one
pure function from a Catalog, the config and the time, and a few plain lines of it for the weekly
report.

1. Signals listening to an event PostHog never received (with "did you mean"); query signals are not
   checked. The only check that fails `python -m bot lint`.
2. Names that break `object_action` snake_case (PostHog's `$` events exempt), with the snake_case form.
3. Near-duplicate groups (bot/lint/names.py), each member with its 30-day volume and which to keep.
4. Events gone quiet: last seen more than 30 days ago.
5. No action: custom events with volume that no signal listens to, busiest first. PostHog's own `$`
   events are left out (nobody acts on `$pageview` as such); an event a query signal names in quotes
   (`event = 'api_called'`) counts as acted on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.config.signals_file import SignalsConfig
from bot.lint.names import (
    POSTHOG_PREFIX,
    KnownNames,
    breaks_convention,
    near_duplicate_groups,
    snake_case,
    suggest_keep,
)
from bot.lint.source import Catalog

QUIET_AFTER_DAYS = 30
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


@dataclass(frozen=True)
class UnknownEvent:
    """A signal listening to an event PostHog has no definition of."""

    signal: str
    event: str
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True)
class BadName:
    """A name that is not snake_case; `suggestion` is its snake_case form ("" when it has none)."""

    name: str
    suggestion: str
    volume: int | None = None


@dataclass(frozen=True)
class GroupMember:
    name: str
    volume: int | None
    signals: tuple[str, ...] = ()  # the signals listening to this name


@dataclass(frozen=True)
class DuplicateGroup:
    """Names that are one event written differently, busiest first, and the one to keep."""

    members: tuple[GroupMember, ...]
    keep: str

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.members]


@dataclass(frozen=True)
class QuietEvent:
    name: str
    last_seen: float  # Unix time
    signals: tuple[str, ...] = ()  # signals listening to it: they cannot fire


@dataclass(frozen=True)
class UnusedEvent:
    name: str
    volume: int


@dataclass(frozen=True)
class LintReport:
    """The five checks' findings, each list in the order to show it, and what they were made from."""

    checked_at: float
    events: int  # definitions read
    event_signals: int  # signals checked (query signals are not)
    unknown: tuple[UnknownEvent, ...] = ()
    bad_names: tuple[BadName, ...] = ()
    duplicates: tuple[DuplicateGroup, ...] = ()
    quiet: tuple[QuietEvent, ...] = ()
    unused: tuple[UnusedEvent, ...] = ()
    volumes_known: bool = True  # False: check 5 could not run
    volume_note: str | None = None
    capped: bool = False  # PostHog has more definitions than were read (bot/lint/source.py)
    skipped: int = 0  # rows PostHog sent that were not event definitions

    @property
    def failed(self) -> bool:
        """A signal listens to an event PostHog never received: it can never fire."""
        return bool(self.unknown)

    @property
    def clean(self) -> bool:
        return not (self.unknown or self.bad_names or self.duplicates or self.quiet or self.unused)


def _by_volume(volume: int | None, name: str) -> tuple[int, str]:
    return (-(volume if volume is not None else -1), name)


def named_in_queries(config: SignalsConfig) -> frozenset[str]:
    """Every quoted literal in the query signals' HogQL: the events they act on, among other text."""
    found: set[str] = set()
    for signal in config.query_signals:
        for single, double in _QUOTED.findall(signal.query or ""):
            found.add(single or double)
    return frozenset(found)


def listeners(config: SignalsConfig) -> dict[str, tuple[str, ...]]:
    """Event name -> the names of the (event) signals listening to it, in file order."""
    out: dict[str, list[str]] = {}
    for signal in config.signals:
        if not signal.is_query:
            out.setdefault(signal.event, []).append(signal.name)
    return {event: tuple(names) for event, names in out.items()}


def unknown_events(config: SignalsConfig, known: KnownNames) -> list[UnknownEvent]:
    """Check 1, in the order of the signals file."""
    return [
        UnknownEvent(signal.name, signal.event, tuple(known.did_you_mean(signal.event)))
        for signal in config.signals
        if not signal.is_query and signal.event not in known
    ]


def bad_names(names: Iterable[str], volumes: dict[str, int]) -> list[BadName]:
    """Check 2, busiest first."""
    found = [BadName(n, snake_case(n), volumes.get(n)) for n in names if breaks_convention(n)]
    return sorted(found, key=lambda b: _by_volume(b.volume, b.name))


def duplicate_groups(
    names: Iterable[str], volumes: dict[str, int], listening: dict[str, tuple[str, ...]]
) -> list[DuplicateGroup]:
    """Check 3: the busiest groups first, members busiest first."""
    groups = []
    for group in near_duplicate_groups(names):
        members = sorted(
            (GroupMember(n, volumes.get(n), listening.get(n, ())) for n in group),
            key=lambda m: _by_volume(m.volume, m.name),
        )
        groups.append(DuplicateGroup(tuple(members), suggest_keep(group, volumes.get)))
    return sorted(groups, key=lambda g: (-sum(m.volume or 0 for m in g.members), g.members[0].name))


def quiet_events(catalog: Catalog, now: float, listening: dict[str, tuple[str, ...]]) -> list[QuietEvent]:
    """Check 4: the most recently quiet first (the likeliest to be a recent breakage)."""
    since = now - QUIET_AFTER_DAYS * 86_400
    found = [
        QuietEvent(d.name, d.last_seen, listening.get(d.name, ()))
        for d in catalog.definitions
        if d.last_seen is not None and d.last_seen < since
    ]
    return sorted(found, key=lambda q: (-q.last_seen, q.name))


def unused_events(catalog: Catalog, acted_on: frozenset[str]) -> list[UnusedEvent]:
    """Check 5, busiest first."""
    found = [
        UnusedEvent(name, volume)
        for name, volume in catalog.volumes.items()
        if volume > 0 and name not in acted_on and not name.startswith(POSTHOG_PREFIX)
    ]
    return sorted(found, key=lambda u: (-u.volume, u.name))


def lint(catalog: Catalog, config: SignalsConfig, now: float) -> LintReport:
    """The report: PostHog's definitions (with volumes) against the signals file, at `now`."""
    names = catalog.names
    listening = listeners(config)
    known = KnownNames(names, catalog.volumes.get)
    acted_on = frozenset(listening) | named_in_queries(config)
    volumes_known = catalog.volume_note is None or bool(catalog.volumes)
    return LintReport(
        checked_at=now,
        events=len(names),
        event_signals=sum(1 for s in config.signals if not s.is_query),
        unknown=tuple(unknown_events(config, known)),
        bad_names=tuple(bad_names(names, catalog.volumes)),
        duplicates=tuple(duplicate_groups(names, catalog.volumes, listening)),
        quiet=tuple(quiet_events(catalog, now, listening)),
        unused=tuple(unused_events(catalog, acted_on)),
        volumes_known=volumes_known,
        volume_note=catalog.volume_note,
        capped=catalog.capped,
        skipped=catalog.skipped,
    )


# -- the weekly report's lines -----------------------------------------------------------------------
MAX_NAMED_UNKNOWN = 3


def plural(count: int, one: str, many: str) -> str:
    """`1 signal listens`, `2 signals listen`."""
    return f"{count} {one if count == 1 else many}"


def unknown_line(item: UnknownEvent) -> str:
    """`Trial finished onboarding (onboarding_complete; did you mean onboarding_completed?)`."""
    if not item.suggestions:
        return f"{item.signal} ({item.event})"
    return f"{item.signal} ({item.event}; did you mean {' or '.join(item.suggestions)}?)"


def capped_line(report: LintReport) -> str:
    return (
        f"Only the {report.events + report.skipped:,} most recently seen event definitions were read; "
        "PostHog has more"
    )


def summary_lines(report: LintReport) -> list[str]:
    """A few short plain-text lines for the weekly report, unescaped (the caller escapes them)."""
    lines: list[str] = []
    if report.unknown:
        named = "; ".join(unknown_line(u) for u in report.unknown[:MAX_NAMED_UNKNOWN])
        more = len(report.unknown) - MAX_NAMED_UNKNOWN
        if more > 0:
            named += f"; and {more} more"
        head = plural(len(report.unknown), "signal listens", "signals listen")
        lines.append(f"{head} to an event PostHog never received: {named}")
    if report.bad_names:
        lines.append(plural(len(report.bad_names), "name breaks", "names break") + " snake_case")
    if report.duplicates:
        lines.append(plural(len(report.duplicates), "near-duplicate group", "near-duplicate groups"))
    if report.quiet:
        lines.append(plural(len(report.quiet), "event", "events") + " gone quiet")
    if report.unused:
        lines.append(plural(len(report.unused), "event", "events") + " no signal listens to")
    if not lines:
        checked = plural(report.event_signals, "signal", "signals")
        lines.append(
            f"Every signal's event is one PostHog receives ({checked}); "
            "no naming problems, near-duplicates, quiet or unused events"
        )
    if report.volume_note:
        lines.append(report.volume_note[:1].upper() + report.volume_note[1:])
    if report.capped:
        lines.append(capped_line(report))
    return lines
