"""`python -m bot replay`: the backtest of a rule before it goes live.

Events come from a JSONL file (webhook bodies or PostHog export rows) or from PostHog itself (HogQL
queries over the last N days, a fixed day at a time, paged). With `--dry-run` each event goes
through the real pipeline against a scratch database, cooldowns and thresholds are applied in event
time, and the report says, per signal, how many alerts would have fired, for which accounts and on
which days.
Nothing is posted or written. Without `--dry-run`, the events are stored in the inbox of
DATABASE_URL, like webhook deliveries, and a running `serve` decides them.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bot.clients.posthog_api import PostHogApi, PostHogApiError
from bot.config.settings import Settings, secret
from bot.config.signals_file import SignalsConfig
from bot.decide.enrich import Enricher
from bot.decide.outcomes import Outcome
from bot.decide.pipeline import Pipeline
from bot.ingest.webhook_body import WebhookBody, parse_timestamp
from bot.ops.metrics import Metrics
from bot.store import InboxRow, Store

PAGE = 1000
HOGQL_COLUMNS = ("uuid", "event", "distinct_id", "properties", "timestamp", "person_properties")


def to_body(row: Any) -> dict[str, Any] | None:
    """A webhook body from a webhook body or an export row (`event` as a name, properties maybe JSON text)."""
    if not isinstance(row, dict):
        return None
    if isinstance(row.get("event"), dict):
        return row
    if not isinstance(row.get("event"), str):
        return None
    properties = row.get("properties") or {}
    if isinstance(properties, str):
        try:
            properties = orjson.loads(properties)
        except orjson.JSONDecodeError:
            properties = {}
    person_properties = row.get("person_properties") or row.get("person.properties") or {}
    if isinstance(person_properties, str):
        try:
            person_properties = orjson.loads(person_properties)
        except orjson.JSONDecodeError:
            person_properties = {}
    return {
        "event": {
            "uuid": str(row.get("uuid") or uuid.uuid4()),
            "event": row["event"],
            "distinct_id": row.get("distinct_id"),
            "properties": properties if isinstance(properties, dict) else {},
            "timestamp": str(row.get("timestamp") or "") or None,
        },
        "person": {"properties": person_properties} if isinstance(person_properties, dict) else None,
    }


def read_jsonl(path: Path) -> Iterator[dict[str, Any] | None]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                try:
                    yield to_body(orjson.loads(line))
                except orjson.JSONDecodeError:
                    yield None


def _quote(name: str) -> str:
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def day_windows(days: int, now: datetime) -> list[tuple[datetime, datetime]]:
    """The last `days` days as fixed one-day windows, oldest first.

    Fixed bounds keep the pages stable while new events arrive: a window relative to `now()` slides
    between two page requests and silently skips events at its start."""
    end = now.astimezone(UTC).replace(microsecond=0)
    start = end - timedelta(days=days)
    return [(start + timedelta(days=k), start + timedelta(days=k + 1)) for k in range(days)]


def _at(moment: datetime) -> str:
    return f"toDateTime('{moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}')"


def hogql_page(
    events: Iterable[str],
    since: datetime,
    until: datetime,
    after: tuple[str, str] | None = None,
    limit: int | None = None,
) -> str:
    """One page of a day's events, oldest first. Pages follow each other by keyset, after the
    (timestamp, uuid) of the previous page's last row: PostHog refuses OFFSET on queries made with a
    personal API key, and a keyset neither skips nor repeats events that share a timestamp."""
    names = ", ".join(_quote(e) for e in sorted(events))
    cursor = ""
    if after is not None:
        at, last = _quote(after[0]), _quote(after[1])
        cursor = (
            f" AND (timestamp > toDateTime({at}) OR (timestamp = toDateTime({at}) AND uuid > toUUID({last})))"
        )
    return (
        "SELECT uuid, event, distinct_id, properties, timestamp, person.properties FROM events "
        f"WHERE timestamp >= {_at(since)} AND timestamp < {_at(until)} AND event IN ({names}){cursor} "
        f"ORDER BY timestamp, uuid LIMIT {int(limit or PAGE)}"
    )


async def from_posthog(
    api: PostHogApi, days: int, events: Iterable[str], now: datetime | None = None
) -> AsyncIterator[dict[str, Any] | None]:
    names = sorted(events)
    for since, until in day_windows(days, now or datetime.now(UTC)):
        after: tuple[str, str] | None = None
        while True:
            columns, rows = await api.hogql(hogql_page(names, since, until, after))
            for row in rows:
                yield to_body(dict(zip(HOGQL_COLUMNS, row, strict=False))) if len(columns) >= 6 else None
            if len(rows) < PAGE or len(rows[-1]) < 5:
                break
            after = (str(rows[-1][4]), str(rows[-1][0]))


@dataclass
class Report:
    events: int = 0
    unreadable: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    alerts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))  # signal -> account
    days: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))  # signal -> day
    held: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # signal -> cooled down


class DryRun:
    """The pipeline on a scratch store; cooldowns and thresholds kept in event time, as they would
    have applied."""

    def __init__(self, settings: Settings, config: SignalsConfig, store: Store, http: httpx.AsyncClient):
        enricher = Enricher(config.enrichment, store, http, Metrics())
        self.pipeline = Pipeline(
            config, store, enricher, settings.posthog_app_host, settings.posthog_project_id
        )
        self.cooldowns = {s.name: s.cooldown.total_seconds() for s in config.signals}
        self.last: dict[tuple[str, str], float] = {}
        self.seen: set[str] = set()
        self.report = Report()

    async def add(self, raw: dict[str, Any] | None) -> None:
        self.report.events += 1
        try:
            body = WebhookBody.model_validate(raw) if raw is not None else None
        except ValidationError:
            body = None
        if body is None:
            self.report.unreadable += 1
            return
        if body.event.uuid in self.seen:  # PostHog may deliver an event twice; it counts once
            self.report.outcomes[Outcome.DUPLICATE] += 1
            return
        self.seen.add(body.event.uuid)
        when = parse_timestamp(body.event.timestamp) or time.time()
        self.pipeline.clock = lambda: when  # decide as of the event's own time
        # Counted on the scratch store, so thresholds fill up in event time as they would have.
        decision = await self.pipeline.evaluate(body, when, "replay", record=True)
        outcome = decision.entry.outcome
        day = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d")
        for plan in decision.alerts:
            signal, account = plan.facts.signal_name, plan.facts.account_key
            if when - self.last.get((signal, account), float("-inf")) < self.cooldowns.get(signal, 0):
                self.report.held[signal] += 1
                outcome = Outcome.COOLDOWN if outcome is Outcome.ALERTED else outcome
                continue
            self.last[(signal, account)] = when
            self.report.alerts[signal][account] += 1
            self.report.days[signal][day] += 1
        self.report.outcomes[outcome] += 1


def render(report: Report, console: Console, source: str) -> None:
    table = Table(title=f"Backtest of {source}: {report.events:,} events")
    for column in ("signal", "alerts", "accounts", "held by cooldown", "per day", "top accounts"):
        table.add_column(column, overflow="fold")
    for signal in sorted(set(report.alerts) | set(report.held)):
        accounts = report.alerts.get(signal, Counter())
        days = report.days.get(signal, Counter())
        per_day = ", ".join(f"{d[5:]}: {n}" for d, n in sorted(days.items())[-14:])
        top = ", ".join(f"{a} ({n})" for a, n in accounts.most_common(5))
        table.add_row(
            signal,
            str(sum(accounts.values())),
            str(len(accounts)),
            str(report.held.get(signal, 0)),
            per_day,
            top,
        )
    console.print(table)
    outcomes = ", ".join(f"{n:,} {o}" for o, n in report.outcomes.most_common())
    console.print(
        f"Outcomes: {outcomes or 'none'}."
        + (f" {report.unreadable} unreadable." if report.unreadable else "")
    )
    console.print("Dry run: nothing was posted or written.")


async def _source(
    settings: Settings, config: SignalsConfig, file: Path | None, days: int | None, http: httpx.AsyncClient
) -> AsyncIterator[dict[str, Any] | None]:
    if file is not None:
        for row in read_jsonl(file):
            yield row
        return
    key = secret(settings.posthog_personal_api_key)
    if not key or not settings.posthog_project_id:
        raise SystemExit("--from-posthog needs POSTHOG_PERSONAL_API_KEY (query:read) and POSTHOG_PROJECT_ID")
    api = PostHogApi(settings.posthog_app_host, settings.posthog_project_id, key, http)
    async for row in from_posthog(api, days or 7, config.event_names):
        yield row


async def run_async(
    settings: Settings,
    config: SignalsConfig,
    file: Path | None,
    days: int | None,
    dry_run: bool,
    console: Console,
) -> int:
    source = str(file) if file else f"PostHog, last {days}d"
    async with httpx.AsyncClient() as http:
        if not dry_run:
            return await _ingest(settings, config, _source(settings, config, file, days, http), console)
        with tempfile.TemporaryDirectory(prefix="signals-replay-") as tmp:
            store = Store.from_url(f"sqlite:///{tmp}/replay.db")
            store.upgrade()
            dry = DryRun(settings, config, store, http)
            with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
                task = progress.add_task("replaying", total=None)
                try:
                    async for row in _source(settings, config, file, days, http):
                        await dry.add(row)
                        progress.advance(task)
                except PostHogApiError as exc:
                    console.print(f"[red]{exc.explain()}[/]")
                    return 1
            store.dispose()
        render(dry.report, console, source)
    return 0


async def _ingest(
    settings: Settings, config: SignalsConfig, rows: AsyncIterator[dict[str, Any] | None], console: Console
) -> int:
    store = Store.from_url(settings.database_url)
    store.upgrade()
    stored = duplicates = unreadable = 0
    batch: list[InboxRow] = []
    async for raw in rows:
        try:
            body = WebhookBody.model_validate(raw) if raw is not None else None
        except ValidationError:
            body = None
        if body is None or body.event.event not in config.event_names:
            unreadable += body is None
            continue
        batch.append(InboxRow(body.event.uuid, body.event.event, body.stored(), time.time(), "replay"))
        if len(batch) >= 500:
            new = await asyncio.to_thread(store.ingest, batch)
            stored, duplicates, batch = stored + len(new), duplicates + len(batch) - len(new), []
    if batch:
        new = await asyncio.to_thread(store.ingest, batch)
        stored, duplicates = stored + len(new), duplicates + len(batch) - len(new)
    store.dispose()
    console.print(
        f"Stored {stored:,} events for the worker ({duplicates:,} already there, {unreadable} unreadable)."
    )
    return 0


def run_replay(
    file: str | None, from_posthog: str | None, dry_run: bool, console: Console | None = None
) -> int:
    from bot.config.signals_file import SignalsFileError, load_signals

    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)
    settings = Settings()
    try:
        config = load_signals(settings.signals_config)
    except SignalsFileError as exc:
        console.print("\n".join(exc.lines()), markup=False)
        return 2
    days = None
    if from_posthog is not None:
        if not from_posthog.rstrip("d").isdigit():
            console.print("--from-posthog takes a number of days, like 7d")
            return 2
        days = int(from_posthog.rstrip("d"))
    path = Path(file) if file else None
    if path is not None and not path.is_file():
        console.print(f"{path}: no such file")
        return 2
    return asyncio.run(run_async(settings, config, path, days, dry_run, console))
