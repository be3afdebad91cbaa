"""PostHog's private API, read-only, with a personal API key: funnels, saved insights, event names.

Three calls do not justify a generated SDK: this keeps one timeout, one exception type and a sentence a
Slack user can act on (`PostHogApiError.explain()`). Nothing here retries; the caller decides.

Wire format (PostHog/posthog; sources in brackets):
- Auth: `Authorization: Bearer phx_…` on the app host (`https://us.posthog.com`, not `us.i.`). Scopes
  are `<object>:read`, and a `:write` scope covers the read [posthog/permissions.py
  `APIScopePermission`]: `query:read` for `/query/`, `insight:read` for `/insights/`,
  `event_definition:read` for `/event_definitions/` (`scope_object` of each viewset).
- `POST /api/projects/{id}/query/` takes `{"query": <node>, "refresh": "blocking", "name": …}`; `name`
  labels the query in PostHog's query log, up to 128 characters [schema-general.ts `QueryRequest`].
  The node is a `FunnelsQuery`: `series` of `EventsNode {event, name}`, `dateRange {date_from,
  date_to}`, `funnelsFilter {funnelVizType, funnelOrderType, …}`, `breakdownFilter {breakdown,
  breakdown_type}` [schema-general.ts `FunnelsQuery`, `FunnelsFilter`, `DateRange`, `BreakdownFilter`].
- The answer holds `results`, `is_cached`, `last_refresh`. `results` is one dict per step (`name`,
  `custom_name`, `order`, `count`, `average_conversion_time`, `median_conversion_time`, seconds from
  the previous step, null on step 0) or, with a breakdown, a list of such lists whose steps also carry
  `breakdown` and `breakdown_value` (a list when the breakdown was a list)
  [posthog/hogql_queries/insights/funnels/base.py `_format_single_funnel`, `_serialize_step`].
- `GET /api/projects/{id}/insights/?short_id=…&refresh=blocking` answers `{count, next, previous,
  results: [insight]}`; the insight has `name`, `derived_name`, `query` (`{"kind": "InsightVizNode",
  "source": {...}}`) and `result` [posthog/api/insight.py list parameters; refresh defaults to
  force_cache, which never computes].
- `GET /api/projects/{id}/event_definitions/?limit=&offset=` pages `{count, next, previous, results:
  [{name, last_seen_at, …}]}`, most recently seen first [posthog/api/event_definition.py].
- Errors are `{"type", "code", "detail", "attr"}` [PostHog/drf-exceptions-hog]: 401
  `authentication_failed` "Personal API key found in request Authorization header is invalid."; 403
  "API key missing required scope 'query:read'" or "API key does not have access to the requested
  project: ID 1."; 404 "Project not found."; 429 `throttled` with `Retry-After` (seconds).

Relative dates PostHog's own date picker writes: `-24h`, `-7d`, `-14d`, `-30d`, `-90d`, `mStart` (this
month), `yStart` (year to date) [frontend insight date presets].
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from bot.clients.errors import ApiError, clip_detail, scrub
from bot.clients.retry_after import retry_after_seconds

# Relative (`-7d`, `-1mStart`, `mStart`), `all`, or an ISO date.
_DATE_FROM_RE = re.compile(
    r"-\d{1,4}[hdwmqy](Start|End)?|[dwmqy]Start|all|\d{4}-\d{2}-\d{2}([T ][0-9:.]+Z?)?"
)
_SHORT_ID_RE = re.compile(r"[A-Za-z0-9]{4,32}")
_INSIGHT_PATH_RE = re.compile(r"/insights/([A-Za-z0-9]{4,32})(?:/|$)")
_SCOPE_RE = re.compile(r"missing required scope '([a-z_]+:(?:read|write))'")
_WAIT_RE = re.compile(r"available in (\d+(?:\.\d+)?) seconds?")
# Breakdown buckets PostHog names with sentinels (trends and newer funnel code) or plain words.
_OTHER_VALUES = {"$$_posthog_breakdown_other_$$", "Other"}
_NULL_VALUES = {"", "$$_posthog_breakdown_null_$$"}
_QUERY_NAME_MAX = 128
# encodeURIComponent leaves these unescaped; matching it keeps our links identical to the app's own.
_URI_COMPONENT_SAFE = "-_.!~*'()"


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


@dataclass(frozen=True)
class FunnelStep:
    name: str
    custom_name: str | None
    order: int
    count: int
    median_conversion_time: float | None  # seconds from the previous step; None on step 0
    average_conversion_time: float | None

    @property
    def label(self) -> str:
        return self.custom_name or self.name


@dataclass(frozen=True)
class FunnelResult:
    """Step counts. With a breakdown, `breakdowns` holds each value's funnel (largest first) and
    `steps` their total: counts add up (each person is attributed to one value), averages are
    weighted by count, medians cannot be combined and are None."""

    steps: list[FunnelStep]
    is_cached: bool = False
    last_refresh: datetime | None = None
    breakdowns: list[tuple[str, list[FunnelStep]]] = field(default_factory=list)

    @property
    def entered(self) -> int:
        return self.steps[0].count if self.steps else 0

    def rates(self, steps: list[FunnelStep] | None = None) -> list[tuple[float | None, float]]:
        """(conversion from the previous step, from the first step) per step, 0.0 when nobody entered."""
        steps = self.steps if steps is None else steps
        first = steps[0].count if steps else 0
        out: list[tuple[float | None, float]] = []
        for i, step in enumerate(steps):
            previous = None if i == 0 else (step.count / steps[i - 1].count if steps[i - 1].count else 0.0)
            out.append((previous, step.count / first if first else 0.0))
        return out


class PostHogApi:
    """Read calls against one project. Share one `httpx.AsyncClient`; each call is bounded by `timeout_s`."""

    def __init__(
        self,
        app_host: str,
        project_id: str,
        personal_key: str,
        client: httpx.AsyncClient,
        timeout_s: float = 30.0,
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
        return parse_funnel(data.get("results"), data)

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
            last = _parse_time(insight.get("last_refresh"))
            return (
                name,
                parse_funnel(result, {"is_cached": insight.get("is_cached"), "last_refresh": last}),
                source,
            )
        steps_source = {
            **source,
            "funnelsFilter": {**(source.get("funnelsFilter") or {}), "funnelVizType": "steps"},
        }
        data = await self._run_query(steps_source, _query_name(f"slack saved funnel: {wanted}"))
        return name, parse_funnel(data.get("results"), data), source

    async def event_names(self, max_names: int = 1000, page_size: int = 200) -> list[str]:
        """Names of the project's events, most recently seen first, for "did you mean"."""
        names: list[str] = []
        offset = 0
        while len(names) < max_names:
            data = await self._call(
                "GET", self._path("event_definitions/"), params={"limit": page_size, "offset": offset}
            )
            page = [r for r in data.get("results") or [] if isinstance(r, dict)]
            for row in page:
                name = row.get("name")
                if isinstance(name, str) and name and name not in names:
                    names.append(name)
            if not data.get("next") or len(page) < page_size:
                break
            offset += len(page)
        return names[:max_names]

    async def hogql(
        self, query: str, name: str = "posthog-slack-signals replay"
    ) -> tuple[list[str], list[list[Any]]]:
        """(columns, rows) of a HogQL query (scope query:read)."""
        data = await self._run_query({"kind": "HogQLQuery", "query": query}, _query_name(name))
        return list(data.get("columns") or []), list(data.get("results") or [])

    # -- links -----------------------------------------------------------------------------------
    def funnel_url(
        self, steps: list[str], date_from: str, breakdown: str | None, breakdown_type: str = "event"
    ) -> str:
        """Opens the same funnel, unsaved, in PostHog.

        The app's own `urls.insightNew({query})` [products/product_analytics/manifest.tsx] puts the
        `InsightVizNode` JSON in the hash as `q`, through kea-router's `combineUrl`/`encodeParams`
        [keajs/kea-router src/utils.ts]: a string value that looks like JSON gets a trailing space, so
        that decoding keeps it a string (PostHog's `decodeParams` strips it again,
        frontend/src/lib/utils/router-utils.ts) for `parseDraftQueryFromURL` to `JSON.parse`. The path
        carries the project like every app URL (`/project/{id}/…`, `addProjectIdIfMissing`).
        """
        source = funnels_query(steps, date_from, breakdown, breakdown_type, False)
        node = {"kind": "InsightVizNode", "source": source, "full": True}
        value = json.dumps(node, separators=(",", ":"), ensure_ascii=False) + " "
        return f"{self._project_url()}/insights/new#q={quote(value, safe=_URI_COMPONENT_SAFE)}"

    def insight_url(self, short_id: str) -> str:
        wanted = short_id_from(short_id)
        if not wanted:
            raise ValueError(f"not an insight short id or URL: {short_id!r}")
        return f"{self._project_url()}/insights/{wanted}"

    def _project_url(self) -> str:
        return f"{self._host}/project/{quote(self.project_id, safe='')}"

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


# -- building and reading queries ----------------------------------------------------------------
def funnels_query(
    steps: list[str],
    date_from: str,
    breakdown: str | None,
    breakdown_type: str = "event",
    filter_test_accounts: bool = False,
) -> dict[str, Any]:
    """The `FunnelsQuery` node for an ordered step funnel."""
    events = [s.strip() if isinstance(s, str) else "" for s in steps]
    if len(events) < 2 or not all(events):
        raise ValueError("a funnel needs at least two non-empty event names")
    if not _DATE_FROM_RE.fullmatch(date_from):
        raise ValueError(f"date_from must be like -7d, -24h, mStart or yStart; got {date_from!r}")
    query: dict[str, Any] = {
        "kind": "FunnelsQuery",
        "series": [{"kind": "EventsNode", "event": e, "name": e} for e in events],
        "dateRange": {"date_from": date_from, "date_to": None},
        "funnelsFilter": {"funnelVizType": "steps", "funnelOrderType": "ordered"},
        "filterTestAccounts": filter_test_accounts,
    }
    if breakdown is not None:
        prop = breakdown.strip()
        if not prop:
            raise ValueError("breakdown must name a property")
        if breakdown_type not in ("event", "person"):
            raise ValueError(f"breakdown_type must be event or person; got {breakdown_type!r}")
        query["breakdownFilter"] = {"breakdown": prop, "breakdown_type": breakdown_type}
    return query


def short_id_from(text: str) -> str | None:
    """`AbCd1234`, or an insight URL (`…/project/1/insights/AbCd1234/edit?…`) -> `AbCd1234`."""
    value = (text or "").strip().strip("<>").split("|", 1)[0]
    if _SHORT_ID_RE.fullmatch(value) and value != "new":
        return value
    found = _INSIGHT_PATH_RE.search(urlsplit(value).path if "://" in value else value)
    if found and found.group(1) != "new":
        return found.group(1)
    return None


def parse_funnel(results: Any, meta: dict[str, Any] | None = None) -> FunnelResult:
    """A `FunnelResult` from a steps funnel's `results` (a list of steps, or of breakdown lists)."""
    meta = meta or {}
    last = meta.get("last_refresh")
    last_refresh = last if isinstance(last, datetime) else _parse_time(last)
    is_cached = bool(meta.get("is_cached"))
    if not isinstance(results, list):
        raise PostHogApiError(
            "PostHog answered without funnel steps (is it a steps funnel?)", status=200, code="bad_response"
        )
    if results and all(isinstance(group, list) for group in results):
        groups: list[tuple[str, list[FunnelStep]]] = []
        for group in results:
            steps = [_step(s) for s in group if isinstance(s, dict)]
            if steps:
                groups.append((_breakdown_label(group[0]), steps))
        groups.sort(key=lambda g: -g[1][0].count)
        return FunnelResult(_totals(groups), is_cached, last_refresh, groups)
    return FunnelResult([_step(s) for s in results if isinstance(s, dict)], is_cached, last_refresh)


def _step(raw: dict[str, Any]) -> FunnelStep:
    name = raw.get("name") if raw.get("name") is not None else raw.get("action_id")
    return FunnelStep(
        name=str(name if name is not None else f"Step {int(raw.get('order') or 0) + 1}"),
        custom_name=str(raw["custom_name"]) if raw.get("custom_name") else None,
        order=int(raw.get("order") or 0),
        count=int(raw.get("count") or 0),
        median_conversion_time=_number(raw.get("median_conversion_time")),
        average_conversion_time=_number(raw.get("average_conversion_time")),
    )


def _totals(groups: list[tuple[str, list[FunnelStep]]]) -> list[FunnelStep]:
    if not groups:
        return []
    totals: list[FunnelStep] = []
    for i, first in enumerate(groups[0][1]):
        column = [g[1][i] for g in groups if i < len(g[1])]
        count = sum(s.count for s in column)
        timed = [
            (s.average_conversion_time, s.count) for s in column if s.average_conversion_time is not None
        ]
        weight = sum(c for _, c in timed)
        average = sum(a * c for a, c in timed) / weight if weight else None
        totals.append(FunnelStep(first.name, first.custom_name, first.order, count, None, average))
    return totals


def _breakdown_label(step: dict[str, Any]) -> str:
    value = step.get("breakdown_value", step.get("breakdown"))
    parts = value if isinstance(value, list) else [value]
    labels = []
    for part in parts:
        text = "" if part is None else str(part)
        labels.append("Other" if text in _OTHER_VALUES else "(none)" if text in _NULL_VALUES else text)
    return ", ".join(labels) or "(none)"


def _kind_name(kind: Any) -> str:
    text = str(kind)
    return {"TrendsQuery": "a trends insight", "TRENDS": "a trends insight"}.get(text, text)


def _query_name(text: str) -> str:
    return text if len(text) <= _QUERY_NAME_MAX else text[: _QUERY_NAME_MAX - 1] + "…"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
