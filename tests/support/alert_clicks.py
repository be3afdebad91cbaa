"""Raising an alert through the webhook and acting on it as Slack would: signed clicks, snooze
choices and modal submissions posted to a running app, and what the fake Slack made of them."""

from __future__ import annotations

import time
from typing import Any

import httpx

from testkit.slack import FakeSlack
from testkit.webhook_bodies import webhook_body
from tests.conftest import RunningApp
from tests.support.slack_requests import block_actions, interactive_body, signed_headers, view_submission


def post_alert(
    app: RunningApp,
    fake_slack: FakeSlack,
    domain: str = "acme.com",
    event: str = "onboarding_completed",
    **props: Any,
) -> tuple[str, str, str]:
    """(alert id, channel, message ts) of the alert an event for `domain` produced."""
    properties = {"plan": "trial", "company_domain": domain, **props}
    if event == "feature_activated":
        properties["feature_name"] = "api_integration"
    body = webhook_body(event, properties=properties)
    assert app.post_webhook(body).status_code == 202
    message = fake_slack.wait_for(
        lambda s: next(
            (m for m in s.posted() if m["metadata"]["event_payload"]["event_uuid"] == body["event"]["uuid"]),
            None,
        )
    )
    alert_id = message["metadata"]["event_payload"]["alert_id"]
    deadline = time.time() + 5
    while (ts := app.services.store.alert(alert_id).ts) is None and time.time() < deadline:
        time.sleep(0.01)
    assert ts is not None, "the alert was posted but its ts never recorded"
    return alert_id, message["channel"], ts


def post_interactive(app: RunningApp, payload: dict[str, Any]) -> httpx.Response:
    body = interactive_body(payload)
    return app.http.post("/slack/events", content=body, headers=signed_headers(body))


def click(
    app: RunningApp,
    fake_slack: FakeSlack,
    action_id: str,
    value: str,
    channel: str,
    ts: str,
    user: str = "U0AE",
    response: str = "click",
    **extra: Any,
) -> httpx.Response:
    action = {
        "type": "button",
        "action_id": action_id,
        "block_id": "b",
        "value": value,
        "text": {"type": "plain_text", "text": "x"},
        **extra,
    }
    return _act(app, fake_slack, action, channel, ts, user, response)


def choose_snooze(
    app: RunningApp,
    fake_slack: FakeSlack,
    alert_id: str,
    choice: str,
    channel: str,
    ts: str,
    user: str = "U0AE",
    response: str = "snooze",
) -> httpx.Response:
    action = {
        "type": "static_select",
        "action_id": "snooze",
        "block_id": "b",
        "selected_option": {"text": {"type": "plain_text", "text": choice}, "value": f"{alert_id}:{choice}"},
    }
    return _act(app, fake_slack, action, channel, ts, user, response)


def _act(
    app: RunningApp,
    fake_slack: FakeSlack,
    action: dict[str, Any],
    channel: str,
    ts: str,
    user: str,
    response: str,
) -> httpx.Response:
    """The block_actions payload Slack sends for `action` on the message `ts` in `channel`."""
    payload = block_actions(
        action, fake_slack.response_url(response), channel=channel, user=user, message_ts=ts
    )
    return post_interactive(app, payload)


def submit_view(
    app: RunningApp, view: dict[str, Any], state: dict[str, Any], user: str = "U0AE"
) -> httpx.Response:
    """A view_submission of `view` (as views.open received it) with these input values."""
    return post_interactive(app, view_submission(view, state, user))


def not_relevant_state(reason: str | None, text: str | None = None) -> dict[str, Any]:
    """The "Not relevant" modal's input values: a reason (radio buttons) and a comment."""
    return {
        "reason": {
            "reason_choice": {
                "type": "radio_buttons",
                "selected_option": {"value": reason} if reason else None,
            }
        },
        "comment": {"comment_text": {"type": "plain_text_input", "value": text}},
    }


def updates(fake_slack: FakeSlack, channel: str, ts: str) -> list[dict[str, Any]]:
    """The chat.update calls the message at (channel, ts) received."""
    with fake_slack.lock:
        for item in fake_slack.history[channel]:
            if item["message"]["ts"] == ts:
                return list(item.get("updates", []))
    return []
