"""Requests as Slack sends them, signed with the app's signing secret: form-encoded bodies
(commands, interactivity) and the Events API's JSON bodies (`event_callback`, `url_verification`)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote, urlencode

from slack_sdk.signature import SignatureVerifier

from testkit.slack import SIGNING_SECRET


def signed_headers(
    body: str,
    secret: str = SIGNING_SECRET,
    at: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    timestamp = str(at if at is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "Content-Type": content_type,
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


# -- the Events API: JSON bodies ---------------------------------------------------------------------
def json_headers(body: str, secret: str = SIGNING_SECRET, at: int | None = None) -> dict[str, str]:
    """Headers of an Events API request: the JSON body signed as it is sent."""
    return signed_headers(body, secret, at, content_type="application/json")


def url_verification(challenge: str) -> str:
    """What Slack sends when an Events API request URL is saved; the app must echo the challenge."""
    return json.dumps(
        {"token": "legacy-verification-token", "challenge": challenge, "type": "url_verification"}
    )


def event_callback(event: dict[str, Any], event_id: str = "Ev0HOME1") -> str:
    """An `event_callback` body wrapping `event`, as the Events API delivers it."""
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": "T0TEAM",
            "api_app_id": "A0APP",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": "T0TEAM", "user_id": "U0BOT", "is_bot": True, "is_enterprise_install": False}
            ],
            "is_ext_shared_channel": False,
        }
    )


def app_home_opened(user: str, tab: str = "home") -> dict[str, Any]:
    """The `app_home_opened` event of `user` opening the app's Home (or Messages) tab."""
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": "D0HOME",
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }


def home_block_actions(action: dict[str, Any], user: str) -> dict[str, Any]:
    """A `block_actions` payload for a click on the Home tab: a `view` container, no channel and no
    response_url."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "ae", "name": "ae", "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": "V0HOME"},
        "trigger_id": "1111.2222.abcd",
        "team": {"id": "T0TEAM", "domain": "test"},
        "view": {
            "id": "V0HOME",
            "team_id": "T0TEAM",
            "type": "home",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "state": {"values": {}},
            "hash": "1700000000.abcd",
            "app_id": "A0APP",
            "bot_id": "B0BOT",
        },
        "actions": [{**action, "action_ts": str(time.time())}],
    }
