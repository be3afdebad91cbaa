"""Alert buttons. Every click is acknowledged first, within Slack's 3 seconds.

`open_posthog` is a URL button: Slack opens the link itself and still sends a click, which only
needs an ack. The other controls act on the alert in the bot's store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot import ids

if TYPE_CHECKING:
    from bot.services import Services

UNAVAILABLE = (
    "This control is not available in this version of posthog-slack-signals yet; the alert stays as it is."
)


async def ack_only(ack: AsyncAck) -> None:
    await ack()


async def not_available(ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any]) -> None:
    await ack()
    await respond(text=UNAVAILABLE, response_type="ephemeral", replace_original=False)


def register(app: AsyncApp, services: Services) -> None:
    app.action(ids.OPEN_POSTHOG)(ack_only)
    for action_id in (ids.CREATE_CRM_TASK, ids.SNOOZE, ids.NOT_RELEVANT):
        app.action(action_id)(not_available)
