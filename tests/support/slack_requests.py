"""Requests as Slack sends them: form-encoded bodies signed with the app's signing secret."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote, urlencode

from slack_sdk.signature import SignatureVerifier

from testkit.slack import SIGNING_SECRET


def signed_headers(body: str, secret: str = SIGNING_SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = str(at if at is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def interactive_body(payload: dict[str, Any]) -> str:
    return "payload=" + quote(json.dumps(payload))


def block_actions(
    action: dict[str, Any],
    response_url: str,
    channel: str = "C0AE1",
    user: str = "U0AE",
    message_ts: str = "1700000000.000100",
) -> dict[str, Any]:
    """A `block_actions` payload for a click on an alert message."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "ae", "name": "ae", "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": "1111.2222.abcd",
        "team": {"id": "T0TEAM", "domain": "test"},
        "channel": {"id": channel, "name": "ae-alerts"},
        "message": {"type": "message", "ts": message_ts, "text": "alert", "blocks": [], "bot_id": "B0BOT"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{**action, "action_ts": str(time.time())}],
    }


def view_submission(view: dict[str, Any], state: dict[str, Any], user: str = "U0AE") -> dict[str, Any]:
    """A `view_submission` payload of `view` (as views.open received it) with these input values."""
    return {
        "type": "view_submission",
        "team": {"id": "T0TEAM"},
        "user": {"id": user},
        "api_app_id": "A0APP",
        "token": "t",
        "trigger_id": "1.2.3",
        "view": {**view, "id": "V0VIEW", "state": {"values": state}, "hash": "h"},
    }


def slash_command(
    text: str, response_url: str, user: str = "U0ADMIN", channel: str = "C0AE1", **changes: str | None
) -> str:
    """A `/posthog` command's form body; `changes` replace fields, and None leaves one out (as a
    made-up request would)."""
    fields: dict[str, str | None] = {
        "token": "legacy-verification-token",
        "team_id": "T0TEAM",
        "team_domain": "test",
        "channel_id": channel,
        "channel_name": "ae-alerts",
        "user_id": user,
        "user_name": "admin",
        "command": "/posthog",
        "text": text,
        "response_url": response_url,
        "trigger_id": "1111.2222.abcd",
        "api_app_id": "A0APP",
        **changes,
    }
    return urlencode({name: value for name, value in fields.items() if value is not None})
