"""PostHog's private API, read-only, with a personal API key: funnels, saved insights, event names,
persons.

A few calls do not justify a generated SDK: this keeps one timeout, one exception type and a sentence a
Slack user can act on (`PostHogApiError.explain()`). Nothing here retries; the caller decides.

Wire format (PostHog/posthog; sources in brackets):
- Auth: `Authorization: Bearer phx_…` on the app host (`https://us.posthog.com`, not `us.i.`). Scopes
  are `<object>:read`, and a `:write` scope covers the read [posthog/permissions.py
  `APIScopePermission`]: `query:read` for `/query/`, `insight:read` for `/insights/`,
  `event_definition:read` for `/event_definitions/`, `person:read` for `/persons/` (`scope_object` of
  each viewset).
- `POST /api/projects/{id}/query/` takes `{"query": <node>, "refresh": "blocking", "name": …}`; `name`
  labels the query in PostHog's query log, up to 128 characters [schema-general.ts `QueryRequest`].
  The node and the answer's `results` are read and written in posthog_queries.py.
- `GET /api/projects/{id}/insights/?short_id=…&refresh=blocking` answers `{count, next, previous,
  results: [insight]}`; the insight has `name`, `derived_name`, `query` (`{"kind": "InsightVizNode",
  "source": {...}}`) and `result` [posthog/api/insight.py list parameters; refresh defaults to
  force_cache, which never computes].
- `GET /api/projects/{id}/event_definitions/?limit=&offset=` pages `{count, next, previous, results:
  [{id, name, volume_30_day, query_usage_30_day, created_at, last_seen_at, last_updated_at, tags, …}]}`,
  most recently seen first, then by name [posthog/api/event_definition.py]; `volume_30_day` is null
  or absent on many projects (newer serializers leave it out).
- `GET /api/projects/{id}/persons/?distinct_id=…` answers `{next, previous, results: [person]}`, the
  persons one of whose distinct ids is exactly that one (none or one); a person is `{id (numeric),
  uuid, name (display name), distinct_ids, properties, created_at, last_seen_at}`; persons reads are
  throttled at 240/minute per key [posthog/api/person.py `PersonViewSet`, `PersonSerializer`].
- Errors are `{"type", "code", "detail", "attr"}` [PostHog/drf-exceptions-hog]: 401
  `authentication_failed` "Personal API key found in request Authorization header is invalid."; 403
  "API key missing required scope 'query:read'" or "API key does not have access to the requested
  project: ID 1."; 404 "Project not found."; 429 `throttled` with `Retry-After` (seconds).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from bot.clients.errors import ApiError, clip_detail, scrub
from bot.clients.posthog_queries import (
    FunnelResult,
    HogQLTable,
    UnreadableFunnel,
    UnreadableTable,
    capped_hogql,
    funnel_url,
    funnels_query,
    parse_funnel,
    parse_hogql_table,
    short_id_from,
)
from bot.clients.retry_after import retry_after_seconds

_SCOPE_RE = re.compile(r"missing required scope '([a-z_]+:(?:read|write))'")
_WAIT_RE = re.compile(r"available in (\d+(?:\.\d+)?) seconds?")
_QUERY_NAME_MAX = 128


class PostHogApiError(ApiError):
    """A PostHog API call that did not succeed; `status` is None when PostHog never answered."""

    service = "PostHog"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        kind: str | None = None,
        retry_after: float | None = None,
        project_id: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        super().__init__(detail, status=status, retry_after=retry_after)
        self.code = code
        self.kind = kind  # PostHog's `type`: authentication_error, throttled_error, validation_error, ...
        self.project_id = project_id
        self.timeout_s = timeout_s

    @property
    def detail(self) -> str:
        """PostHog's own words (or ours, when it never answered)."""
        return self.message

    def label(self) -> str:
        return self.code or "error"

    @property
    def missing_scope(self) -> str | None:
        """The scope PostHog named in a 403, e.g. `query:read`."""
        found = _SCOPE_RE.search(self.detail)
        return found.group(1) if found else None

    def explain(self) -> str:
        """One line for Slack: what went wrong and what to do. Never holds the key."""
        status, code = self.status, self.code
        project = f" {self.project_id}" if self.project_id else ""
        if status is None:
            if code == "timeout":
                within = f" within {self.timeout_s:g} s" if self.timeout_s else ""
                return f"PostHog did not answer{within}; try again"
            if code == "unreachable":
                return f"PostHog did not answer ({self.detail}); try again"
            return self.detail
        if code == "not_a_funnel":
            return self.detail
        if code == "insight_not_found":
            return f"{self.detail}; check the short id (the part after /insights/ in its URL)"
        if code == "query_incomplete":
            return "PostHog is still computing this; try again in a minute"
        if code == "query_failed":
            return f"PostHog could not run the query: {self.detail}"
        if status < 400:
            return f"PostHog gave an answer the bot cannot read: {self.detail}"
        if status == 401:
            return (
                "PostHog rejected the personal API key (401): check POSTHOG_PERSONAL_API_KEY "
                "(a phx_ key from Settings → Personal API keys, not the phc_ project key)"
            )
        if status == 403:
            scope = self.missing_scope
            if scope:
                return (
                    f"PostHog refused the call (403): the key in POSTHOG_PERSONAL_API_KEY lacks the scope "
                    f"{scope}; add it in PostHog under Settings → Personal API keys"
                )
            if "project" in self.detail.lower():
                return (
                    f"PostHog refused the call (403): the personal API key has no access to project"
                    f"{project}; check POSTHOG_PROJECT_ID and the key's project access"
                )
            return f"PostHog refused the call (403): {self.detail}"
        if status == 404:
            return f"PostHog has no project{project} for this key (404): check POSTHOG_PROJECT_ID"
        if status == 429:
            wait = f"in {math.ceil(self.retry_after)} s" if self.retry_after else "in a minute"
            return f"PostHog is rate limiting queries; try again {wait}"
        if status >= 500:
            return f"PostHog did not answer (HTTP {status}); try again"
        return f"PostHog rejected the request ({status}): {self.detail}"


COMMAND_TIMEOUT_S = 30.0  # one call on behalf of a `/posthog` command
PERSON_TIMEOUT_S = 3.0  # one person looked up while deciding: short, an alert is never held up for it


@dataclass(frozen=True)
class EventDefinitionsPage:
    """One page of `GET …/event_definitions/`: its rows as sent, and whether rows remain after this
    page (which, not PostHog's `count`, decides when to stop reading)."""

    rows: list[dict[str, Any]]
    more: bool


class PostHogApi:
    """Read calls against one project. Share one `httpx.AsyncClient`; each call is bounded by `timeout_s`."""

    def __init__(
        self,
        app_host: str,
        project_id: str,
        personal_key: str,
        client: httpx.AsyncClient,
        timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> None:
        self._host = app_host.rstrip("/")
        self.project_id = str(project_id).strip()
        self._key = personal_key
        self._client = client
        self._timeout_s = timeout_s

    # -- calls -----------------------------------------------------------------------------------
    async def funnel(
        self,
        steps: list[str],
        date_from: str,
        breakdown: str | None,
        breakdown_type: str = "event",
        *,
        filter_test_accounts: bool = False,
    ) -> FunnelResult:
        """An ordered step funnel over `steps` (event names) since `date_from` (PostHog's relative
        form: `-7d`, `mStart`), broken down by an event (or `breakdown_type="person"`) property when
        `breakdown` is given."""
        query = funnels_query(steps, date_from, breakdown, breakdown_type, filter_test_accounts)
        name = _query_name("slack funnel: " + " > ".join(steps) + (f" by {breakdown}" if breakdown else ""))
        data = await self._run_query(query, name)
        return self._read_funnel(data.get("results"), data)

    async def saved_funnel(self, short_id: str) -> tuple[str, FunnelResult, dict[str, Any]]:
        """A saved funnel insight: its name, its result and its `FunnelsQuery` source.

        Raises PostHogApiError `insight_not_found` or `not_a_funnel`. A funnel saved as trends or
        time to convert, or one PostHog answers without a result, is run as a step funnel from its
        source instead.
        """
        wanted = short_id_from(short_id)
        if not wanted:
            raise ValueError(f"not an insight short id or URL: {short_id!r}")
        data = await self._call(
            "GET",
            self._path("insights/"),
            params={"short_id": wanted, "refresh": "blocking"},
        )
        found = [i for i in data.get("results") or [] if isinstance(i, dict)]
        insight = next((i for i in found if i.get("short_id") == wanted), found[0] if found else None)
        if insight is None:
            raise PostHogApiError(
                f"There is no saved insight {wanted} in PostHog project {self.project_id}",
                code="insight_not_found",
                status=404,
                project_id=self.project_id,
            )
        name = str(insight.get("name") or insight.get("derived_name") or f"Insight {wanted}")
        query = insight.get("query") if isinstance(insight.get("query"), dict) else {}
        source = query.get("source") if query.get("kind") == "InsightVizNode" else query
        if not isinstance(source, dict) or source.get("kind") != "FunnelsQuery":
            kind = (
                (source or {}).get("kind") or (insight.get("filters") or {}).get("insight") or "not a query"
            )
            raise PostHogApiError(
                f"“{name}” is not a funnel ({_kind_name(kind)}); give the short id of a funnel insight",
                code="not_a_funnel",
                status=200,
                project_id=self.project_id,
            )
        viz = (source.get("funnelsFilter") or {}).get("funnelVizType") or "steps"
        result = insight.get("result")
        if viz == "steps" and isinstance(result, list) and result:
            meta = {"is_cached": insight.get("is_cached"), "last_refresh": insight.get("last_refresh")}
            return name, self._read_funnel(result, meta), source
        steps_source = {
            **source,
            "funnelsFilter": {**(source.get("funnelsFilter") or {}), "funnelVizType": "steps"},
        }
        data = await self._run_query(steps_source, _query_name(f"slack saved funnel: {wanted}"))
        return name, self._read_funnel(data.get("results"), data), source

    async def event_definition_pages(
        self, max_rows: int = 10_000, page_size: int = 200
    ) -> AsyncIterator[EventDefinitionsPage]:
        """The project's event definitions as PostHog sends them (untrusted dicts), a page at a time,
        most recently seen first, until `max_rows` rows are read; the last page says whether PostHog
        had more."""
        read = 0
        offset = 0
        while read < max_rows:
            data = await self._call(
                "GET", self._path("event_definitions/"), params={"limit": page_size, "offset": offset}
            )
            raw = data.get("results")
            rows = [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []
            more = bool(data.get("next")) and bool(raw)
            room = max_rows - read
            if len(rows) > room:
                rows, more = rows[:room], True
            read += len(rows)
            yield EventDefinitionsPage(rows, more)
            if not more:
                return
            offset += len(raw) if isinstance(raw, list) else 0

    async def search_event_definitions(self, text: str, limit: int = 100) -> list[dict[str, Any]]:
        """The event definitions whose name PostHog matches to `text` (its `search` filter), as it
        sends them (untrusted dicts): one page, for looking up a name without reading them all."""
        data = await self._call(
            "GET", self._path("event_definitions/"), params={"search": text, "limit": limit}
        )
        raw = data.get("results")
        return [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []

    async def event_names(self, max_names: int = 1000, page_size: int = 200) -> list[str]:
        """Names of the project's events, most recently seen first, for "did you mean"."""
        names: list[str] = []
        async for page in self.event_definition_pages(max_names, page_size):
            for row in page.rows:
                name = row.get("name")
                if isinstance(name, str) and name and name not in names:
                    names.append(name)
        return names[:max_names]

    async def hogql(
        self, query: str, name: str = "posthog-slack-signals replay"
    ) -> tuple[list[str], list[list[Any]]]:
        """(columns, rows) of a HogQL query (scope query:read)."""
        data = await self._run_query({"kind": "HogQLQuery", "query": query}, _query_name(name))
        return list(data.get("columns") or []), list(data.get("results") or [])

    async def hogql_table(self, query: str, max_rows: int, name: str) -> HogQLTable:
        """The rows of a user's HogQL query (scope query:read), at most `max_rows` of them, in one
        request (see `capped_hogql` for why not pages). A HogQL error is PostHog's 400 with its own
        message as the error's `detail`."""
        node = {"kind": "HogQLQuery", "query": capped_hogql(query, max_rows)}
        data = await self._run_query(node, _query_name(name))
        try:
            return parse_hogql_table(data, max_rows)
        except UnreadableTable as exc:
            raise PostHogApiError(
                str(exc), status=200, code="bad_response", project_id=self.project_id
            ) from None

    async def person(self, distinct_id: str) -> dict[str, Any] | None:
        """The person one of whose distinct ids is `distinct_id` (scope person:read), as PostHog sends
        it (an untrusted dict), or None when PostHog knows no such person."""
        data = await self._call("GET", self._path("persons/"), params={"distinct_id": distinct_id})
        raw = data.get("results")
        if not isinstance(raw, list):
            raise PostHogApiError(
                "PostHog answered without a list of persons",
                status=200,
                code="bad_response",
                project_id=self.project_id,
            )
        for found in raw:
            if not isinstance(found, dict):
                continue
            ids = found.get("distinct_ids")
            # PostHog's filter is exact; a person listing other ids only is not the one asked for.
            if not isinstance(ids, list) or distinct_id in ids:
                return found
        return None

    # -- links -----------------------------------------------------------------------------------
    def funnel_url(
        self, steps: list[str], date_from: str, breakdown: str | None, breakdown_type: str = "event"
    ) -> str:
        """Opens the same funnel, unsaved, in this project in PostHog."""
        return funnel_url(self._project_url(), steps, date_from, breakdown, breakdown_type)

    def insight_url(self, short_id: str) -> str:
        wanted = short_id_from(short_id)
        if not wanted:
            raise ValueError(f"not an insight short id or URL: {short_id!r}")
        return f"{self._project_url()}/insights/{wanted}"

    def _project_url(self) -> str:
        return f"{self._host}/project/{quote(self.project_id, safe='')}"

    def _read_funnel(self, results: Any, meta: dict[str, Any]) -> FunnelResult:
        try:
            return parse_funnel(results, meta)
        except UnreadableFunnel as exc:
            raise PostHogApiError(
                str(exc), status=200, code="bad_response", project_id=self.project_id
            ) from None

    # -- HTTP ------------------------------------------------------------------------------------
    def _path(self, rest: str) -> str:
        return f"/api/projects/{quote(self.project_id, safe='')}/{rest}"

    async def _run_query(self, query: dict[str, Any], name: str) -> dict[str, Any]:
        body = {"query": query, "refresh": "blocking", "name": name}
        data = await self._call("POST", self._path("query/"), body=body)
        if "results" not in data:
            status = data.get("query_status") if isinstance(data.get("query_status"), dict) else {}
            if status.get("error"):
                raise PostHogApiError(
                    clip_detail(str(status.get("error_message") or "the query failed")),
                    status=200,
                    code="query_failed",
                    project_id=self.project_id,
                )
            raise PostHogApiError(
                "PostHog answered before the query finished",
                status=200,
                code="query_incomplete",
                project_id=self.project_id,
            )
        return data

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._key}", "Accept": "application/json"}
        try:
            # httpx's timeout applies per phase (connect, each read); this bounds the whole call.
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.request(
                    method,
                    self._host + path,
                    json=body,
                    params=params,
                    headers=headers,
                    timeout=self._timeout_s,
                )
        except (TimeoutError, httpx.TimeoutException):
            raise PostHogApiError(
                f"PostHog did not answer within {self._timeout_s:g} s",
                code="timeout",
                project_id=self.project_id,
                timeout_s=self._timeout_s,
            ) from None
        except httpx.HTTPError as exc:
            host = urlsplit(self._host).netloc or self._host
            raise PostHogApiError(
                f"could not reach {host}: {type(exc).__name__}",
                code="unreachable",
                project_id=self.project_id,
            ) from None
        if not response.is_success:
            raise self._error(response)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise PostHogApiError(
                "PostHog answered with something that is not a JSON object",
                status=response.status_code,
                code="bad_response",
                project_id=self.project_id,
            )
        return data

    def _error(self, response: httpx.Response) -> PostHogApiError:
        try:
            data = response.json()
        except ValueError:
            data = None
        data = data if isinstance(data, dict) else {}
        detail = data.get("detail")
        if isinstance(detail, list | dict):
            detail = json.dumps(detail, ensure_ascii=False)
        text = scrub(str(detail) if detail else response.reason_phrase or "no details", self._key)
        if data.get("attr"):
            text = f"{text} ({data['attr']})"
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        if retry_after is None and response.status_code == 429:
            waited = _WAIT_RE.search(text)
            retry_after = float(waited.group(1)) if waited else None
        return PostHogApiError(
            clip_detail(text),
            status=response.status_code,
            code=str(data["code"]) if data.get("code") else None,
            kind=str(data["type"]) if data.get("type") else None,
            retry_after=retry_after,
            project_id=self.project_id,
        )


def _kind_name(kind: Any) -> str:
    text = str(kind)
    return {"TrendsQuery": "a trends insight", "TRENDS": "a trends insight"}.get(text, text)


def _query_name(text: str) -> str:
    return text if len(text) <= _QUERY_NAME_MAX else text[: _QUERY_NAME_MAX - 1] + "…"
