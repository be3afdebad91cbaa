"""`/posthog`: acknowledged at once (Slack allows 3 seconds, PostHog may take 30), parsed, run by
`bot.commands.run`, answered on the command's response_url. Answers are ephemeral unless the
user adds `--share`; a shared funnel also gets a chart when the bot may upload to the channel."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.parser import CommandError, Snoozes, parse
from bot.commands.run import USAGE, Reply
from bot.slack import ids
from bot.slack.blocks.panels import snoozes_list
from bot.slack.mrkdwn import escape
from handlers import settled

if TYPE_CHECKING:
    from bot.app.container import Services

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    async def posthog(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        try:
            parsed = parse(str(command.get("text") or ""))
        except CommandError as exc:
            await respond(text=f":warning: {escape(str(exc))}\n\n{USAGE}", response_type="ephemeral")
            return
        if isinstance(parsed, Snoozes):
            channel = str(command.get("channel_id") or "")
            snoozes = await asyncio.to_thread(services.controls.active_snoozes, channel)
            await respond(**snoozes_list(snoozes), response_type="ephemeral", replace_original=False)
            return
        try:
            reply = await services.commands.run(parsed, str(command.get("user_id", "")))
        except Exception:
            log.exception("/posthog failed")
            reply = Reply(text=":warning: Something went wrong on our side; nothing was lost. Try again.")
        await _answer(reply, respond, client, str(command.get("channel_id", "")))

    app.command(ids.SLASH_COMMAND)(settled(posthog))


async def _answer(reply: Reply, respond: AsyncRespond, client: AsyncWebClient, channel_id: str) -> None:
    kind = "in_channel" if reply.share else "ephemeral"
    await respond(text=reply.text, blocks=reply.blocks, response_type=kind, replace_original=False)
    if not (reply.share and reply.chart and channel_id):
        return
    try:
        await client.files_upload_v2(
            channel=channel_id,
            file=reply.chart,
            filename="funnel.png",
            title=reply.chart_title,
            alt_txt=reply.text[:1000],
        )
    except SlackApiError as exc:  # the text answer is there; say why the chart is not
        error = escape(str(exc.response.get("error")))
        hint = "invite the bot to this channel" if error == "not_in_channel" else f"Slack said {error}"
        await respond(
            text=f"The chart could not be uploaded ({hint}).",
            response_type="ephemeral",
            replace_original=False,
        )
