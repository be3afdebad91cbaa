"""The "Not relevant" modal's submission: validate (errors shown in the modal), close it, then record
the reason and update the alert. A submission whose metadata no longer names the alert and its
channel is refused in the modal, since the channel check could not be made. A failure afterwards
reaches the user as an ephemeral message in that channel."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.controls import ControlError
from bot.slack import ids
from bot.slack.blocks.panels import REASON_BLOCK, read_modal_target, read_not_relevant
from handlers import settled

if TYPE_CHECKING:
    from bot.app.container import Services

log = logging.getLogger(__name__)


LOST_TRACK = (
    "This form no longer says which alert and channel it is for, so nothing was saved. "
    "Close it and click Not relevant on the alert again."
)


def register(app: AsyncApp, services: Services) -> None:
    controls = services.controls

    async def not_relevant_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        target = read_modal_target(view)
        reason, text, errors = read_not_relevant(view)
        if target is None:
            errors = {REASON_BLOCK: LOST_TRACK}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        alert_id, channel = target
        user = body["user"]["id"]
        try:
            await controls.not_relevant(client, alert_id, channel, user, str(reason), text)
        except ControlError as exc:
            try:
                await client.chat_postEphemeral(channel=channel, user=user, text=str(exc))
            except SlackApiError as slack_error:
                log.warning("could not tell the user: %s", slack_error.response.get("error"))

    app.view(ids.NOT_RELEVANT_VIEW)(settled(not_relevant_submitted))
