"""PostHog queries as data: the `FunnelsQuery` node for a step funnel, a link that opens it in PostHog,
an insight's short id, and the funnel read back from PostHog's `results`. Pure functions; the client in
posthog_api.py sends and receives them.

Wire format (PostHog/posthog; sources in brackets):
- A `FunnelsQuery` node: `series` of `EventsNode {event, name}`, `dateRange {date_from, date_to}`,
  `funnelsFilter {funnelVizType, funnelOrderType, …}`, `breakdownFilter {breakdown, breakdown_type}`
  [schema-general.ts `FunnelsQuery`, `FunnelsFilter`, `DateRange`, `BreakdownFilter`].
- The answer holds `results`, `is_cached`, `last_refresh`. `results` is one dict per step (`name`,
  `custom_name`, `order`, `count`, `average_conversion_time`, `median_conversion_time`, seconds from
  the previous step, null on step 0) or, with a breakdown, a list of such lists whose steps also carry
  `breakdown` and `breakdown_value` (a list when the breakdown was a list)
  [posthog/hogql_queries/insights/funnels/base.py `_format_single_funnel`, `_serialize_step`].

Relative dates PostHog's own date picker writes: `-24h`, `-7d`, `-14d`, `-30d`, `-90d`, `mStart` (this
month), `yStart` (year to date) [frontend insight date presets].
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

# Relative (`-7d`, `-1mStart`, `mStart`), `all`, or an ISO date.
_DATE_FROM_RE = re.compile(
    r"-\d{1,4}[hdwmqy](Start|End)?|[dwmqy]Start|all|\d{4}-\d{2}-\d{2}([T ][0-9:.]+Z?)?"
)
_SHORT_ID_RE = re.compile(r"[A-Za-z0-9]{4,32}")
_INSIGHT_PATH_RE = re.compile(r"/insights/([A-Za-z0-9]{4,32})(?:/|$)")
# Breakdown buckets PostHog names with sentinels (trends and newer funnel code) or plain words.
_OTHER_VALUES = {"$$_posthog_breakdown_other_$$", "Other"}
_NULL_VALUES = {"", "$$_posthog_breakdown_null_$$"}
# encodeURIComponent leaves these unescaped; matching it keeps our links identical to the app's own.
_URI_COMPONENT_SAFE = "-_.!~*'()"


class UnreadableFunnel(ValueError):
    """PostHog's `results` are not a steps funnel's."""


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


def funnel_url(
    project_url: str, steps: list[str], date_from: str, breakdown: str | None, breakdown_type: str = "event"
) -> str:
    """Opens the same funnel, unsaved, in PostHog, under `project_url` (`https://…/project/{id}`).

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
    return f"{project_url}/insights/new#q={quote(value, safe=_URI_COMPONENT_SAFE)}"


def parse_funnel(results: Any, meta: dict[str, Any] | None = None) -> FunnelResult:
    """A `FunnelResult` from a steps funnel's `results` (a list of steps, or of breakdown lists)."""
    meta = meta or {}
    last = meta.get("last_refresh")
    last_refresh = last if isinstance(last, datetime) else _parse_time(last)
    is_cached = bool(meta.get("is_cached"))
    if not isinstance(results, list):
        raise UnreadableFunnel("PostHog answered without funnel steps (is it a steps funnel?)")
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


# -- HogQL tables ---------------------------------------------------------------------------------
# A HogQL SELECT without a LIMIT gets PostHog's default of 100 rows, and any LIMIT is capped at 50,000
# [posthog/hogql/constants.py DEFAULT_RETURNED_ROWS, MAX_SELECT_RETURNED_ROWS]. The `HogQLQuery` node
# has no limit or offset of its own (only `query`, `filters`, `values`, `variables`, `name`), and
# PostHog refuses OFFSET in queries made with a personal API key ("OFFSET is not supported on queries
# made with a personal API key…", posthog/hogql/user_query_validator.py), so a scheduled query is
# read in one request: the user's query wrapped in a SELECT with an explicit LIMIT one past the cap,
# which tells a result that reached the cap from one that fits it.
MAX_HOGQL_ROWS = 50_000
MAX_TEXT = 2000  # characters of one string value kept from a row
MAX_ITEMS = 100  # elements of one array (or keys of one map) value kept from a row
MAX_NESTING = 4
_TRAILING_SEMICOLONS = re.compile(r"(?:\s*;)+\s*$")
_SURROGATE = re.compile("[\ud800-\udfff]")


def capped_hogql(query: str, max_rows: int) -> str:
    """The user's SELECT as a subquery with an explicit LIMIT of `max_rows + 1`. Its own LIMIT, ORDER BY
    and comments stay inside it (the closing parenthesis goes on a line of its own, after any `--`)."""
    if not 1 <= max_rows < MAX_HOGQL_ROWS:
        raise ValueError(f"max_rows must be between 1 and {MAX_HOGQL_ROWS - 1}")
    inner = _TRAILING_SEMICOLONS.sub("", query.strip())
    return f"SELECT * FROM (\n{inner}\n) LIMIT {max_rows + 1}"


class UnreadableTable(ValueError):
    """PostHog's answer to a HogQL query is not a table."""


class _HogQLAnswer(BaseModel):
    """The part of a `HogQLQueryResponse` the bot reads [schema-general.ts `HogQLQueryResponse`]."""

    model_config = ConfigDict(extra="ignore")

    results: list[list[Any]]
    columns: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]]
    hasMore: bool | None = None  # PostHog's name


@dataclass(frozen=True)
class HogQLTable:
    """A HogQL result as rows keyed by column name, values JSON-safe and bounded. `truncated`: the
    query returned more than the rows asked for, and only those are here."""

    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    truncated: bool = False


def parse_hogql_table(data: Any, max_rows: int) -> HogQLTable:
    """`results` (row arrays) and `columns` (names) of a `HogQLQueryResponse`, as at most `max_rows`
    dicts. Untrusted: every column must be a distinct name and every row as long as the columns."""
    try:
        answer = _HogQLAnswer.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        raise UnreadableTable(f"PostHog's answer is not a HogQL table ({where}: {first['msg']})") from None
    columns = tuple(answer.columns)
    if len(set(columns)) != len(columns):
        raise UnreadableTable(f"the query returns a column name twice ({', '.join(columns)}); alias them")
    rows: list[dict[str, Any]] = []
    for number, row in enumerate(answer.results[:max_rows]):
        if len(row) != len(columns):
            raise UnreadableTable(f"row {number} has {len(row)} values for {len(columns)} columns")
        rows.append({column: json_safe(value) for column, value in zip(columns, row, strict=True)})
    return HogQLTable(columns, rows, len(answer.results) > max_rows or bool(answer.hasMore))


def json_safe(value: Any, depth: int = 0) -> Any:
    """A value from PostHog that any JSON encoder and both databases take: text without NUL or lone
    surrogates and at most MAX_TEXT characters, finite numbers, arrays and maps bounded in size and
    depth. HogQL sends dates as strings, so nothing else needs converting."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _clean_text(value)
    if depth >= MAX_NESTING:
        return _clean_text(json.dumps(value, ensure_ascii=False, default=str))
    if isinstance(value, list | tuple):
        return [json_safe(item, depth + 1) for item in value[:MAX_ITEMS]]
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ITEMS]
        return {_clean_text(str(k))[:200]: json_safe(v, depth + 1) for k, v in items}
    return _clean_text(str(value))


def _clean_text(text: str) -> str:
    """Cut to MAX_TEXT, NUL and lone surrogates (which `json.loads` lets through) shown as U+FFFD."""
    text = text[:MAX_TEXT].replace("\x00", "\ufffd")
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)
