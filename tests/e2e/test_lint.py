"""`/posthog lint` through a running server: a signed slash command, acknowledged at once, answered on
the response_url with the tracking-plan report read from the fake PostHog (event definitions in their
paged shape, volumes from one HogQL count where the definitions have none), and PostHog's errors as
what to fix."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from testkit import posthog_api as fakes
from testkit.examples import EXAMPLE_EVENTS
from testkit.posthog_api import PERSONAL_KEY, PROJECT_ID, FakePostHogApi
from tests.conftest import RunningApp, make_settings, serve
from tests.support.slack_requests import signed_headers, slash_command

DAY = 86_400.0


@pytest.fixture
def posthog_api() -> Iterator[FakePostHogApi]:
    """The five click variants, the example's events, a quiet event and busy events nobody acts on;
    some definitions carry `volume_30_day`, the rest are counted by HogQL."""
    with FakePostHogApi(seed=False) as server:
        for name, volume in [("click", 1200), ("Click", 30), ("button-click", None), ("btnClick", None)]:
            server.add_event_definition(name, volume_30_day=volume)
        server.add_event_definition("user_clicked_button", volume_30_day=400)
        for name in EXAMPLE_EVENTS:
            server.add_event_definition(name, volume_30_day=40)
        server.add_event_definition("report_exported")
        server.add_event_definition("legacy_export", volume_30_day=0, last_seen=45 * DAY)
        server.add_hogql_table(
            "GROUP BY event",
            ["event", "events"],
            [["report_exported", 3400], ["button-click", 80], ["btnClick", 15]],
        )
        yield server


@pytest.fixture
def app(sqlite_url, fake_slack, posthog_api, example_config) -> Iterator[RunningApp]:
    typo = example_config.signals[0].model_copy(update={"event": "onboarding_complete"})
    config = example_config.model_copy(update={"signals": [typo, *example_config.signals[1:]]})
    settings = make_settings(
        sqlite_url,
        fake_slack,
        posthog_app_host_setting=posthog_api.url,
        posthog_personal_api_key=PERSONAL_KEY,
        posthog_project_id=PROJECT_ID,
    )
    with serve(settings, config) as running:
        yield running


def lint(app: RunningApp, fake_slack: Any, text: str = "lint", name: str = "lint") -> dict[str, Any]:
    body = slash_command(text, fake_slack.response_url(name), user="U0NOTAWRITER")
    started = time.perf_counter()
    response = app.http.post("/slack/events", content=body, headers=signed_headers(body))
    assert response.status_code == 200 and time.perf_counter() - started < 3
    return fake_slack.wait_for(lambda s: s.responses(name), timeout=10)[0]


def test_lint_answers_with_the_tracking_plan_report(app, fake_slack, posthog_api):
    reply = lint(app, fake_slack)
    assert reply["response_type"] == "ephemeral"
    blocks = reply["blocks"]
    assert blocks[0]["text"]["text"] == "Tracking plan: 12 events in PostHog"
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert sections[0].endswith(
        "• *Trial finished onboarding* listens to `onboarding_complete`: did you mean `onboarding_completed`?"
    )
    assert "• `btnClick` → `btn_click` (15)" in sections[1]
    assert "• `click` 1,200 · `Click` 30 → keep `click`" in sections[2]
    assert (
        "• `user_clicked_button` 400 · `button-click` 80 · `btnClick` 15 → keep `user_clicked_button`"
        in (sections[2])
    )
    assert "• `legacy_export` last seen" in sections[3]
    assert sections[4].splitlines()[1] == "• `report_exported` 3,400"  # counted by HogQL, busiest first
    assert reply["text"].startswith("Tracking plan: 1 signal listens to an event PostHog never received")
    assert len(posthog_api.queries()) == 1  # one count for every definition without a volume


def test_a_shared_report_goes_to_the_channel(app, fake_slack):
    assert lint(app, fake_slack, "lint --share")["response_type"] == "in_channel"


def test_posthog_slow_to_answer_does_not_delay_the_ack(app, fake_slack, posthog_api):
    posthog_api.script(fakes.slow(3.5, fakes.rate_limited(5)), path="event_definitions/")
    reply = lint(app, fake_slack)
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == ":warning: PostHog is rate limiting the bot; try again in 5 s"


@pytest.mark.parametrize(
    ("scopes", "said"),
    [
        ({"query:read"}, "the personal API key lacks `event_definition:read`"),
        ({"event_definition:read"}, "The personal API key lacks `query:read`, so volumes are unknown"),
    ],
)
def test_missing_scopes_are_explained(app, fake_slack, posthog_api, scopes, said):
    posthog_api.scopes = scopes
    reply = lint(app, fake_slack)
    assert said in reply["text"] or said.lower() in json.dumps(reply.get("blocks")).lower()
