"""The real PostHog API client over HTTP against a fake PostHog speaking PostHog's wire format."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from bot.clients.posthog_api import PostHogApi, PostHogApiError
from bot.clients.posthog_queries import FunnelResult, FunnelStep
from bot.commands.date_ranges import DateRange
from testkit.base import Reply
from testkit.posthog_api import (
    FUNNEL_INSIGHT,
    PERSONAL_KEY,
    PROJECT_ID,
    SEEDED_STEPS,
    TRENDS_INSIGHT,
    FakePostHogApi,
    error,
    hogql_error,
    rate_limited,
    server_error,
    slow,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday; mStart is 1 Nov, yStart 1 Jan
STEPS = ["$pageview", "signup_started", "signup_completed"]
HOUR, DAY = 3600, 86400


def journeys(fake: FakePostHogApi) -> FakePostHogApi:
    """Seven people whose funnel numbers are known by hand (see each comment)."""
    pro, free = {"plan": "pro"}, {"plan": "free"}
    # -30d: 5 entered ($pageview), 3 started (gaps 60, 120, 300 s), 2 completed (gaps 540, 600 s).
    fake.add_person(
        "alice",
        [
            ("$pageview", 3 * DAY, pro),
            ("signup_started", 3 * DAY - 60, pro),
            ("signup_completed", 3 * DAY - 600),
        ],
        {"plan": "pro"},
    )
    fake.add_person(
        "bob", [("$pageview", 2 * DAY, free), ("signup_started", 2 * DAY - 120, free)], {"plan": "free"}
    )
    fake.add_person(
        "carol",
        [
            ("$pageview", 20 * HOUR, free),
            ("signup_started", 20 * HOUR - 300),
            ("signup_completed", 20 * HOUR - 900),
        ],
        {"plan": "free"},
    )
    fake.add_person("dave", [("$pageview", 10 * HOUR, free)], {"plan": "free"})
    # Outside -30d but inside -90d and the year; converts in 30 s.
    fake.add_person(
        "erin", [("$pageview", 40 * DAY, pro), ("signup_started", 40 * DAY - 30)], {"plan": "pro"}
    )
    # Never viewed a page: not in the funnel at all.
    fake.add_person("frank", [("signup_started", 5 * DAY)], {"plan": "free"})
    # Started 19 days after the pageview: outside the 14-day conversion window. No plan anywhere.
    fake.add_person("gina", [("$pageview", 20 * DAY), ("signup_started", 1 * DAY)])
    return fake


@pytest.fixture
def fake() -> Any:
    with journeys(FakePostHogApi(seed=False, now=NOW)) as server:
        yield server


@pytest.fixture
def seeded() -> Any:
    with FakePostHogApi() as server:
        yield server


def run(
    server: FakePostHogApi,
    call: Callable[[PostHogApi], Awaitable[Any]],
    *,
    key: str = PERSONAL_KEY,
    project_id: str = PROJECT_ID,
    timeout_s: float = 5.0,
    host: str | None = None,
) -> Any:
    async def go() -> Any:
        async with httpx.AsyncClient() as client:
            return await call(PostHogApi(host or server.url, project_id, key, client, timeout_s=timeout_s))

    return asyncio.run(go())


def error_of(
    server: FakePostHogApi, call: Callable[[PostHogApi], Awaitable[Any]], **kwargs: Any
) -> PostHogApiError:
    with pytest.raises(PostHogApiError) as caught:
        run(server, call, **kwargs)
    return caught.value


def counts(steps: list[FunnelStep]) -> list[int]:
    return [s.count for s in steps]


# -- funnels --------------------------------------------------------------------------------------
def test_funnel_sends_a_funnels_query_and_reads_counts_and_times(fake):
    result = run(fake, lambda api: api.funnel(STEPS, "-30d", None))

    (request,) = fake.calls("query/")
    assert request.method == "POST"
    assert request.path == f"/api/projects/{PROJECT_ID}/query/"
    assert request.headers["authorization"] == f"Bearer {PERSONAL_KEY}"
    assert request.json() == {
        "query": {
            "kind": "FunnelsQuery",
            "series": [{"kind": "EventsNode", "event": e, "name": e} for e in STEPS],
            "dateRange": {"date_from": "-30d", "date_to": None},
            "funnelsFilter": {"funnelVizType": "steps", "funnelOrderType": "ordered"},
            "filterTestAccounts": False,
        },
        "refresh": "blocking",
        "name": "slack funnel: $pageview > signup_started > signup_completed",
    }
    assert counts(result.steps) == [5, 3, 2]
    assert [s.name for s in result.steps] == STEPS and [s.order for s in result.steps] == [0, 1, 2]
    first, started, completed = result.steps
    assert first.median_conversion_time is None and first.average_conversion_time is None
    assert started.median_conversion_time == 120.0 and started.average_conversion_time == 160.0
    assert completed.median_conversion_time == 570.0 and completed.average_conversion_time == 570.0
    assert result.breakdowns == [] and result.entered == 5
    assert result.is_cached is False and result.last_refresh is not None
    assert result.rates() == [(None, 1.0), (3 / 5, 3 / 5), (2 / 3, 2 / 5)]


def test_the_same_funnel_again_comes_from_posthogs_cache(fake):
    async def twice(api: PostHogApi) -> tuple[FunnelResult, FunnelResult]:
        return await api.funnel(STEPS, "-30d", None), await api.funnel(STEPS, "-30d", None)

    first, second = run(fake, twice)
    assert first.is_cached is False and second.is_cached is True
    assert second.last_refresh == first.last_refresh and counts(second.steps) == counts(first.steps)


def test_funnel_with_an_event_property_breakdown(fake):
    result = run(fake, lambda api: api.funnel(STEPS, "-30d", "plan"))

    sent = fake.queries()[0]["query"]
    assert sent["breakdownFilter"] == {"breakdown": "plan", "breakdown_type": "event"}
    assert fake.queries()[0]["name"].endswith(" by plan")
    # First touch: the plan on each person's $pageview. Gina's has none.
    assert [(label, counts(steps)) for label, steps in result.breakdowns] == [
        ("free", [3, 2, 1]),
        ("(none)", [1, 0, 0]),
        ("pro", [1, 1, 1]),
    ]
    free = dict(result.breakdowns)["free"]
    assert free[1].median_conversion_time == 210.0 and free[2].median_conversion_time == 600.0
    # The total adds the groups up; averages are weighted, medians cannot be combined.
    assert counts(result.steps) == [5, 3, 2]
    assert result.steps[1].average_conversion_time == 160.0 and result.steps[1].median_conversion_time is None


def test_funnel_with_a_person_property_breakdown(fake):
    result = run(fake, lambda api: api.funnel(STEPS, "-30d", "plan", "person"))
    assert fake.queries()[0]["query"]["breakdownFilter"] == {"breakdown": "plan", "breakdown_type": "person"}
    assert dict((label, counts(steps)) for label, steps in result.breakdowns) == {
        "free": [3, 2, 1],
        "pro": [1, 1, 1],
        "(none)": [1, 0, 0],
    }


@pytest.mark.parametrize(
    ("typed", "date_from", "entered"),
    [
        ("24h", "-24h", [2, 1, 1]),  # carol and dave
        ("7d", "-7d", [4, 3, 2]),
        ("30d", "-30d", [5, 3, 2]),
        ("90d", "-90d", [6, 4, 2]),  # erin too
        ("mtd", "mStart", [4, 3, 2]),  # gina's pageview was on 31 Oct
        ("ytd", "yStart", [6, 4, 2]),
    ],
)
def test_date_ranges(fake, typed, date_from, entered):
    assert DateRange(typed).date_from == date_from
    result = run(fake, lambda api: api.funnel(STEPS, date_from, None))
    assert fake.queries()[0]["query"]["dateRange"] == {"date_from": date_from, "date_to": None}
    assert counts(result.steps) == entered


def test_bad_funnel_input_is_refused_before_anything_is_sent(fake):
    for call in (
        lambda api: api.funnel(["only_one"], "-7d", None),
        lambda api: api.funnel(["a", " "], "-7d", None),
        lambda api: api.funnel(["a", "b"], "last week", None),
        lambda api: api.funnel(["a", "b"], "-7d", "plan", "cohort"),
        lambda api: api.funnel(["a", "b"], "-7d", "  "),
    ):
        with pytest.raises(ValueError):
            run(fake, call)
    assert fake.requests == []


# -- saved insights ---------------------------------------------------------------------------------
def test_saved_funnel_returns_name_result_and_source(seeded):
    async def both(api: PostHogApi) -> tuple[Any, FunnelResult]:
        saved = await api.saved_funnel(FUNNEL_INSIGHT)
        adhoc = await api.funnel(SEEDED_STEPS, "-30d", None)
        return saved, adhoc

    (name, result, source), adhoc = run(seeded, both)
    (request,) = seeded.calls("insights/")
    assert request.method == "GET" and request.path == f"/api/projects/{PROJECT_ID}/insights/"
    assert request.query == {"short_id": [FUNNEL_INSIGHT], "refresh": ["blocking"]}
    assert name == "Trial signup funnel"
    assert source["kind"] == "FunnelsQuery" and [n["event"] for n in source["series"]] == SEEDED_STEPS
    assert counts(result.steps) == counts(adhoc.steps) and counts(result.steps)[0] > 0
    assert counts(result.steps) == sorted(counts(result.steps), reverse=True)
    assert len(seeded.calls("query/")) == 1  # the saved result was used as is


def test_saved_funnel_accepts_an_insight_url(seeded):
    url = f"https://us.posthog.com/project/{PROJECT_ID}/insights/{FUNNEL_INSIGHT}/edit?dashboard=3"
    name, _, _ = run(seeded, lambda api: api.saved_funnel(url))
    assert name == "Trial signup funnel"


def test_a_funnel_saved_as_trends_is_run_as_a_step_funnel(seeded):
    source = {
        "kind": "FunnelsQuery",
        "series": [{"kind": "EventsNode", "event": e} for e in SEEDED_STEPS[:2]],
        "dateRange": {"date_from": "-90d"},
        "funnelsFilter": {"funnelVizType": "trends"},
    }
    seeded.add_insight("TrEnDy42", "", source, derived_name="Pageview → signup conversion")
    name, result, returned = run(seeded, lambda api: api.saved_funnel("TrEnDy42"))
    assert name == "Pageview → signup conversion" and returned == source
    (sent,) = seeded.queries()
    assert sent["query"]["funnelsFilter"] == {"funnelVizType": "steps"}
    assert sent["query"]["series"] == source["series"] and sent["refresh"] == "blocking"
    assert len(result.steps) == 2 and result.steps[0].count >= result.steps[1].count > 0


def test_a_saved_insight_that_is_not_a_funnel_is_refused(seeded):
    err = error_of(seeded, lambda api: api.saved_funnel(TRENDS_INSIGHT))
    assert err.code == "not_a_funnel"
    assert (
        err.explain()
        == "“Daily pageviews” is not a funnel (a trends insight); give the short id of a funnel insight"
    )
    assert seeded.calls("query/") == []


def test_an_unknown_short_id_says_so(seeded):
    err = error_of(seeded, lambda api: api.saved_funnel("NoSuch99"))
    assert err.code == "insight_not_found"
    assert "no saved insight NoSuch99 in PostHog project 4242" in err.explain()
    with pytest.raises(ValueError):
        run(seeded, lambda api: api.saved_funnel("not a short id!"))


# -- event names ------------------------------------------------------------------------------------
def test_event_names_page_through_event_definitions(fake):
    fake.extra_event_names = [f"custom_event_{n:03d}" for n in range(250)]
    names = run(fake, lambda api: api.event_names(page_size=100))
    assert names == fake.event_names() and len(names) == 253
    assert names[:3] == ["$pageview", "signup_completed", "signup_started"]  # most recently seen first
    pages = fake.calls("event_definitions/")
    assert [r.query for r in pages] == [
        {"limit": ["100"], "offset": [str(offset)]} for offset in (0, 100, 200)
    ]
    assert all(r.path == f"/api/projects/{PROJECT_ID}/event_definitions/" for r in pages)


def test_event_names_stop_at_the_cap(fake):
    fake.extra_event_names = [f"custom_event_{n:03d}" for n in range(250)]
    names = run(fake, lambda api: api.event_names(max_names=120, page_size=100))
    assert len(names) == 120 and len(fake.calls("event_definitions/")) == 2


def test_event_definition_pages_keep_posthogs_rows_and_say_when_more_remain(fake):
    fake.add_event_definition("btnClick", volume_30_day=15, last_seen=40 * DAY, query_usage_30_day=2)
    fake.extra_event_names = [f"custom_event_{n:03d}" for n in range(10)]

    async def pages(api: PostHogApi) -> list[Any]:
        return [page async for page in api.event_definition_pages(max_rows=8, page_size=5)]

    first, second = run(fake, pages)
    assert first.more and second.more  # 14 names, 8 read: the cap, not PostHog, ended the pages
    assert len(first.rows) == 5 and len(second.rows) == 3
    clicked = next(r for r in first.rows if r["name"] == "btnClick")
    assert clicked["volume_30_day"] == 15 and clicked["query_usage_30_day"] == 2
    assert clicked["last_seen_at"] == "2026-10-11T12:00:00Z"
    assert {"id", "created_at", "last_updated_at", "tags"} <= set(clicked)
    assert first.rows[-1]["volume_30_day"] is None  # null unless PostHog computed it
    everything = run(fake, lambda api: pages_of(api, 100))
    assert [p.more for p in everything] == [False]


async def pages_of(api: PostHogApi, size: int) -> list[Any]:
    return [page async for page in api.event_definition_pages(page_size=size)]


# -- links -------------------------------------------------------------------------------------------
def test_funnel_url_opens_the_same_query_in_posthog(fake):
    host = "https://eu.posthog.com"
    url = PostHogApi(host, PROJECT_ID, PERSONAL_KEY, httpx.AsyncClient()).funnel_url(STEPS, "-7d", "plan")
    run(fake, lambda api: api.funnel(STEPS, "-7d", "plan"))

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{host}/project/{PROJECT_ID}/insights/new"
    assert parts.query == "" and parts.fragment.startswith("q=")
    assert " " not in url and "+" not in url and "&" not in parts.fragment
    # kea-router's decodeParams: '+' is a space, then decodeURIComponent; a JSON value with a trailing
    # space stays a string (PostHog drops the space) for parseDraftQueryFromURL to JSON.parse.
    value = unquote(parts.fragment[2:].replace("+", " "))
    assert value.endswith("} ")
    node = json.loads(value[:-1])
    assert node == {"kind": "InsightVizNode", "source": fake.queries()[0]["query"], "full": True}


def test_insight_url():
    api = PostHogApi("https://us.posthog.com/", "12", PERSONAL_KEY, httpx.AsyncClient())
    assert api.insight_url("AbCd1234") == "https://us.posthog.com/project/12/insights/AbCd1234"
    assert api.insight_url("https://us.posthog.com/project/12/insights/AbCd1234") == api.insight_url(
        "AbCd1234"
    )
    with pytest.raises(ValueError):
        api.insight_url("../../settings")


# -- errors ------------------------------------------------------------------------------------------
def test_a_wrong_key_names_the_setting_and_never_the_key(fake):
    wrong = "phx_wrong_secret_value_123"
    err = error_of(fake, lambda api: api.funnel(STEPS, "-7d", None), key=wrong)
    assert err.status == 401 and err.code == "authentication_failed" and err.kind == "authentication_error"
    assert "Personal API key found in request Authorization header is invalid" in err.detail
    assert "POSTHOG_PERSONAL_API_KEY" in err.explain()
    assert wrong not in err.explain() and wrong not in str(err) and PERSONAL_KEY not in err.explain()


@pytest.mark.parametrize(
    ("call", "scope"),
    [
        (lambda api: api.funnel(STEPS, "-7d", None), "query:read"),
        (lambda api: api.saved_funnel(FUNNEL_INSIGHT), "insight:read"),
        (lambda api: api.event_names(), "event_definition:read"),
        (lambda api: api.person("alice"), "person:read"),
    ],
)
def test_a_missing_scope_is_named(call, scope):
    with FakePostHogApi(seed=False, scopes=set()) as server:
        err = error_of(server, call)
    assert err.status == 403 and err.missing_scope == scope
    assert err.detail == f"API key missing required scope '{scope}'"
    assert f"lacks the scope {scope}" in err.explain()


def test_a_write_scope_covers_the_read(fake):
    fake.scopes = {"query:write"}
    assert counts(run(fake, lambda api: api.funnel(STEPS, "-30d", None)).steps) == [5, 3, 2]


def test_rate_limiting_says_when_to_try_again(fake):
    fake.script(rate_limited(7), path="query/")
    err = error_of(fake, lambda api: api.funnel(STEPS, "-7d", None))
    assert err.status == 429 and err.code == "throttled" and err.retry_after == 7.0 and err.retryable
    assert err.explain() == "PostHog is rate limiting queries; try again in 7 s"

    # No Retry-After header: the wait DRF writes into the detail; neither: a minute.
    fake.script(
        error(429, "throttled_error", "throttled", "Request was throttled. Expected available in 12 seconds.")
    )
    assert error_of(fake, lambda api: api.funnel(STEPS, "-7d", None)).retry_after == 12.0
    fake.script(rate_limited(None))
    assert (
        error_of(fake, lambda api: api.funnel(STEPS, "-7d", None)).explain().endswith("try again in a minute")
    )


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_say_posthog_did_not_answer(fake, status):
    fake.script(server_error(status))
    err = error_of(fake, lambda api: api.event_names())
    assert err.status == status and err.retryable
    assert err.explain() == f"PostHog did not answer (HTTP {status}); try again"


def test_an_unknown_project_points_at_the_project_setting(fake):
    err = error_of(fake, lambda api: api.funnel(STEPS, "-7d", None), project_id="999")
    assert err.status == 404 and err.detail == "Project not found."
    assert err.explain() == "PostHog has no project 999 for this key (404): check POSTHOG_PROJECT_ID"


def test_a_project_the_key_cannot_see_points_at_the_project_setting(fake):
    fake.other_projects.add("777")
    err = error_of(fake, lambda api: api.event_names(), project_id="777")
    assert err.status == 403 and err.missing_scope is None
    assert "no access to project 777" in err.explain() and "POSTHOG_PROJECT_ID" in err.explain()


def test_a_rejected_query_shows_posthogs_reason(fake):
    fake.script(error(400, "validation_error", "invalid_input", "Unknown property plan", "breakdownFilter"))
    err = error_of(fake, lambda api: api.funnel(STEPS, "-7d", "plan"))
    assert err.status == 400 and not err.retryable
    assert err.explain() == "PostHog rejected the request (400): Unknown property plan (breakdownFilter)"


def test_a_detail_that_echoes_the_key_is_scrubbed(fake):
    fake.script(error(400, "validation_error", "invalid_input", f"Bad token {PERSONAL_KEY} in body"))
    err = error_of(fake, lambda api: api.event_names())
    assert (
        PERSONAL_KEY not in err.explain()
        and PERSONAL_KEY not in str(err)
        and "Bad token *** in body" in err.detail
    )


def test_an_unfinished_query_asks_to_try_again_later(fake):
    fake.script(Reply(200, {"query_status": {"id": "q1", "complete": False}}), path="query/")
    err = error_of(fake, lambda api: api.funnel(STEPS, "-7d", None))
    assert err.code == "query_incomplete" and "try again in a minute" in err.explain()


def test_a_failed_or_unreadable_answer_is_explained(fake):
    fake.script(
        Reply(200, {"query_status": {"complete": True, "error": True, "error_message": "Too much data"}})
    )
    assert error_of(fake, lambda api: api.funnel(STEPS, "-7d", None)).explain() == (
        "PostHog could not run the query: Too much data"
    )
    fake.script(Reply(200, b"<html>login</html>", {"Content-Type": "text/html"}))
    err = error_of(fake, lambda api: api.event_names())
    assert err.code == "bad_response" and err.explain().startswith(
        "PostHog gave an answer the bot cannot read"
    )


def test_an_answer_without_funnel_steps_is_explained(fake):
    fake.script(Reply(200, {"results": {"steps": []}, "is_cached": False}), path="query/")
    err = error_of(fake, lambda api: api.funnel(STEPS, "-7d", None))
    assert (err.status, err.code, err.project_id) == (200, "bad_response", PROJECT_ID)
    assert err.explain() == (
        "PostHog gave an answer the bot cannot read: "
        "PostHog answered without funnel steps (is it a steps funnel?)"
    )


def test_a_slow_posthog_is_cut_off_at_the_timeout(fake):
    fake.script(slow(3.0), path="query/")
    started = time.monotonic()
    err = error_of(fake, lambda api: api.funnel(STEPS, "-7d", None), timeout_s=0.3)
    assert time.monotonic() - started < 1.5
    assert err.status is None and err.code == "timeout" and err.retryable
    assert err.explain() == "PostHog did not answer within 0.3 s; try again"


def test_an_unreachable_posthog(fake):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = error_of(fake, lambda api: api.event_names(), host=f"http://127.0.0.1:{port}")
    assert err.status is None and err.code == "unreachable"
    assert err.explain().startswith("PostHog did not answer (could not reach 127.0.0.1:")


# -- a user's HogQL, whole, in one request ------------------------------------------------------------
def test_a_hogql_table_past_posthogs_default_limit_comes_whole_without_offset(fake):
    fake.offset_allowed = False
    rows = [[f"c{n}.example", n, f"2026-11-{1 + n % 28:02d}T00:00:00Z"] for n in range(130)]
    fake.add_hogql_table("FROM quiet_accounts", ["account", "calls", "last_call"], rows)
    table = run(fake, lambda api: api.hogql_table("SELECT * FROM quiet_accounts;", 1000, "signals: quiet"))
    assert table.columns == ("account", "calls", "last_call")
    assert len(table.rows) == 130 and not table.truncated
    assert table.rows[129] == {"account": "c129.example", "calls": 129, "last_call": "2026-11-18T00:00:00Z"}
    [sent] = fake.queries()
    assert sent["query"] == {
        "kind": "HogQLQuery",
        "query": "SELECT * FROM (\nSELECT * FROM quiet_accounts\n) LIMIT 1001",
    }
    assert sent["name"] == "signals: quiet"


def test_a_hogql_table_past_the_cap_is_cut_and_says_so(fake):
    fake.add_hogql_table("FROM quiet_accounts", ["account"], [[f"c{n}.example"] for n in range(30)])
    table = run(fake, lambda api: api.hogql_table("SELECT account FROM quiet_accounts", 20, "q"))
    assert len(table.rows) == 20 and table.truncated


def test_a_hogql_error_is_posthogs_own_message(fake):
    fake.script(hogql_error("Unable to resolve field: acount"), path="query/")
    caught = error_of(fake, lambda api: api.hogql_table("SELECT acount FROM events", 10, "q"))
    assert (caught.status, caught.code, caught.detail) == (400, "invalid", "Unable to resolve field: acount")
    assert caught.explain() == "PostHog rejected the request (400): Unable to resolve field: acount"


def test_an_answer_that_is_not_a_table_is_a_bad_response(fake):
    fake.script(Reply(200, {"results": [[1]], "columns": ["a", "a"]}), path="query/")
    caught = error_of(fake, lambda api: api.hogql_table("SELECT 1 AS a, 2 AS a", 10, "q"))
    assert (caught.status, caught.code) == (200, "bad_response")
    assert "column name twice" in caught.detail


# -- persons by distinct id ------------------------------------------------------------------------------
def test_a_person_is_looked_up_by_any_of_their_distinct_ids(fake):
    fake.add_person("u_81723", [], {"email": "jane@acme.com", "name": "Jane Doe"}, aliases=["anon-1"])
    person = run(fake, lambda api: api.person("anon-1"))
    assert person["distinct_ids"] == ["u_81723", "anon-1"]
    assert person["properties"] == {"email": "jane@acme.com", "name": "Jane Doe"}
    assert person["name"] == "jane@acme.com" and isinstance(person["id"], int) and person["uuid"]

    [call] = fake.persons_calls()
    assert (call.method, call.path) == ("GET", f"/api/projects/{PROJECT_ID}/persons/")
    assert call.query == {"distinct_id": ["anon-1"]}
    assert call.headers["authorization"] == f"Bearer {PERSONAL_KEY}"


def test_a_distinct_id_posthog_does_not_know_is_no_person(fake):
    assert run(fake, lambda api: api.person("nobody")) is None
    assert run(fake, lambda api: api.person("alice/../../bob")) is None  # sent as a query value


def test_a_person_listing_other_distinct_ids_only_is_not_the_one_asked_for(fake):
    other = {"id": 1, "uuid": "x", "distinct_ids": ["someone-else"], "properties": {"email": "x@y.com"}}
    fake.script(Reply(200, {"next": None, "previous": None, "results": ["junk", other]}), path="persons/")
    assert run(fake, lambda api: api.person("alice")) is None
    fake.script(Reply(200, {"results": {"id": 1}}), path="persons/")
    assert error_of(fake, lambda api: api.person("alice")).code == "bad_response"


def test_person_lookups_fail_as_other_calls_do(fake):
    fake.script(server_error(500), path="persons/")
    assert error_of(fake, lambda api: api.person("alice")).status == 500
    fake.script(rate_limited(3), path="persons/")
    assert error_of(fake, lambda api: api.person("alice")).retry_after == 3.0
    fake.script(slow(3.0), path="persons/")
    err = error_of(fake, lambda api: api.person("alice"), timeout_s=0.3)
    assert err.code == "timeout"
    assert error_of(fake, lambda api: api.person("alice"), key="phx_wrong").status == 401
