"""Reading PostHog for the tracking-plan report over real HTTP against the fake PostHog: every page of
the event definitions, untrusted rows, the cap, volumes from the definitions or one HogQL count, and
PostHog's errors as what to fix."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from bot.clients.posthog_api import PostHogApi, PostHogApiError
from bot.config.signals_file import Signal
from bot.lint import build_lint_report
from bot.lint.source import VOLUME_QUERY, explain_failure, read_catalog, read_definitions
from testkit import posthog_api as fakes
from testkit.base import Reply
from testkit.posthog_api import PERSONAL_KEY, PROJECT_ID, FakePostHogApi
from tests.support.factories import example_config

DAY = 86_400.0


@pytest.fixture
def fake() -> Iterator[FakePostHogApi]:
    with FakePostHogApi(seed=False) as server:
        yield server


def run(fake: FakePostHogApi, call: Callable[[PostHogApi], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        async with httpx.AsyncClient() as client:
            return await call(PostHogApi(fake.url, PROJECT_ID, PERSONAL_KEY, client, timeout_s=5))

    return asyncio.run(go())


def failure(fake: FakePostHogApi) -> PostHogApiError:
    with pytest.raises(PostHogApiError) as raised:
        run(fake, read_catalog)
    return raised.value


def test_every_page_is_read(fake):
    for n in range(1203):
        fake.add_event_definition(f"event_{n:04d}", volume_30_day=n, last_seen=n * 60.0)
    definitions, capped, skipped = run(fake, read_definitions)
    assert len(definitions) == 1203 and not capped and skipped == 0
    assert definitions[0].name == "event_0000" and definitions[0].volume_30_day == 0
    assert definitions[5].last_seen == pytest.approx(fake.now.timestamp() - 300)
    offsets = [r.query["offset"] for r in fake.calls("event_definitions/")]
    assert offsets == [["0"], ["500"], ["1000"]]


def test_the_cap_stops_reading_and_says_so(fake):
    for n in range(30):
        fake.add_event_definition(f"event_{n:02d}", volume_30_day=1)
    definitions, capped, _ = run(fake, lambda api: read_definitions(api, max_definitions=20))
    assert len(definitions) == 20 and capped
    definitions, capped, _ = run(fake, lambda api: read_definitions(api, max_definitions=30))
    assert len(definitions) == 30 and not capped


def test_rows_that_are_not_definitions_are_skipped_and_nulls_are_unknown(fake):
    rows = [
        {"name": "ok_event", "volume_30_day": "12", "last_seen_at": "2026-01-02T03:04:05.678Z"},
        {"name": "naive_time", "volume_30_day": 3.0, "last_seen_at": "2026-01-02T03:04:05"},
        {"name": "bad_fields", "volume_30_day": -4, "query_usage_30_day": True, "last_seen_at": "yesterday"},
        {"name": "ok_event", "volume_30_day": 99},  # a name twice: the first is kept
        {"name": ""},
        {"name": 42},
        {"volume_30_day": 5},
        {"name": "x" * 401},
        "not an object",
    ]
    fake.script(
        Reply(200, {"count": 9, "next": None, "previous": None, "results": rows}), path="event_definitions/"
    )
    definitions, capped, skipped = run(fake, read_definitions)
    assert [d.name for d in definitions] == ["ok_event", "naive_time", "bad_fields"]
    assert skipped == 4 and not capped  # the string is not a row at all
    ok, naive, bad = definitions
    assert ok.volume_30_day == 12 and ok.last_seen_at.isoformat() == "2026-01-02T03:04:05.678000+00:00"
    assert naive.volume_30_day == 3 and naive.last_seen_at.tzinfo is not None
    assert bad.volume_30_day is None and bad.query_usage_30_day is None and bad.last_seen_at is None


def test_volumes_from_the_definitions_need_no_query(fake):
    fake.add_event_definition("a", volume_30_day=5)
    fake.add_event_definition("b", volume_30_day=0)
    catalog = run(fake, read_catalog)
    assert catalog.volumes == {"a": 5, "b": 0} and catalog.volume_note is None
    assert fake.queries() == []


def test_missing_volumes_come_from_one_hogql_count(fake):
    fake.add_event_definition("from_definition", volume_30_day=7)
    fake.add_event_definition("counted")
    fake.add_event_definition("not_in_the_count")
    fake.add_hogql_table("GROUP BY event", ["event", "events"], [["counted", 41], ["from_definition", 1000]])
    catalog = run(fake, read_catalog)
    assert catalog.volumes == {"from_definition": 7, "counted": 41, "not_in_the_count": 0}
    [query] = fake.queries()
    assert query["query"]["kind"] == "HogQLQuery" and VOLUME_QUERY in query["query"]["query"]


def test_a_count_with_more_names_than_asked_for_leaves_the_rest_unknown(fake):
    fake.add_event_definition("busy")
    fake.add_event_definition("quiet_one")
    fake.add_hogql_table("GROUP BY event", ["event", "events"], [["busy", 9], ["other", 3]])
    catalog = run(fake, lambda api: read_catalog(api, max_definitions=1))
    assert catalog.volumes == {"busy": 9} and "only the 1 busiest events were counted" in catalog.volume_note


def test_without_query_read_volumes_are_unknown_and_the_rest_still_runs(fake):
    fake.scopes = {"event_definition:read"}
    fake.add_event_definition("btnClick")
    catalog = run(fake, read_catalog)
    assert catalog.names == ["btnClick"] and catalog.volumes == {}
    assert catalog.volume_note == "the personal API key lacks `query:read`, so volumes are unknown"


def test_a_failing_count_says_why_volumes_are_unknown(fake):
    fake.add_event_definition("btnClick")
    fake.script(fakes.rate_limited(7), path="query/")
    assert (
        run(fake, read_catalog).volume_note
        == "volumes are unknown: PostHog is rate limiting queries; try again in 7 s"
    )


def test_build_lint_report_from_posthog_and_the_signals_file(fake):
    fake.add_event_definition("onboarding_completed", volume_30_day=310)
    fake.add_event_definition("Click", volume_30_day=3, last_seen=40 * DAY)
    config = example_config().model_copy(
        update={"signals": [Signal(name="Trial finished onboarding", event="onboarding_complete")]}
    )
    now = fake.now.timestamp()
    report = run(fake, lambda api: build_lint_report(api, config, now))
    assert report.checked_at == now and report.events == 2
    assert report.unknown[0].suggestions == ("onboarding_completed",)
    assert [q.name for q in report.quiet] == ["Click"] and [b.name for b in report.bad_names] == ["Click"]


# -- PostHog's errors, as what to fix --------------------------------------------------------------
def test_a_key_without_event_definition_read(fake):
    fake.scopes = {"query:read"}
    err = failure(fake)
    assert err.status == 403
    assert explain_failure(err) == (
        "PostHog refused to list event definitions (403): the personal API key lacks "
        "`event_definition:read`; add it in PostHog under Settings → Personal API keys"
    )


def test_a_403_that_names_no_scope_is_read_as_the_missing_scope(fake):
    fake.script(
        fakes.error(403, "authentication_error", "permission_denied", "Forbidden."), path="event_definitions/"
    )
    assert "lacks `event_definition:read`" in explain_failure(failure(fake))


def test_a_rejected_key(fake):
    fake.script(fakes.unauthorized(), path="event_definitions/")
    said = explain_failure(failure(fake))
    assert "(401)" in said and "POSTHOG_PERSONAL_API_KEY" in said and "event_definition:read" in said


def test_rate_limited(fake):
    fake.script(fakes.rate_limited(12), path="event_definitions/")
    assert explain_failure(failure(fake)) == "PostHog is rate limiting the bot; try again in 12 s"


@pytest.mark.parametrize("status", [500, 502])
def test_posthog_failing(fake, status):
    fake.script(fakes.server_error(status), path="event_definitions/")
    assert explain_failure(failure(fake)) == f"PostHog is failing (HTTP {status}); try again in a few minutes"


def test_a_wrong_project(fake):
    fake.project_id = "999"
    assert "POSTHOG_PROJECT_ID" in explain_failure(failure(fake))


def test_a_signals_event_the_pages_missed_is_looked_up_by_name_before_it_is_called_unknown(fake):
    """Past the cap (or moved between pages while they were read), a signal's event is not in the
    pages; PostHog is asked for it by name, and only a name it does not know is reported."""
    for n in range(30):
        fake.add_event_definition(f"busy_{n:02d}", volume_30_day=1000 + n, last_seen=n * 60.0)
    fake.add_event_definition("onboarding_completed", volume_30_day=12, last_seen=5 * DAY)
    fake.add_event_definition("onboarding_completed_v2", volume_30_day=1, last_seen=6 * DAY)
    config = example_config().model_copy(
        update={
            "signals": [
                Signal(name="Trial finished onboarding", event="onboarding_completed"),
                Signal(name="Typo", event="onboarding_complet"),
            ]
        }
    )
    report = run(fake, lambda api: build_lint_report(api, config, fake.now.timestamp(), max_definitions=20))
    assert [u.event for u in report.unknown] == ["onboarding_complet"]  # the other was found by name
    searched = [r.query["search"] for r in fake.calls("event_definitions/") if "search" in r.query]
    assert sorted(searched) == [["onboarding_complet"], ["onboarding_completed"]]
