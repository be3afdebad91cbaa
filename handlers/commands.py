"""`/posthog`: acknowledged at once, answered on the command's response_url (ephemeral)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot import ids
from bot.mrkdwn import escape
from bot.panels import snoozes_list

if TYPE_CHECKING:
    from bot.services import Services

USAGE = (
    "*`/posthog` commands*\n"
    "• `/posthog snoozes`: accounts whose alerts are snoozed, with an Unsnooze button each\n"
    "• `/posthog help`: this message"
)


def register(app: AsyncApp, services: Services) -> None:
    controls = services.controls

    async def posthog(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        words = str(command.get("text") or "").split()
        subcommand = words[0].lower() if words else "help"
        if subcommand == "snoozes":
            snoozes = await asyncio.to_thread(controls.active_snoozes)
            await respond(**snoozes_list(snoozes), response_type="ephemeral", replace_original=False)
            return
        prefix = "" if subcommand == "help" else f"Unknown command `{escape(subcommand[:40])}`.\n"
        await respond(text=prefix + USAGE, response_type="ephemeral")

    app.command(ids.SLASH_COMMAND)(posthog)
