"""Clicks on the alert's controls, signed as Slack signs them, against a running server."""

from __future__ import annotations

import time

import pytest

from tests.conftest import make_settings, serve
from tests.support.slack_requests import block_actions, interactive_body, signed_headers


@pytest.fixture
def app(sqlite_url, fake_slack, example_config):
    with serve(make_settings(sqlite_url, fake_slack), example_config) as running:
        yield running


def _click(app, fake_slack, action: dict, response_url: str | None = None, **headers_kwargs):
    body = interactive_body(block_actions(action, response_url or fake_slack.response_url("click")))
    return app.http.post("/slack/events", content=body, headers=signed_headers(body, **headers_kwargs))


def test_open_in_posthog_click_is_acknowledged(app, fake_slack):
    started = time.perf_counter()
    response = _click(
        app,
        fake_slack,
        {
            "type": "button",
            "action_id": "open_posthog",
            "block_id": "b",
            "value": "a1",
            "url": "https://us.posthog.com/person/u_1",
            "text": {"type": "plain_text", "text": "Open in PostHog"},
        },
    )
    assert response.status_code == 200
    assert time.perf_counter() - started < 3
    time.sleep(0.2)
    assert fake_slack.responses("click") == []


@pytest.mark.parametrize("action_id", ["create_crm_task", "not_relevant"])
def test_other_buttons_are_acknowledged_and_explained_ephemerally(app, fake_slack, action_id):
    response = _click(
        app,
        fake_slack,
        {
            "type": "button",
            "action_id": action_id,
            "block_id": "b",
            "value": "a1",
            "text": {"type": "plain_text", "text": "x"},
        },
    )
    assert response.status_code == 200
    reply = fake_slack.wait_for(lambda s: s.responses("click"))[0]
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False


def test_snooze_select_is_acknowledged(app, fake_slack):
    action = {
        "type": "static_select",
        "action_id": "snooze",
        "block_id": "b",
        "selected_option": {"text": {"type": "plain_text", "text": "Snooze 1 day"}, "value": "a1:1d"},
    }
    assert _click(app, fake_slack, action).status_code == 200


def test_bad_or_stale_signature_is_401(app, fake_slack):
    action = {"type": "button", "action_id": "open_posthog", "block_id": "b", "value": "a1"}
    assert _click(app, fake_slack, action, secret="wrong").status_code == 401
    assert _click(app, fake_slack, action, at=int(time.time()) - 301).status_code == 401


def test_a_listener_failing_right_after_its_ack_is_still_acknowledged_at_once(app, fake_slack, caplog):
    """Bolt forgets an ack when its listener fails moments later, and would answer 404 after 3 s.
    Here the listener refuses an unknown snooze length at once and its answer goes to a
    response_url where nothing listens, so it fails a millisecond after its ack."""
    started = time.perf_counter()
    response = _click(
        app,
        fake_slack,
        {
            "type": "static_select",
            "action_id": "snooze",
            "block_id": "b",
            "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": "a1:forever"},
        },
        response_url="http://127.0.0.1:9/refused",
    )
    assert response.status_code == 200
    assert time.perf_counter() - started < 1
    deadline = time.monotonic() + 2
    while not (failed := [r for r in caplog.records if "snooze failed" in r.getMessage()]):
        assert time.monotonic() < deadline, "the failure was not logged"
        time.sleep(0.02)
    assert failed[0].exc_info is not None
