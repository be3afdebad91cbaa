"""Socket Mode (SLACK_APP_TOKEN): slash commands and clicks arrive over a WebSocket instead of HTTP.

The real `serve` app connects through slack_sdk's aiohttp Socket Mode client: `apps.connections.open`
on the fake Slack Web API, then the fake Socket Mode WebSocket, which sends envelopes and records the
app's acknowledgements."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl

import pytest

from testkit.slack_socket import APP_TOKEN, FakeSocketMode
from testkit.webhook_bodies import webhook_body
from tests.conftest import make_settings, serve
from tests.support.slack_requests import block_actions, slash_command


@pytest.fixture
def socket_mode(fake_slack):
    with FakeSocketMode() as socket:
        fake_slack.socket_url = lambda: socket.url
        yield socket


@pytest.fixture
def app(sqlite_url, fake_slack, socket_mode, example_config):
    settings = make_settings(sqlite_url, fake_slack, slack_app_token=APP_TOKEN)
    with serve(settings, example_config) as running:
        socket_mode.wait_connected()
        yield running


def _alert(app, fake_slack):
    body = webhook_body("onboarding_completed", properties={"plan": "trial", "company_domain": "acme.com"})
    assert app.post_webhook(body).status_code == 202
    message = fake_slack.wait_for(lambda s: s.posted())[0]
    alert_id = message["metadata"]["event_payload"]["alert_id"]
    deadline = time.time() + 5
    while (ts := app.services.store.alert(alert_id).ts) is None and time.time() < deadline:
        time.sleep(0.01)
    return alert_id, message["channel"], ts


def test_the_app_connects_with_its_app_level_token(app, fake_slack, socket_mode):
    opened = [r for r in fake_slack.requests if r.path == "/api/apps.connections.open"]
    assert opened and opened[0].headers["authorization"] == f"Bearer {APP_TOKEN}"
    assert socket_mode.connections == 1


def test_a_slash_command_over_the_socket_is_acknowledged_at_once_and_answered(app, fake_slack, socket_mode):
    payload = dict(parse_qsl(slash_command("help", fake_slack.response_url("help"))))
    envelope_id, sent_at = socket_mode.send("slash_commands", payload)
    ack = socket_mode.wait_ack(envelope_id)
    assert ack["received_at"] - sent_at < 3.0
    answer = fake_slack.wait_for(lambda s: s.responses("help"))[0]
    assert answer["response_type"] == "ephemeral"
    assert "/posthog funnel" in json.dumps(answer)


def test_a_click_over_the_socket_snoozes_the_account(app, fake_slack, socket_mode):
    alert_id, channel, ts = _alert(app, fake_slack)
    action = {
        "type": "static_select",
        "action_id": "snooze",
        "block_id": "b",
        "selected_option": {"text": {"type": "plain_text", "text": "7d"}, "value": f"{alert_id}:7d"},
    }
    payload = block_actions(action, fake_slack.response_url("snooze"), channel=channel, message_ts=ts)
    envelope_id, _ = socket_mode.send("interactive", payload)
    socket_mode.wait_ack(envelope_id)
    fake_slack.wait_for(lambda s: s.calls("chat.update"))
    assert "Snoozed by <@U0AE> until" in json.dumps(fake_slack.current(channel, ts)["blocks"])


def test_a_rejected_app_token_does_not_hold_back_the_webhook(sqlite_url, fake_slack, example_config):
    fake_slack.app_token = "xapp-another-app"  # Slack answers invalid_auth; the SDK keeps retrying
    settings = make_settings(sqlite_url, fake_slack, slack_app_token=APP_TOKEN)
    started = time.monotonic()
    with serve(settings, example_config) as app:
        assert time.monotonic() - started < 5
        assert app.http.get("/healthz").status_code == 200
        alert_id, _, _ = _alert(app, fake_slack)
        assert alert_id
    assert any(r.path == "/api/apps.connections.open" for r in fake_slack.requests)
