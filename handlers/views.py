"""The "Not relevant" modal's submission: validate (errors shown in the modal), close it, then record
the reason and update the alert. A failure afterwards reaches the user as an ephemeral message."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.controls import ControlError
from bot.panels import read_not_relevant

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    controls = services.controls

    async def not_relevant_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        reason, text, errors = read_not_relevant(view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        try:
            context = orjson.loads(view.get("private_metadata") or "{}")
        except orjson.JSONDecodeError:
            context = {}
        user = body["user"]["id"]
        channel = context.get("channel")
        try:
            await controls.not_relevant(
                client, str(context.get("alert_id", "")), channel, user, str(reason), text
            )
        except ControlError as exc:
            if channel:
                try:
                    await client.chat_postEphemeral(channel=channel, user=user, text=str(exc))
                except SlackApiError as slack_error:
                    log.warning("could not tell the user: %s", slack_error.response.get("error"))

    app.view(ids.NOT_RELEVANT_VIEW)(not_relevant_submitted)
