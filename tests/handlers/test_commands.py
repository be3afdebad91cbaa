"""`/posthog` against a running server: signed slash commands, fake PostHog (Query API, insights, event
definitions, capture) and fake Slack (response_url, file upload)."""

from __future__ import annotations

import json
import time

import pytest

from testkit import posthog_api as api_fakes
from testkit.posthog_api import FUNNEL_INSIGHT, PERSONAL_KEY, PROJECT_ID, FakePostHogApi
from tests.conftest import make_settings, serve
from tests.support.slack_requests import signed_headers, slash_command


@pytest.fixture
def fake_api():
    with FakePostHogApi() as server:
        yield server


@pytest.fixture
def app(sqlite_url, fake_slack, fake_posthog, fake_api, example_config):
    settings = make_settings(
        sqlite_url,
        fake_slack,
        fake_posthog,
        posthog_app_host_setting=fake_api.url,
        posthog_personal_api_key=PERSONAL_KEY,
        posthog_project_id=PROJECT_ID,
    )
    with serve(settings, example_config) as running:
        yield running


def _command(app, fake_slack, text, name="r", user="U0ADMIN"):
    body = slash_command(text, fake_slack.response_url(name), user=user)
    started = time.perf_counter()
    response = app.http.post("/slack/events", content=body, headers=signed_headers(body))
    assert response.status_code == 200
    return time.perf_counter() - started


def _reply(fake_slack, name="r", timeout=10):
    return fake_slack.wait_for(lambda s: s.responses(name), timeout=timeout)[0]


def test_funnel_answers_with_counts_conversion_medians_and_a_link(app, fake_slack, fake_api):
    _command(app, fake_slack, "funnel $pageview > signup_started > signup_completed 30d")
    reply = _reply(fake_slack)
    text = json.dumps(reply["blocks"])
    assert reply["response_type"] == "ephemeral"
    assert "of step 1" in text and "median" in text and "converted overall" in text
    assert "/insights/new#q=" in text
    sent = json.loads(fake_api.calls("query/")[-1].body)
    assert [s["event"] for s in sent["query"]["series"]] == [
        "$pageview",
        "signup_started",
        "signup_completed",
    ]
    assert sent["query"]["dateRange"]["date_from"] == "-30d"


def test_a_slow_posthog_does_not_delay_the_ack(app, fake_slack, fake_api):
    original = fake_api.respond

    def slow(request):
        reply = original(request)
        if request.path.endswith("query/"):
            reply.delay_s = 4
        return reply

    fake_api.respond = slow
    took = _command(app, fake_slack, "funnel $pageview > signup_started")
    assert took < 3
    assert "of step 1" in json.dumps(_reply(fake_slack, timeout=15)["blocks"])


@pytest.mark.parametrize(
    ("reply", "explained"),
    [
        (api_fakes.unauthorized(), "POSTHOG_PERSONAL_API_KEY"),
        (api_fakes.missing_scope("query:read"), "query:read"),
        (api_fakes.rate_limited(7), "7"),
        (api_fakes.server_error(502), "try again"),
    ],
)
def test_posthog_errors_are_translated(app, fake_slack, fake_api, reply, explained):
    fake_api.script(reply, path="query/")
    _command(app, fake_slack, "funnel $pageview > signup_started")
    answer = _reply(fake_slack)
    assert explained in answer["text"] and "Traceback" not in answer["text"]


def test_what_posthog_says_in_an_error_cannot_ping_or_link(app, fake_slack, fake_api):
    detail = "Unknown event <!channel> see <https://evil.example|PostHog docs> & retry"
    fake_api.script(api_fakes.error(400, "validation_error", "invalid_input", detail), path="query/")
    _command(app, fake_slack, "funnel $pageview > signup_started")
    text = _reply(fake_slack)["text"]
    assert "&lt;!channel&gt;" in text and "&lt;https://evil.example|PostHog docs&gt; &amp; retry" in text
    assert "<!channel>" not in text and "<https://" not in text


def test_a_typo_gets_a_did_you_mean(app, fake_slack):
    _command(app, fake_slack, "funnel $pageview > signup_startd")
    assert "did you mean `signup_started`" in json.dumps(_reply(fake_slack)["blocks"])


def test_saved_insight_by_short_id(app, fake_slack):
    _command(app, fake_slack, f"funnel {FUNNEL_INSIGHT}")
    text = json.dumps(_reply(fake_slack)["blocks"])
    assert f"/insights/{FUNNEL_INSIGHT}" in text and "of step 1" in text


def test_shared_funnel_goes_to_the_channel_with_a_chart(app, fake_slack):
    _command(app, fake_slack, "funnel $pageview > signup_started > signup_completed --share")
    assert _reply(fake_slack)["response_type"] == "in_channel"
    filename, data, channel, _ = fake_slack.wait_for(lambda s: s.uploaded(), timeout=10)[0]
    assert filename == "funnel.png" and data.startswith(b"\x89PNG") and channel == "C0AE1"


def test_test_event_is_captured_and_dry_run_shows_the_alert(app, fake_slack, fake_posthog):
    _command(app, fake_slack, "test onboarding_completed u_42 plan=trial company_domain=acme.com seats=12")
    reply = _reply(fake_slack)
    event = fake_posthog.wait_for(lambda s: s.captured("onboarding_completed"))[0]
    assert event["properties"]["test"] is True and event["properties"]["seats"] == 12
    assert event["properties"]["$lib"] == "posthog-slack-signals"
    assert event["distinct_id"] == "u_42"
    assert "Dry run" in reply["text"] and "would alert <#C0AE1>" in reply["text"]
    assert fake_slack.posted() == []  # nothing was posted


def test_identify_and_alias_reach_posthog(app, fake_slack, fake_posthog):
    _command(app, fake_slack, "identify u_42 plan=team seats=3", name="i")
    assert "Set" in _reply(fake_slack, "i")["text"]
    person = fake_posthog.wait_for(lambda s: s.captured("$set"))[0]
    assert person["properties"]["$set"] == {"plan": "team", "seats": 3}
    _command(app, fake_slack, "alias anon-1 u_42", name="a")
    assert "Linked" in _reply(fake_slack, "a")["text"]
    alias = fake_posthog.wait_for(lambda s: s.captured("$create_alias"))[0]
    assert alias["distinct_id"] == "anon-1" and alias["properties"]["alias"] == "u_42"


def test_only_writers_may_write(app, fake_slack, fake_posthog):
    _command(app, fake_slack, "identify u_42 plan=team", user="U0NOBODY")
    assert "access.writers" in _reply(fake_slack)["text"]
    time.sleep(0.3)
    assert fake_posthog.captured() == []


def test_bad_input_gets_usage_not_a_stack_trace(app, fake_slack):
    _command(app, fake_slack, 'funnel "unterminated > x')
    text = _reply(fake_slack)["text"]
    assert "quote is not closed" in text and "/posthog funnel" in text


def test_shared_breakdown_gets_grouped_bars(app, fake_slack):
    _command(app, fake_slack, "funnel $pageview > signup_started by $browser --share")
    assert _reply(fake_slack)["blocks"][0]["text"]["text"] == "Funnel: $pageview → signup_started by $browser"
    _, data, _, _ = fake_slack.wait_for(lambda s: s.uploaded(), timeout=10)[0]
    assert data.startswith(b"\x89PNG")
