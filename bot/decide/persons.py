"""The person behind a scheduled query's row: a row with a `distinct_id` column but no `email` (and no
`account`) column names a person the bot knows nothing else of, so PostHog's Persons API is asked
for them once per run, and their properties (email, name, `person.*`) then serve the row as a
webhook's `person` serves an event. Webhook events carry their person already and are never looked
up.

Bounded: one lookup per distinct id per run (concurrent decisions of one person share it), a short
timeout, and after a failure (PostHog away, slow, rate limiting, a key without `person:read`) the
run's other rows are not looked up: they are decided as before, and the failure is logged once.
What PostHog answers is untrusted: properties are cut as a query row's values are, in number and
in size.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

import orjson
from pydantic import ValidationError

from bot.clients.posthog_api import PostHogApi, PostHogApiError
from bot.clients.posthog_queries import json_safe
from bot.decide.accounts import person_email
from bot.ingest.webhook_body import WebhookBody, WebhookPerson

log = logging.getLogger(__name__)

MAX_PROPERTIES = 1000  # properties kept of one person
MAX_PROPERTIES_BYTES = 256 * 1024  # their JSON, in all
_FIRST = ("email", "$email", "name")  # kept before any other, however many properties a person has


def needs_person(body: WebhookBody) -> bool:
    """Whether the body is a query row of a person whose email the row does not give."""
    row = body.query_row
    return (
        row is not None
        and body.person is None
        and bool(body.event.distinct_id)
        and row.get("account") in (None, "")
        and person_email(body) is None
    )


def run_of(body: WebhookBody) -> str:
    """The run a query row came from: its signal's event and the run's start (the row's timestamp)."""
    return f"{body.event.event}\x1f{body.event.timestamp or ''}"


def bounded_properties(properties: dict[Any, Any]) -> dict[str, Any]:
    """At most MAX_PROPERTIES of them (email and name first) and MAX_PROPERTIES_BYTES of JSON, each
    value JSON-safe and bounded as a query row's values are."""
    keys = [k for k in _FIRST if k in properties]
    keys += [k for k in properties if k not in _FIRST]
    kept: dict[str, Any] = {}
    size = 0
    for key in keys:
        if len(kept) >= MAX_PROPERTIES:
            break
        name = json_safe(str(key))[:200]
        if not name or name in kept:
            continue
        value = json_safe(properties[key])
        cost = len(name) + len(orjson.dumps(value))
        if size + cost > MAX_PROPERTIES_BYTES:
            continue
        kept[name] = value
        size += cost
    return kept


def person_from(raw: dict[str, Any]) -> WebhookPerson | None:
    """A Persons API record as the `person` of a webhook body, or None when it is not one."""
    properties = raw.get("properties")
    person_id = raw.get("uuid") or raw.get("id")
    name = raw.get("name")
    try:
        return WebhookPerson.model_validate(
            {
                "id": json_safe(str(person_id))[:200] if isinstance(person_id, str | int) else None,
                "name": json_safe(name)[:2000] if isinstance(name, str) else None,
                "properties": bounded_properties(properties) if isinstance(properties, dict) else {},
            }
        )
    except ValidationError:
        return None


class PersonLookup:
    """Persons by distinct id through PostHog's Persons API, remembered for the run they were asked
    for (`max_entries` at most, the oldest forgotten first)."""

    def __init__(self, api: PostHogApi, max_entries: int = 20_000, max_failed_runs: int = 256) -> None:
        self.api = api
        self.max_entries = max_entries
        self.max_failed_runs = max_failed_runs
        self._known: OrderedDict[tuple[str, str], WebhookPerson | None] = OrderedDict()
        self._inflight: dict[tuple[str, str], asyncio.Future[WebhookPerson | None]] = {}
        self._failed_runs: OrderedDict[str, None] = OrderedDict()

    async def with_person(self, body: WebhookBody) -> WebhookBody:
        """The body with its person from PostHog when it is a query row that needs one and PostHog
        knows them; else the body as it is."""
        if not needs_person(body):
            return body
        assert body.event.distinct_id is not None
        person = await self.person(run_of(body), body.event.distinct_id)
        return body if person is None else body.model_copy(update={"person": person})

    async def person(self, run: str, distinct_id: str) -> WebhookPerson | None:
        key = (run, distinct_id)
        if key in self._known:
            return self._known[key]
        if run in self._failed_runs:
            return None
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[WebhookPerson | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        found: WebhookPerson | None = None
        try:
            found = await self._lookup(run, distinct_id)
        finally:
            del self._inflight[key]
            future.set_result(found)
        self._known[key] = found
        while len(self._known) > self.max_entries:
            self._known.popitem(last=False)
        return found

    async def _lookup(self, run: str, distinct_id: str) -> WebhookPerson | None:
        try:
            raw = await self.api.person(distinct_id)
        except Exception as exc:  # PostHog's trouble never stops a decision: the row goes on without
            self._failed(run, exc)
            return None
        return person_from(raw) if raw is not None else None

    def _failed(self, run: str, exc: Exception) -> None:
        if run in self._failed_runs:
            return
        self._failed_runs[run] = None
        while len(self._failed_runs) > self.max_failed_runs:
            self._failed_runs.popitem(last=False)
        why = exc.explain() if isinstance(exc, PostHogApiError) else type(exc).__name__
        signal, _, started = run.partition("\x1f")
        log.warning(
            "could not look up a query row's person in PostHog (%s); this run's rows are decided "
            "without their person",
            why,
            extra={"event_name": signal, "run": started, "status": getattr(exc, "status", None)},
        )
