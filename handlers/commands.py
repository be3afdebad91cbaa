"""`/posthog`: acknowledged at once (Slack allows 3 seconds, PostHog may take 30), answered by the
command runner (bot/commands/run.py) on the command's response_url. Answers are ephemeral unless the
user adds `--share`; a shared funnel also gets a chart when the bot may upload to the channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.run import PostHogCommands, Reply
from bot.slack.ids import SLASH_COMMAND
from bot.slack.mrkdwn import escape
from handlers import failure_notice, settled

log = logging.getLogger(__name__)


def register(app: AsyncApp, commands: PostHogCommands) -> None:
    async def posthog(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        channel = str(command.get("channel_id") or "")
        try:
            reply = await commands.answer(
                str(command.get("text") or ""), str(command.get("user_id", "")), channel
            )
        except Exception as exc:  # answered like a click's failure (`failure_notice`)
            log.exception("/posthog failed")
            reply = Reply(text=f":warning: {failure_notice(exc)}")
        await _answer(reply, respond, client, channel)

    app.command(SLASH_COMMAND)(settled(posthog))


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
