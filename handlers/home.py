"""The Home tab's listeners: `app_home_opened` publishes the tab for whoever opened it, and an
Unsnooze clicked on the tab ends the snooze when the clicker owns the alert it was made on.

Bolt acknowledges an event by itself and, with `process_before_response=False`, answers Slack before
the listener runs, so publishing never holds the 3-second answer up; it starts at once. A click on
the tab names no channel (it has a `view` container and no response_url), so it cannot be held to
an alert's channel like a click on a message: its listener is registered ahead of the message's
Unsnooze listener (handlers/actions.py), matches only clicks from a `home` view, and answers by
publishing the tab again.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.home import Home
from bot.slack.ids import AlertAction, SnoozeRef, is_user_id
from handlers import carrying, settled


def workspace_url(context: AsyncBoltContext) -> str | None:
    """auth.test's `url`, which Bolt's authorization already asked for (and keeps)."""
    result = context.authorize_result
    url = getattr(result, "url", None) if result is not None else None
    return url if isinstance(url, str) else None


async def from_home_tab(body: dict[str, Any]) -> bool:
    """Whether a click came from a Home tab rather than from a message."""
    container = body.get("container") or {}
    view = body.get("view") or {}
    return container.get("type") == "view" and isinstance(view, dict) and view.get("type") == "home"


def _value(action: dict[str, Any]) -> object:
    return action.get("value")


def register(app: AsyncApp, home: Home) -> None:
    async def app_home_opened(
        ack: AsyncAck, event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        user = event.get("user")
        if event.get("tab") != "home" or not is_user_id(user):
            return  # the Messages tab, or not a person Slack names
        await home.publish(client, user, workspace_url(context))

    async def unsnooze_on_home(
        ack: AsyncAck,
        body: dict[str, Any],
        carried: SnoozeRef | None,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        snooze_id = carried.snooze_id if carried is not None else None
        await home.unsnooze(client, snooze_id, body["user"]["id"], workspace_url(context))

    app.event("app_home_opened")(settled(app_home_opened))
    app.action(AlertAction.UNSNOOZE, matchers=[from_home_tab], middleware=[carrying(SnoozeRef, _value)])(
        settled(unsnooze_on_home)
    )
