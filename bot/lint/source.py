"""What PostHog knows about the project's events, for the tracking-plan checks: every page of its event
definitions (scope `event_definition:read`) and, where they carry no 30-day volume, one HogQL count per
event over 30 days (scope `query:read`).

PostHog's answer is untrusted: each row is validated into an `EventDefinition`; a row that is not one
(no name, a name too long to be PostHog's) is skipped and counted, and a field PostHog leaves null,
leaves out or sends in another shape is read as unknown rather than failing the whole report.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.clients.posthog_api import PostHogApi, PostHogApiError

MAX_DEFINITIONS = 10_000
PAGE_SIZE = 500
VOLUME_DAYS = 30
VOLUME_QUERY = (
    "SELECT event, count() AS events FROM events "
    f"WHERE timestamp > now() - INTERVAL {VOLUME_DAYS} DAY GROUP BY event ORDER BY events DESC"
)
VOLUME_QUERY_NAME = "posthog-slack-signals lint: events per name, 30 days"


class EventDefinition(BaseModel):
    """One of PostHog's event definitions, as far as the checks need it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=400)  # PostHog's column is 400 characters
    volume_30_day: int | None = None
    query_usage_30_day: int | None = None
    created_at: datetime | None = None
    last_seen_at: datetime | None = None

    @field_validator("volume_30_day", "query_usage_30_day", mode="before")
    @classmethod
    def _count(cls, value: Any) -> int | None:
        """A non-negative whole number, else unknown (PostHog sends null on many projects)."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float) and value >= 0 and float(value).is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        return None

    @field_validator("created_at", "last_seen_at", mode="before")
    @classmethod
    def _moment(cls, value: Any) -> datetime | None:
        """An ISO 8601 time (UTC when it names no zone), else unknown."""
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str) and value.strip():
            try:
                moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                return None
        else:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    @property
    def last_seen(self) -> float | None:
        """`last_seen_at` as a Unix time."""
        return self.last_seen_at.timestamp() if self.last_seen_at else None


@dataclass(frozen=True)
class Catalog:
    """The project's events as read from PostHog: the definitions, each name's 30-day volume where it
    is known, whether the definitions were cut at `MAX_DEFINITIONS`, and, when some volumes are
    unknown, a sentence saying why."""

    definitions: tuple[EventDefinition, ...]
    volumes: dict[str, int]
    capped: bool = False
    skipped: int = 0
    volume_note: str | None = None

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.definitions]


def parse_definitions(rows: list[dict[str, Any]]) -> tuple[list[EventDefinition], int]:
    """(the valid definitions, how many rows were not one); a name seen twice is kept once."""
    found: dict[str, EventDefinition] = {}
    skipped = 0
    for row in rows:
        try:
            definition = EventDefinition.model_validate(row)
        except ValidationError:
            skipped += 1
            continue
        found.setdefault(definition.name, definition)
    return list(found.values()), skipped


async def read_definitions(
    api: PostHogApi, max_definitions: int = MAX_DEFINITIONS
) -> tuple[list[EventDefinition], bool, int]:
    """(definitions, capped, rows skipped): every page, up to `max_definitions` rows. Raises
    PostHogApiError when PostHog refuses or fails."""
    rows: list[dict[str, Any]] = []
    capped = False
    async for page in api.event_definition_pages(max_definitions, PAGE_SIZE):
        rows += page.rows
        capped = page.more and len(rows) >= max_definitions
    # Validating 10,000 rows takes tens of milliseconds: not on the event loop the webhook shares.
    definitions, skipped = await asyncio.to_thread(parse_definitions, rows)
    return definitions, capped, skipped


def volume_problem(exc: PostHogApiError) -> str:
    """Why volumes are unknown, for the report."""
    if exc.missing_scope == "query:read" or (exc.status == 403 and "query:read" in exc.detail):
        return "the personal API key lacks `query:read`, so volumes are unknown"
    return f"volumes are unknown: {exc.explain()}"


async def query_volumes(api: PostHogApi, max_rows: int = MAX_DEFINITIONS) -> tuple[dict[str, int], bool]:
    """({event: count over 30 days}, complete) from one HogQL query; `complete` is False when PostHog
    had more names than `max_rows` (a name missing from an incomplete answer has no known volume).
    Raises PostHogApiError."""
    table = await api.hogql_table(VOLUME_QUERY, max_rows, VOLUME_QUERY_NAME)
    counts: dict[str, int] = {}
    for row in table.rows:
        name, count = row.get("event"), row.get("events")
        if isinstance(name, str) and isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            counts[name] = count
        elif isinstance(name, str) and isinstance(count, str) and count.isdigit():
            counts[name] = int(count)  # ClickHouse's UInt64 may come back as text
    return counts, not table.truncated


async def read_catalog(api: PostHogApi, max_definitions: int = MAX_DEFINITIONS) -> Catalog:
    """The definitions, with volumes from `volume_30_day` where PostHog gives it and from one HogQL
    count for the rest. A failing count leaves those volumes unknown and says why; a failing read of
    the definitions raises PostHogApiError."""
    definitions, capped, skipped = await read_definitions(api, max_definitions)
    volumes = {d.name: d.volume_30_day for d in definitions if d.volume_30_day is not None}
    missing = [d.name for d in definitions if d.volume_30_day is None]
    note = None
    if missing:
        try:
            counted, complete = await query_volumes(api, max_definitions)
        except PostHogApiError as exc:
            note = volume_problem(exc)
        else:
            for name in missing:
                if name in counted:
                    volumes[name] = counted[name]
                elif complete:
                    volumes[name] = 0  # not seen in 30 days
            if not complete:
                note = f"only the {max_definitions:,} busiest events were counted; other volumes are unknown"
    return Catalog(tuple(definitions), volumes, capped, skipped, note)


MAX_LOOKUPS = 20  # names looked up one by one: a signals file's events missing from the pages read


async def with_names_confirmed(api: PostHogApi, catalog: Catalog, wanted: Iterable[str]) -> Catalog:
    """The catalog with each `wanted` name it lacks looked up by name (PostHog's `search`): the pages
    read may have missed it (past MAX_DEFINITIONS, or moved between pages while they were read, as
    busy events do), and a name is only reported as never received once PostHog says so itself.
    Raises PostHogApiError."""
    have = set(catalog.names)
    missing = sorted({name for name in wanted if name not in have})[:MAX_LOOKUPS]
    found: list[EventDefinition] = []
    for name in missing:
        rows = await api.search_event_definitions(name)
        exact, _ = parse_definitions([r for r in rows if r.get("name") == name])
        found += exact
    if not found:
        return catalog
    volumes = dict(catalog.volumes)
    volumes.update({d.name: d.volume_30_day for d in found if d.volume_30_day is not None})
    return replace(catalog, definitions=catalog.definitions + tuple(found), volumes=volumes)


_LACKS_SCOPE = (
    "PostHog refused to list event definitions (403): the personal API key lacks "
    "`event_definition:read`; add it in PostHog under Settings → Personal API keys"
)


def explain_failure(exc: PostHogApiError) -> str:
    """What went wrong reading the event definitions, and what to do about it."""
    lacks_scope = exc.missing_scope == "event_definition:read" or (
        exc.status == 403 and exc.missing_scope is None and "project" not in exc.detail.lower()
    )
    if lacks_scope:
        return _LACKS_SCOPE
    if exc.status == 401:
        return (
            "PostHog rejected the personal API key (401): check POSTHOG_PERSONAL_API_KEY, a phx_ "
            "personal API key (not the phc_ project key) with the scope `event_definition:read`"
        )
    if exc.status == 429:
        wait = f"{max(1, math.ceil(exc.retry_after))} s" if exc.retry_after else "a minute"
        return f"PostHog is rate limiting the bot; try again in {wait}"
    if exc.status is not None and exc.status >= 500:
        return f"PostHog is failing (HTTP {exc.status}); try again in a few minutes"
    return exc.explain()
