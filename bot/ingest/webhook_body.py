"""PostHog webhook bodies: the default `{"event": {...}, "person": {...}}` shape, older payloads
(`event.name`, `person.uuid`), batches, and the legacy action-webhook `{"text": ...}` body.

Everything here is untrusted input: types are checked, sizes bounded, and a bad body is answered with
an error that names the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any, NamedTuple

import orjson
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.config.signals_file import QUERY_EVENT_PREFIX

MAX_BATCH = 1000
# Deeper bodies are refused before parsing: orjson before 3.9.15 has no recursion limit (CVE-2024-27454,
# a deeply nested object crashes the process) and bodies nested past ~250 levels cannot be stored.
MAX_DEPTH = 100
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DEPTH_STEP = [{ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}.get(b, 0) for b in range(256)]


class BodyError(ValueError):
    """The body is not a PostHog event; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _text_id(value: Any) -> Any:
    """Distinct ids and person ids may arrive as numbers; they are identifiers, so keep them as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


class WebhookEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    uuid: str = Field(min_length=1, max_length=200)
    event: str = Field(min_length=1, max_length=400, validation_alias=AliasChoices("event", "name"))
    distinct_id: str | None = Field(default=None, max_length=400)
    properties: dict[str, Any] = Field(default_factory=dict)
    timestamp: str | None = Field(default=None, max_length=64)
    url: str | None = Field(default=None, max_length=3000)

    @field_validator("uuid")
    @classmethod
    def _uuid(cls, value: str) -> str:
        # The dedupe key is kept exactly as sent, so it must be storable as it is.
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters such as U+0000")
        return value

    @field_validator("distinct_id", mode="before")
    @classmethod
    def _distinct_id(cls, value: Any) -> Any:
        return _text_id(value)

    @field_validator("properties", mode="before")
    @classmethod
    def _null_properties(cls, value: Any) -> Any:
        return {} if value is None else value


class WebhookPerson(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str | None = Field(default=None, max_length=200, validation_alias=AliasChoices("id", "uuid"))
    name: str | None = Field(default=None, max_length=2000)
    properties: dict[str, Any] = Field(default_factory=dict)
    url: str | None = Field(default=None, max_length=3000)

    @field_validator("id", "name", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _text_id(value)

    @field_validator("properties", mode="before")
    @classmethod
    def _null_properties(cls, value: Any) -> Any:
        return {} if value is None else value


class WebhookBody(BaseModel):
    """One forwarded event. `groups`, `project` and `source` appear when the user added them. `query`
    holds the columns of a scheduled query's row (bot/schedule/queries.py), which enters the inbox as
    an event of the bot's own named `$query:<signal>`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event: WebhookEvent
    person: WebhookPerson | None = None
    groups: dict[str, Any] | None = None
    project: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    query: dict[str, Any] | None = None

    @field_validator("query", mode="before")
    @classmethod
    def _query_or_nothing(cls, value: Any) -> Any:
        """Only the bot's own rows carry `query` (an object); any other value a forwarded body has
        there is ignored, as it was before query signals existed."""
        return value if isinstance(value, dict) else None

    @property
    def event_time(self) -> float | None:
        return parse_timestamp(self.event.timestamp)

    @property
    def query_row(self) -> dict[str, Any] | None:
        """The query row's columns, read only on the bot's own `$query:` events (which the webhook
        never stores), so a forwarded body cannot pass itself off as a query's row."""
        if self.query is None or not self.event.event.startswith(QUERY_EVENT_PREFIX):
            return None
        return self.query

    def stored(self) -> bytes:
        """This body as JSON with today's field names."""
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))


def parse_timestamp(value: str | None) -> float | None:
    """Epoch seconds; a timestamp without an offset is UTC (as PostHog writes them), never local time."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).timestamp()  # OverflowError outside years 1-9999 in UTC
    except (ValueError, OverflowError):
        return None


def _too_deep(raw: bytes) -> bool:
    """Whether arrays and objects nest deeper than MAX_DEPTH (strings are skipped)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", raw))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > MAX_DEPTH


def _describe(error: dict[str, Any], prefix: str) -> str:
    loc = prefix
    for part in error["loc"]:
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    if error["type"] == "missing":
        if error["loc"] == ("event", "event"):
            return f"{prefix + '.' if prefix else ''}event.event (the event name) is missing"
        return f"{loc} is missing"
    return f"{loc}: {error['msg']}"


def _parse_one(item: Any, prefix: str) -> WebhookBody:
    if not isinstance(item, dict):
        raise BodyError(f"{prefix or 'the body'} must be a JSON object with an `event`")
    if "event" not in item:
        if "text" in item:
            raise BodyError(
                'this is the legacy action-webhook body ({"text": ...}); configure the PostHog '
                'destination with the default body {"event": "{event}", "person": "{person}"}',
                status=422,
            )
        raise BodyError(f"{prefix + '.' if prefix else ''}event is missing")
    if not isinstance(item["event"], dict):
        raise BodyError(f"{prefix + '.' if prefix else ''}event must be an object")
    try:
        return WebhookBody.model_validate(item)
    except ValidationError as exc:
        raise BodyError("; ".join(_describe(e, prefix) for e in exc.errors()[:5])) from None


class Incoming(NamedTuple):
    """A parsed event and the JSON to keep in the inbox."""

    body: WebhookBody
    stored: bytes


class Counted(NamedTuple):
    """An event no signal listens to: it is only counted, so only its uuid and name are read."""

    uuid: str
    name: str


def parse_body(raw: bytes) -> list[WebhookBody]:
    """All events in a request body; a JSON array is a batch. Raises BodyError."""
    return [incoming.body for incoming in parse_request(raw) if isinstance(incoming, Incoming)]


def parse_request(raw: bytes, wanted: Callable[[str], bool] | None = None) -> list[Incoming | Counted]:
    """Like parse_body, with each event's JSON for the inbox: what PostHog sent when it already uses
    today's field names (serialising again is costly on the webhook path), else the normalised body.

    With `wanted`, an event whose name no signal wants is read no further than its uuid and name,
    which is all that counting it needs (most of a project's events are such events); one whose
    uuid or name is not what an event has is validated in full, so its error names the field."""
    if _too_deep(raw):
        raise BodyError(f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"invalid JSON: {exc}") from None
    if isinstance(data, list):
        if not data:
            raise BodyError("the batch is empty")
        if len(data) > MAX_BATCH:
            raise BodyError(f"a batch holds at most {MAX_BATCH} events", status=413)
        return [_incoming(item, f"[{i}]", wanted, None) for i, item in enumerate(data)]
    return [_incoming(data, "", wanted, raw)]


def _incoming(
    item: Any, prefix: str, wanted: Callable[[str], bool] | None, raw: bytes | None
) -> Incoming | Counted:
    if wanted is not None:
        counted = _counted(item, wanted)
        if counted is not None:
            return counted
    body = _parse_one(item, prefix)
    if not _modern_shape(item):
        return Incoming(body, body.stored())
    return Incoming(body, raw if raw is not None else orjson.dumps(item))


def _counted(item: Any, wanted: Callable[[str], bool]) -> Counted | None:
    """The event, when no signal wants it and its uuid and name are those of an event."""
    event = item.get("event") if isinstance(item, dict) else None
    if not isinstance(event, dict):
        return None
    name = event["event"] if "event" in event else event.get("name")  # as WebhookEvent reads it
    uuid = event.get("uuid")
    if not (isinstance(name, str) and 0 < len(name) <= 400) or wanted(name):
        return None
    if not (isinstance(uuid, str) and 0 < len(uuid) <= 200) or _CONTROL.search(uuid):
        return None
    return Counted(uuid, name)


def _modern_shape(item: dict[str, Any]) -> bool:
    """Whether the JSON already uses today's field names, so it can be stored as sent."""
    person = item.get("person")
    old_person = isinstance(person, dict) and "uuid" in person and "id" not in person
    return "name" not in item["event"] and not old_person
