"""A fake PostHog private API (personal API key) speaking PostHog's wire format, for the real client.

- Auth as PostHog orders it (DRF: authenticate, then permissions, then throttles): no
  `Authorization: Bearer` -> 401 `not_authenticated`; an unknown key -> 401 `authentication_failed`;
  a key without the route's scope (`query:read`, `insight:read`, `event_definition:read`,
  `person:read`; `:write`
  covers `:read`, `*` covers all) -> 403 "API key missing required scope '…'"; a project in
  `other_projects` -> 403 "You don't have access to the project."; any other project -> 404
  "Project not found.". `/api/projects/{id}/` and `/api/environments/{id}/`, trailing slash optional.
- `POST …/query/` with a `FunnelsQuery`: checked like PostHog's pydantic schema (unknown keys are
  400 `validation_error`) and computed from an in-memory dataset of people and their events: an
  ordered funnel within the conversion window (default 14 days), each person counted once at their
  furthest attempt, conversion times in seconds (average and median) from the previous step,
  breakdowns by an event property (first touch: the value on the step-0 event) or a person property,
  as a list of per-value step lists with `breakdown` / `breakdown_value`. Identical queries within
  `cache_ttl_s` come back `is_cached: true` with the first `last_refresh`.
- `GET …/insights/?short_id=…&refresh=…`: saved insights (a funnel and a trends one are seeded);
  `result` is null unless `refresh` computes it (`force_cache`, the default, never computes).
- `GET …/event_definitions/?limit&offset[&search]`: every event name in the dataset (with `search`,
  those containing it, in any case), the definitions added with `add_event_definition` (with their
  own `volume_30_day`, `last_seen_at`, …) and `extra_event_names`, most recently seen first
  (never-seen last), paged with `next` links as PostHog's `{count, next, previous, results}`;
  `volume_30_day` and `query_usage_30_day` are null unless set, as on many projects.
- `POST …/query/` with a `HogQLQuery`: a query containing the text given to `add_hogql_table` answers
  that table as PostHog would: PostHog's default LIMIT of 100 rows (with `hasMore`) unless the
  query's last clause is a LIMIT (capped at 50,000, no `hasMore`); with `offset_allowed = False`, a
  query with OFFSET gets PostHog's refusal for personal API keys. Any other HogQL reads the events
  table (the replay's paging query). `add_hogql_error` and `hogql_error(detail)` give PostHog's
  answer to a query it cannot run; `add_hogql_table(…, delay_s=)` a slow one.
- `GET …/persons/?distinct_id=…[&limit&offset]`: the people of the dataset (`add_person`, with
  `aliases` as further distinct ids) as PostHog's `PersonSerializer` writes them (`id` numeric,
  `uuid`, `name` the display name: email, else name, else the first distinct id, `distinct_ids`,
  `properties`, `created_at`, `last_seen_at`), in `{next, previous, results}`; `distinct_id`
  matches any of a person's ids exactly, and the list is empty when none does.
- `script(Reply(...), path=...)` answers the next calls (to a path ending in `path`, or any) with the
  given replies; `unauthorized()`, `missing_scope()`, `rate_limited()`, `server_error()`, `slow()`.

The dataset is deterministic: `seed=True` adds 60 people on a trial signup journey (`$pageview` >
`signup_started` > `signup_completed` > `onboarding_completed`, property `plan` on the events and the
person) relative to `now`. Tests that need exact numbers start from `seed=False` and `add_person`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
import statistics
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from testkit.base import FakeServer, Recorded, Reply

PERSONAL_KEY = "phx_test_personal_key_0123456789"
PROJECT_ID = "4242"
ALL_SCOPES = frozenset({"query:read", "insight:read", "event_definition:read", "person:read"})
FUNNEL_INSIGHT = "FuNn3l01"
TRENDS_INSIGHT = "TrNd5678"
SEEDED_STEPS = ["$pageview", "signup_started", "signup_completed", "onboarding_completed"]

_PROJECT_PATH = re.compile(r"^/api/(?:projects|environments)/([^/]+)/(.*?)/?$")
_RELATIVE = re.compile(r"^-(\d+)([hdwmqy])$")
_ROUTE_SCOPES = {
    ("POST", "query"): "query:read",
    ("GET", "insights"): "insight:read",
    ("GET", "event_definitions"): "event_definition:read",
    ("GET", "persons"): "person:read",
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The keys PostHog's schema accepts (models forbid extras); what the fake computes is narrower.
_REQUEST_KEYS = _words(
    "query refresh name client_query_id async filters_override variables_override limit_context"
)
_REFRESH = _words(
    "async async_except_on_cache_miss blocking force_async force_blocking force_cache lazy_async"
)
_FUNNELS_QUERY_KEYS = _words(
    "kind series dateRange funnelsFilter breakdownFilter compareFilter filterTestAccounts properties "
    "interval aggregation_group_type_index samplingFactor dataColorTheme modifiers tags version "
    "response"
)
_EVENTS_NODE_KEYS = _words(
    "kind event name custom_name math properties fixedProperties optionalInFunnel limit orderBy version"
)
_FUNNELS_FILTER_KEYS = _words(
    "exclusions layout binCount breakdownAttributionType breakdownAttributionValue "
    "funnelAggregateByHogQL customAggregationTarget funnelToStep funnelFromStep funnelOrderType "
    "funnelVizType funnelWindowInterval funnelWindowIntervalUnit hiddenLegendBreakdowns "
    "funnelStepReference useUdf resultCustomizations goalLines showTrendLines showLegend "
    "legendPosition showValuesOnSeries breakdownSorting showAnnotations "
    "hideIncompleteConversionWindowPeriods"
)
_BREAKDOWN_KEYS = _words(
    "breakdown_type breakdown_limit breakdown breakdown_normalize_url breakdowns "
    "breakdown_group_type_index breakdown_histogram_bin_count breakdown_hide_other_aggregation"
)
_WINDOW_UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
}


def error(status: int, kind: str, code: str, detail: str, attr: str | None = None, **headers: str) -> Reply:
    """PostHog's error body (drf-exceptions-hog): `{type, code, detail, attr}`."""
    return Reply(status, {"type": kind, "code": code, "detail": detail, "attr": attr}, dict(headers))


def unauthorized() -> Reply:
    return error(
        401,
        "authentication_error",
        "authentication_failed",
        "Personal API key found in request Authorization header is invalid.",
    )


def missing_scope(scope: str) -> Reply:
    return error(
        403, "authentication_error", "permission_denied", f"API key missing required scope '{scope}'"
    )


def rate_limited(retry_after_s: int | None = 7) -> Reply:
    """DRF's Throttled: the wait in the detail and, since drf-exceptions-hog 0.4, in Retry-After."""
    detail = "Request was throttled."
    headers: dict[str, str] = {}
    if retry_after_s is not None:
        detail += f" Expected available in {retry_after_s} second{'s' if retry_after_s != 1 else ''}."
        headers["Retry-After"] = str(retry_after_s)
    return error(429, "throttled_error", "throttled", detail, **headers)


def server_error(status: int = 500) -> Reply:
    if status == 500:
        return error(500, "server_error", "error", "A server error occurred.")
    # A load balancer's page, not JSON.
    return Reply(status, b"<html><body>Bad gateway</body></html>", {"Content-Type": "text/html"})


def hogql_error(detail: str) -> Reply:
    """A HogQL query PostHog cannot run: its QueryError / ClickHouse error as a DRF ValidationError
    (posthog/api/query.py: `raise ValidationError(str(e), getattr(e, "code_name", None))`)."""
    return error(400, "validation_error", "invalid", detail)


# posthog/hogql/user_query_validator.py
OFFSET_NOT_ALLOWED = (
    "OFFSET is not supported on queries made with a personal API key. For pagination, use keyset "
    "pagination on the `timestamp` column, e.g. `WHERE timestamp > :last_seen_timestamp ORDER BY "
    "timestamp LIMIT N`. For bulk data extraction, use batch exports: https://posthog.com/docs/cdp/batch-exports"
)
_LAST_LIMIT = re.compile(r"\bLIMIT\s+(\d+)\s*$", re.IGNORECASE)
_OFFSET = re.compile(r"\bOFFSET\s+\d+", re.IGNORECASE)


@dataclass
class HogQLTable:
    """What a HogQL query containing `contains` returns."""

    contains: str
    columns: list[str]
    rows: list[list[Any]]
    types: list[str] | None = None
    error: str | None = None  # PostHog's message for a query it cannot run, instead of rows
    delay_s: float = 0.0  # how long PostHog takes to answer


def slow(delay_s: float, reply: Reply | None = None) -> Reply:
    base = reply or Reply(200, {"results": [], "is_cached": False})
    return Reply(base.status, base.body, base.headers, delay_s)


@dataclass
class FakeEvent:
    event: str
    timestamp: datetime
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakePerson:
    distinct_id: str
    properties: dict[str, Any]
    events: list[FakeEvent]
    aliases: list[str] = field(default_factory=list)  # further distinct ids of the same person

    @property
    def distinct_ids(self) -> list[str]:
        return [self.distinct_id, *self.aliases]


class _Invalid(Exception):
    def __init__(self, detail: str, attr: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attr = attr


class FakePostHogApi(FakeServer):
    def __init__(
        self,
        *,
        key: str = PERSONAL_KEY,
        project_id: str = PROJECT_ID,
        scopes: set[str] | frozenset[str] = ALL_SCOPES,
        seed: bool = True,
        now: datetime | None = None,
        cache_ttl_s: float = 60.0,
    ) -> None:
        super().__init__()
        self.key = key
        self.project_id = project_id
        self.scopes = set(scopes)
        self.other_projects: set[str] = set()
        self.now = now or datetime.now(UTC).replace(microsecond=0)
        self.cache_ttl_s = cache_ttl_s
        self.people: list[FakePerson] = []
        self.extra_event_names: list[str] = []
        self.definitions: dict[str, dict[str, Any]] = {}  # name -> fields `add_event_definition` set
        self.insights: dict[str, dict[str, Any]] = {}
        self.hogql_tables: list[HogQLTable] = []
        self.offset_allowed = True  # False: as PostHog now answers personal-API-key queries with OFFSET
        self._scripted: deque[tuple[str | None, Reply]] = deque()
        self._cache: dict[str, tuple[float, str, Any]] = {}
        self._insight_ids = iter(range(101, 10_000))
        if seed:
            self._seed()

    # -- setup and what tests look at --------------------------------------------------------------
    def add_person(
        self,
        distinct_id: str,
        events: list[tuple[str, float | datetime] | tuple[str, float | datetime, dict[str, Any]]],
        properties: dict[str, Any] | None = None,
        *,
        aliases: list[str] | None = None,
    ) -> FakePerson:
        """`events` as (name, seconds before `now` or a datetime[, properties]); `aliases` are further
        distinct ids of the same person."""
        parsed = []
        for item in events:
            name, when = item[0], item[1]
            props = item[2] if len(item) > 2 else {}
            stamp = when if isinstance(when, datetime) else self.now - timedelta(seconds=float(when))
            parsed.append(FakeEvent(name, stamp, dict(props)))
        person = FakePerson(
            distinct_id,
            dict(properties or {}),
            sorted(parsed, key=lambda e: e.timestamp),
            list(aliases or []),
        )
        with self.lock:
            self.people.append(person)
            self._cache.clear()
        return person

    def add_event_definition(
        self,
        name: str,
        *,
        volume_30_day: int | None = None,
        last_seen: float | datetime | None = 3600.0,
        query_usage_30_day: int | None = None,
        created: float | datetime | None = 90 * 86400.0,
    ) -> None:
        """An event definition as PostHog lists it; `last_seen` and `created` in seconds before `now`
        or as datetimes (None: null, as for a definition made by hand and never received)."""

        def moment(value: float | datetime | None) -> str | None:
            if value is None:
                return None
            return _iso(value if isinstance(value, datetime) else self.now - timedelta(seconds=value))

        with self.lock:
            self.definitions[name] = {
                "volume_30_day": volume_30_day,
                "query_usage_30_day": query_usage_30_day,
                "last_seen_at": moment(last_seen),
                "created_at": moment(created),
            }

    def add_insight(
        self, short_id: str, name: str, source: dict[str, Any], *, derived_name: str = ""
    ) -> None:
        """A saved insight whose `query` is `{"kind": "InsightVizNode", "source": source}`."""
        with self.lock:
            self.insights[short_id] = {
                "id": next(self._insight_ids),
                "short_id": short_id,
                "name": name,
                "derived_name": derived_name or None,
                "description": "",
                "query": {"kind": "InsightVizNode", "source": source},
                "filters": {},
                "dashboards": [],
                "saved": True,
                "deleted": False,
                "tags": [],
                "created_at": _iso(self.now - timedelta(days=40)),
                "last_modified_at": _iso(self.now - timedelta(days=3)),
            }

    def add_hogql_table(
        self,
        contains: str,
        columns: list[str],
        rows: list[list[Any]],
        types: list[str] | None = None,
        *,
        delay_s: float = 0.0,
    ) -> None:
        """Answer HogQL queries that contain `contains` with these columns and rows (the table added
        last wins), after `delay_s`."""
        table = HogQLTable(contains, list(columns), [list(r) for r in rows], types, delay_s=delay_s)
        with self.lock:
            self.hogql_tables.insert(0, table)

    def add_hogql_error(self, contains: str, detail: str) -> None:
        """Answer HogQL queries that contain `contains` as PostHog answers a query it cannot run."""
        with self.lock:
            self.hogql_tables.insert(0, HogQLTable(contains, [], [], error=detail))

    def script(self, *replies: Reply, path: str | None = None) -> None:
        """Answer the next calls (to a path ending in `path`, or any) with these replies."""
        with self.lock:
            self._scripted.extend((path, reply) for reply in replies)

    def calls(self, suffix: str) -> list[Recorded]:
        """Requests whose path ends with `suffix` (e.g. "query/")."""
        with self.lock:
            return [r for r in self.requests if r.path.rstrip("/").endswith(suffix.rstrip("/"))]

    def queries(self) -> list[dict[str, Any]]:
        """The bodies POSTed to /query/, in order."""
        return [r.json() for r in self.calls("query/") if r.method == "POST"]

    def event_names(self) -> list[str]:
        """Every event name, most recently seen first (then by name), as event_definitions lists them."""
        last_seen = self._last_seen()
        with self.lock:
            defined = list(self.definitions)
            extra = list(self.extra_event_names)
        seen = {n: t for n, t in last_seen.items() if t is not None}
        names = sorted(seen, key=lambda n: (-seen[n].timestamp(), n))
        never = [n for n in [*defined, *extra] if n not in seen]
        return names + list(dict.fromkeys(never))

    def _last_seen(self) -> dict[str, datetime | None]:
        """Each name's last event in the dataset, or the `last_seen_at` its definition was given."""
        last_seen: dict[str, datetime | None] = {}
        with self.lock:
            for person in self.people:
                for event in person.events:
                    known = last_seen.get(event.event)
                    if known is None or event.timestamp > known:
                        last_seen[event.event] = event.timestamp
            for name, fields in self.definitions.items():
                stamp = fields["last_seen_at"]
                last_seen[name] = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
        return last_seen

    # -- the API -----------------------------------------------------------------------------------
    def respond(self, request: Recorded) -> Reply:
        with self.lock:
            for entry in self._scripted:
                if entry[0] is None or request.path.rstrip("/").endswith(entry[0].rstrip("/")):
                    self._scripted.remove(entry)
                    return entry[1]
        auth = request.headers.get("authorization", "")
        if not auth:
            return error(
                401,
                "authentication_error",
                "not_authenticated",
                "Authentication credentials were not provided.",
            )
        if auth != f"Bearer {self.key}":
            return unauthorized()
        match = _PROJECT_PATH.match(request.path)
        if not match:
            return error(404, "invalid_request", "not_found", "Not found.")
        project, rest = match.group(1), match.group(2)
        route = (request.method, rest)
        scope = _ROUTE_SCOPES.get(route)
        if scope is None:
            return error(404, "invalid_request", "not_found", "Not found.")
        if not self._has_scope(scope):
            return missing_scope(scope)
        if project != self.project_id:
            if project in self.other_projects:
                return error(
                    403, "authentication_error", "permission_denied", "You don't have access to the project."
                )
            return error(404, "invalid_request", "not_found", "Project not found.")
        try:
            if route == ("POST", "query"):
                return self._query(request)
            if route == ("GET", "insights"):
                return self._insights(request)
            if route == ("GET", "persons"):
                return self._persons(request)
            return self._event_definitions(request)
        except _Invalid as exc:
            return error(400, "validation_error", "invalid_input", exc.detail, exc.attr)

    def _has_scope(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes or scope.replace(":read", ":write") in self.scopes

    def _query(self, request: Recorded) -> Reply:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return error(
                415, "invalid_request", "unsupported_media_type", "Unsupported media type in request."
            )
        try:
            body = request.json()
        except ValueError:
            return error(400, "invalid_request", "parse_error", "JSON parse error")
        if not isinstance(body, dict) or not isinstance(body.get("query"), dict):
            raise _Invalid("This field is required.", "query")
        for key in body:
            if key not in _REQUEST_KEYS:
                raise _Invalid("Extra inputs are not permitted", key)
        refresh = body.get("refresh", "blocking")
        if refresh not in _REFRESH:
            raise _Invalid(f"Input should be one of {sorted(_REFRESH)}", "refresh")
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 128):
            raise _Invalid("String should have at most 128 characters", "name")
        if body["query"].get("kind") == "HogQLQuery":
            return self._hogql(str(body["query"].get("query", "")))
        results, last_refresh, cached = self._computed(body["query"], refresh)
        answer: dict[str, Any] = {
            "results": results,
            "is_cached": cached,
            "last_refresh": last_refresh,
            "next_allowed_client_refresh": last_refresh,
            "cache_key": "cache_" + _digest(body["query"]),
            "cache_target_age": None,
            "timezone": "UTC",
            "hogql": "SELECT countIf(ifNull(equals(steps, 1), 0)) AS step_1 FROM (…)",
            "timings": [],
            "modifiers": {},
            "query_status": None,
        }
        return Reply(200, answer)

    HOGQL_COLUMNS = ("uuid", "event", "distinct_id", "properties", "timestamp", "person.properties")

    def _hogql(self, query: str) -> Reply:
        if not self.offset_allowed and _OFFSET.search(query):
            return hogql_error(OFFSET_NOT_ALLOWED)
        with self.lock:
            table = next((t for t in self.hogql_tables if t.contains in query), None)
        if table is not None:
            reply = hogql_error(table.error) if table.error else self._hogql_table(query, table)
            return Reply(reply.status, reply.body, reply.headers, table.delay_s)
        return self._hogql_events(query)

    def _hogql_table(self, query: str, table: HogQLTable) -> Reply:
        """PostHog's HogQLQueryRunner: a SELECT without LIMIT gets the default 100 rows through the
        has-more paginator (one more is fetched to tell); an explicit LIMIT is capped at 50,000 and
        the answer says nothing of more rows."""
        last = _LAST_LIMIT.search(query)
        types = table.types or ["String"] * len(table.columns)
        answer: dict[str, Any] = {
            "columns": table.columns,
            "types": [[c, t] for c, t in zip(table.columns, types, strict=True)],
            "hogql": query,
            "clickhouse": "SELECT … FROM events WHERE equals(events.team_id, 1) …",
            "is_cached": False,
            "cache_key": "cache_" + _digest(query),
            "last_refresh": _iso(datetime.now(UTC)),
            "timezone": "UTC",
            "timings": [],
            "modifiers": {},
            "error": None,
            "explain": None,
            "metadata": None,
            "query_status": None,
        }
        if last:
            limit = min(int(last.group(1)), 50_000)
            return Reply(
                200, {**answer, "results": table.rows[:limit], "hasMore": None, "limit": None, "offset": None}
            )
        page = table.rows[:100]
        return Reply(
            200, {**answer, "results": page, "hasMore": len(table.rows) > 100, "limit": 100, "offset": 0}
        )

    def _hogql_events(self, query: str) -> Reply:
        """Enough HogQL for the replay's paging query: the events table, `timestamp >=` / `<`
        `toDateTime('…Z')` bounds, an event list, a keyset after (timestamp, uuid), ORDER BY
        timestamp, LIMIT (and OFFSET, where allowed). Properties come back
        as JSON strings, as HogQL returns them."""
        lower = re.search(r"timestamp >= toDateTime\('([^']+)'\)", query)
        upper = re.search(r"timestamp < toDateTime\('([^']+)'\)", query)
        names = re.search(r"event IN \(([^)]*)\)", query)
        limit = re.search(r"LIMIT (\d+)", query)
        offset = re.search(r"OFFSET (\d+)", query)
        after = re.search(r"timestamp > toDateTime\('([^']+)'\) OR .*uuid > toUUID\('([^']+)'\)", query)
        wanted = set(re.findall(r"'((?:[^'\\]|\\.)*)'", names.group(1))) if names else None
        since = datetime.fromisoformat(lower.group(1).replace("Z", "+00:00")) if lower else None
        until = datetime.fromisoformat(upper.group(1).replace("Z", "+00:00")) if upper else None
        rows = []
        with self.lock:
            for person in self.people:
                for index, event in enumerate(person.events):
                    if (
                        (wanted is None or event.event in wanted)
                        and (since is None or event.timestamp >= since)
                        and (until is None or event.timestamp < until)
                    ):
                        uid = str(
                            uuid.uuid5(uuid.NAMESPACE_URL, f"{person.distinct_id}/{index}/{event.event}")
                        )
                        rows.append(
                            [
                                uid,
                                event.event,
                                person.distinct_id,
                                json.dumps(event.properties),
                                _iso(event.timestamp),
                                json.dumps(person.properties),
                            ]
                        )
        rows.sort(key=lambda row: (row[4], row[0]))
        if after:  # keyset paging: the rows after (timestamp, uuid)
            rows = [row for row in rows if (row[4], row[0]) > (after.group(1), after.group(2))]
        start = int(offset.group(1)) if offset else 0
        size = int(limit.group(1)) if limit else 100
        page = rows[start : start + size]
        return Reply(
            200,
            {
                "results": page,
                "columns": self.HOGQL_COLUMNS,
                "types": [],
                "hasMore": start + size < len(rows),
                "limit": size,
                "offset": start,
                "is_cached": False,
                "query_status": None,
            },
        )

    def _computed(self, query: dict[str, Any], refresh: str) -> tuple[Any, str, bool]:
        key = _digest(query)
        now = time.time()
        with self.lock:
            hit = self._cache.get(key)
        if hit and refresh not in ("force_blocking", "force_async") and now - hit[0] < self.cache_ttl_s:
            return hit[2], hit[1], True
        results = self._run(query)
        stamp = _iso(datetime.now(UTC))
        with self.lock:
            self._cache[key] = (now, stamp, results)
        return results, stamp, False

    def _run(self, query: dict[str, Any]) -> Any:
        kind = query.get("kind")
        if kind == "FunnelsQuery":
            return self._funnel(query)
        if kind == "TrendsQuery":
            return self._trends(query)
        raise _Invalid(f"Unsupported query kind in this fake: {kind!r}", "kind")

    def _insights(self, request: Recorded) -> Reply:
        params = {k: v[0] for k, v in request.query.items()}
        refresh = params.get("refresh", "force_cache")
        if refresh not in _REFRESH:
            raise _Invalid(f"Input should be one of {sorted(_REFRESH)}", "refresh")
        with self.lock:
            stored = list(self.insights.values())
        if "short_id" in params:
            stored = [i for i in stored if i["short_id"] == params["short_id"]]
        results = []
        for insight in stored:
            source = insight["query"]["source"]
            if refresh == "force_cache":
                with self.lock:
                    hit = self._cache.get(_digest(source))
                result, last, cached = (hit[2], hit[1], True) if hit else (None, None, False)
            else:
                result, last, cached = self._computed(source, refresh)
            results.append(
                {
                    **insight,
                    "result": result,
                    "last_refresh": last,
                    "is_cached": cached,
                    "timezone": "UTC",
                    "query_status": None,
                }
            )
        return Reply(200, {"count": len(results), "next": None, "previous": None, "results": results})

    def persons_calls(self) -> list[Recorded]:
        """The requests to …/persons/, in order."""
        return self.calls("persons/")

    def _persons(self, request: Recorded) -> Reply:
        """posthog/api/person.py `PersonViewSet.list` with the `distinct_id` filter."""
        params = {k: v[0] for k, v in request.query.items()}
        limit, offset = _page(params)
        with self.lock:
            people = list(enumerate(self.people))
        wanted = params.get("distinct_id")
        if wanted is not None:
            people = [(i, p) for i, p in people if wanted in p.distinct_ids]
        page = people[offset : offset + limit]
        base = f"{self.url}/api/projects/{self.project_id}/persons/"
        more = offset + limit < len(people)
        return Reply(
            200,
            {
                "next": f"{base}?limit={limit}&offset={offset + limit}" if more else None,
                "previous": f"{base}?limit={limit}&offset={max(offset - limit, 0)}" if offset else None,
                "results": [self._person_record(i, p) for i, p in page],
            },
        )

    def _person_record(self, index: int, person: FakePerson) -> dict[str, Any]:
        props = person.properties
        name = next(
            (str(props[k]) for k in ("email", "name", "username") if props.get(k)), person.distinct_id
        )
        last = person.events[-1].timestamp if person.events else None
        return {
            "id": 1000 + index,
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-posthog-person/{person.distinct_id}")),
            "name": name,
            "distinct_ids": person.distinct_ids,
            "properties": dict(props),
            "created_at": _iso(self.now - timedelta(days=60)),
            "last_seen_at": _iso(last) if last else None,
        }

    def _event_definitions(self, request: Recorded) -> Reply:
        params = {k: v[0] for k, v in request.query.items()}
        limit, offset = _page(params)
        names = self.event_names()
        search = params.get("search")
        if search:  # PostHog's filter matches parts of names, whatever their case
            names = [name for name in names if search.lower() in name.lower()]
        page = names[offset : offset + limit]
        base = f"{self.url}/api/projects/{self.project_id}/event_definitions/"
        last_seen = self._last_seen()
        with self.lock:
            defined = {name: dict(self.definitions[name]) for name in page if name in self.definitions}
        results = []
        for i, name in enumerate(page):
            seen = last_seen.get(name)
            row: dict[str, Any] = {
                "id": f"00000000-0000-4000-8000-{offset + i:012d}",
                "name": name,
                "volume_30_day": None,
                "query_usage_30_day": None,
                "created_at": _iso(self.now - timedelta(days=90)),
                "last_seen_at": _iso(seen) if seen else None,
                "last_updated_at": None,
                "tags": [],
                "is_action": False,
                "action_id": None,
                "is_calculating": False,
                "last_calculated_at": None,
                "created_by": None,
                "post_to_slack": False,
            }
            row.update(defined.get(name, {}))
            results.append(row)
        more = offset + limit < len(names)
        return Reply(
            200,
            {
                "count": len(names),
                "next": f"{base}?limit={limit}&offset={offset + limit}" if more else None,
                "previous": f"{base}?limit={limit}&offset={max(offset - limit, 0)}" if offset else None,
                "results": results,
            },
        )

    # -- computing funnels ---------------------------------------------------------------------------
    def _funnel(self, query: dict[str, Any]) -> list[Any]:
        _only_keys(query, _FUNNELS_QUERY_KEYS, "")
        series = query.get("series")
        if not isinstance(series, list) or not series:
            raise _Invalid("Field required", "series")
        steps: list[str] = []
        for i, node in enumerate(series):
            if not isinstance(node, dict) or node.get("kind") != "EventsNode":
                raise _Invalid("This fake computes EventsNode steps only", f"series__{i}")
            _only_keys(node, _EVENTS_NODE_KEYS, f"series__{i}__")
            if not isinstance(node.get("event"), str):
                raise _Invalid("This fake needs an event name on every step", f"series__{i}__event")
            steps.append(node["event"])
        funnels = query.get("funnelsFilter") or {}
        _only_keys(funnels, _FUNNELS_FILTER_KEYS, "funnelsFilter__")
        if funnels.get("funnelVizType", "steps") not in ("steps", "time_to_convert", "trends"):
            raise _Invalid(
                "Input should be 'steps', 'time_to_convert' or 'trends'", "funnelsFilter__funnelVizType"
            )
        if funnels.get("funnelOrderType", "ordered") not in ("strict", "unordered", "ordered"):
            raise _Invalid(
                "Input should be 'strict', 'unordered' or 'ordered'", "funnelsFilter__funnelOrderType"
            )
        viz = funnels.get("funnelVizType", "steps")
        if viz == "time_to_convert" or funnels.get("funnelOrderType", "ordered") != "ordered":
            raise _Invalid("This fake computes ordered step and trends funnels only", "funnelsFilter")
        unit = funnels.get("funnelWindowIntervalUnit", "day")
        if unit not in _WINDOW_UNITS:
            raise _Invalid("Input should be a funnel window unit", "funnelsFilter__funnelWindowIntervalUnit")
        window = timedelta(seconds=int(funnels.get("funnelWindowInterval", 14)) * _WINDOW_UNITS[unit])
        start, end = self._date_range(query.get("dateRange") or {})
        breakdown = query.get("breakdownFilter") or {}
        _only_keys(breakdown, _BREAKDOWN_KEYS, "breakdownFilter__")
        prop = breakdown.get("breakdown")
        kind = breakdown.get("breakdown_type") or "event"
        if prop is not None and kind not in ("event", "person"):
            raise _Invalid("This fake breaks down by event or person properties only", "breakdownFilter")

        reached: list[tuple[Any, int, list[float]]] = []  # (breakdown value, steps reached, gaps)
        entered: list[tuple[datetime, bool]] = []  # (step-0 time, converted) for funnel trends
        with self.lock:
            people = list(self.people)
        for person in people:
            events = [e for e in person.events if start <= e.timestamp <= end]
            best = _furthest(events, steps, window)
            if best is None:
                continue
            entered.append((best[0].timestamp, len(best) == len(steps)))
            value: Any = None
            if prop is not None:
                props = best[0].properties if kind == "event" else person.properties
                value = _breakdown_value(props, prop)
            reached.append((value, len(best), _gaps(best)))
        if viz == "trends":
            return _conversion_by_day(entered, start, end)
        if prop is None:
            return self._steps(series, reached)
        groups: dict[str, list[tuple[Any, int, list[float]]]] = {}
        for row in reached:
            groups.setdefault(json.dumps(row[0]), []).append(row)
        ordered = sorted(groups.values(), key=lambda rows: (-len(rows), json.dumps(rows[0][0])))
        limit = int(breakdown.get("breakdown_limit") or 25)
        if len(ordered) > limit:
            other_value: Any = ["Other"] if isinstance(prop, list) else "Other"
            rest = [(other_value, n, g) for rows in ordered[limit:] for _, n, g in rows]
            ordered = [*ordered[:limit], rest]
        out = []
        for rows in ordered:
            value = rows[0][0]
            out.append(
                [{**s, "breakdown": value, "breakdown_value": value} for s in self._steps(series, rows)]
            )
        return out

    def _steps(
        self, series: list[dict[str, Any]], rows: list[tuple[Any, int, list[float]]]
    ) -> list[dict[str, Any]]:
        out = []
        for i, node in enumerate(series):
            at_step = [r for r in rows if r[1] > i]
            gaps = [r[2][i - 1] for r in at_step] if i else []
            out.append(
                {
                    "action_id": node["event"],
                    "name": node["event"],
                    "custom_name": node.get("custom_name"),
                    "order": i,
                    "people": [],
                    "count": len(at_step),
                    "type": "events",
                    "average_conversion_time": statistics.fmean(gaps) if gaps else None,
                    "median_conversion_time": float(statistics.median(gaps)) if gaps else None,
                }
            )
        return out

    def _trends(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        start, end = self._date_range(query.get("dateRange") or {})
        days = [(start + timedelta(days=d)).date() for d in range((end.date() - start.date()).days + 1)]
        out = []
        for node in query.get("series") or []:
            counts = dict.fromkeys(days, 0)
            with self.lock:
                for person in self.people:
                    for event in person.events:
                        if event.event == node.get("event") and start <= event.timestamp <= end:
                            counts[event.timestamp.date()] = counts.get(event.timestamp.date(), 0) + 1
            data = [counts[d] for d in days]
            out.append(
                {
                    "action": {"id": node.get("event"), "type": "events", "name": node.get("event")},
                    "label": node.get("event"),
                    "count": sum(data),
                    "data": data,
                    "labels": [d.strftime("%-d-%b-%Y") for d in days],
                    "days": [d.isoformat() for d in days],
                }
            )
        return out

    def _date_range(self, date_range: dict[str, Any]) -> tuple[datetime, datetime]:
        _only_keys(date_range, {"date_from", "date_to", "explicitDate"}, "dateRange__")
        start = self._relative(date_range.get("date_from") or "-7d", "date_from", explicit=False)
        end = (
            self._relative(date_range["date_to"], "date_to", explicit=True)
            if date_range.get("date_to")
            else self.now
        )
        return start, end

    def _relative(self, value: str, attr: str, *, explicit: bool) -> datetime:
        """PostHog's relative dates; days and longer round to the start of the day, as insights do."""
        today = self.now.replace(hour=0, minute=0, second=0)
        starts = {
            "dStart": today,
            "wStart": today - timedelta(days=today.weekday()),
            "mStart": today.replace(day=1),
            "qStart": today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1),
            "yStart": today.replace(month=1, day=1),
            "all": datetime(2015, 1, 1, tzinfo=UTC),
        }
        if value in starts:
            return starts[value]
        found = _RELATIVE.match(value)
        if found:
            amount, unit = int(found.group(1)), found.group(2)
            if unit == "h":
                return self.now - timedelta(hours=amount)
            days = amount * {"d": 1, "w": 7, "m": 30, "q": 91, "y": 365}[unit]
            moment = self.now - timedelta(days=days)
            return moment if explicit else moment.replace(hour=0, minute=0, second=0)
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _Invalid(f"Unknown relative date {value!r}", f"dateRange__{attr}") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    # -- the seeded journey -----------------------------------------------------------------------
    def _seed(self) -> None:
        rng = random.Random(7)
        plans = ["free", "free", "free", "pro", "pro", "enterprise"]
        for n in range(60):
            plan = plans[n % len(plans)]
            started = rng.uniform(0.2, 80) * 86400  # seconds ago
            journey: list[tuple[str, float, dict[str, Any]]] = [("$pageview", started, {"plan": plan})]
            at = started
            for step, keep in zip(SEEDED_STEPS[1:], (0.7, 0.65, 0.6), strict=True):
                if rng.random() > keep:
                    break
                at -= rng.uniform(30, 3 * 3600)
                if at <= 0:
                    break
                journey.append((step, at, {"plan": plan}))
            self.add_person(f"user-{n:02d}", list(journey), {"plan": plan, "email": f"user{n}@example.com"})
        self.extra_event_names = ["feature_activated", "invite_sent", "$identify", "$autocapture"]
        self.add_insight(
            FUNNEL_INSIGHT,
            "Trial signup funnel",
            {
                "kind": "FunnelsQuery",
                "series": [{"kind": "EventsNode", "event": s, "name": s} for s in SEEDED_STEPS],
                "dateRange": {"date_from": "-30d", "date_to": None},
                "funnelsFilter": {"funnelVizType": "steps", "funnelOrderType": "ordered"},
            },
        )
        self.add_insight(
            TRENDS_INSIGHT,
            "Daily pageviews",
            {
                "kind": "TrendsQuery",
                "series": [
                    {"kind": "EventsNode", "event": "$pageview", "name": "$pageview", "math": "total"}
                ],
                "dateRange": {"date_from": "-7d"},
                "interval": "day",
            },
        )


def _furthest(events: list[FakeEvent], steps: list[str], window: timedelta) -> list[FakeEvent] | None:
    """The attempt that gets furthest: a step-0 event, then each next step in order within the window."""
    best: list[FakeEvent] | None = None
    for i, first in enumerate(events):
        if first.event != steps[0]:
            continue
        attempt = [first]
        position = i
        for step in steps[1:]:
            previous = attempt[-1]
            following = next(
                (
                    (j, e)
                    for j, e in enumerate(events[position + 1 :], start=position + 1)
                    if e.event == step and e.timestamp >= previous.timestamp
                ),
                None,
            )
            if following is None or following[1].timestamp > first.timestamp + window:
                break
            position = following[0]
            attempt.append(following[1])
        if best is None or len(attempt) > len(best):
            best = attempt
        if len(best) == len(steps):
            break
    return best


def _conversion_by_day(entered: list[tuple[datetime, bool]], start: datetime, end: datetime) -> list[Any]:
    """Funnel trends: per day, the share of that day's entrants who finished (0-100)."""
    days = [(start + timedelta(days=d)).date() for d in range((end.date() - start.date()).days + 1)]
    data = []
    for day in days:
        today = [done for at, done in entered if at.date() == day]
        data.append(round(100 * sum(today) / len(today), 2) if today else 0.0)
    return [
        {
            "count": len(days),
            "data": data,
            "days": [d.isoformat() for d in days],
            "labels": [d.strftime("%-d-%b-%Y") for d in days],
        }
    ]


def _gaps(attempt: list[FakeEvent]) -> list[float]:
    return [(b.timestamp - a.timestamp).total_seconds() for a, b in itertools.pairwise(attempt)]


def _breakdown_value(props: dict[str, Any], prop: Any) -> Any:
    if isinstance(prop, list):
        return ["" if props.get(p) is None else str(props.get(p)) for p in prop]
    value = props.get(prop)
    return "" if value is None else str(value)


def _only_keys(node: Any, allowed: set[str], prefix: str) -> None:
    if not isinstance(node, dict):
        raise _Invalid("Input should be a valid dictionary", prefix.rstrip("_") or None)
    for key in node:
        if key not in allowed:
            raise _Invalid("Extra inputs are not permitted", f"{prefix}{key}")


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _page(params: dict[str, str]) -> tuple[int, int]:
    """A list endpoint's `limit` and `offset`, refused as DRF's pagination refuses them."""
    try:
        limit = int(params.get("limit", 100))
        offset = int(params.get("offset", 0))
    except ValueError:
        raise _Invalid("A valid integer is required.", "limit") from None
    if limit < 1 or offset < 0:
        raise _Invalid("Ensure this value is greater than or equal to 1.", "limit")
    return limit, offset
