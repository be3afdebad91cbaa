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
from typing import Any
from urllib.parse import quote, urlsplit

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
