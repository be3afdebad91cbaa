"""Snooze and Unsnooze: hold back every alert for an account until a chosen time, from the alert's
Snooze select, and end it again from the alert or from `/posthog snoozes`, only in the channel of
the alert the snooze was made on, or from the Home tab by that alert's owner."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.alert_access import ActionError, AlertAccess
from bot.alerts.model import SnoozeShown
from bot.slack.blocks.alert import slack_day
from bot.slack.ids import SnoozeChoice
from bot.slack.mrkdwn import escape, plain
from bot.store import AlertRecord, Store
from bot.store.account_state import Snooze

OVER = "That snooze is already over."
NOT_OWNER = (
    "Only the owner of the alert this snooze was made on can end it here; end it from the alert's channel."
)


@dataclass(frozen=True, slots=True)
class InChannel:
    """Unsnooze clicked on an alert or on `/posthog snoozes`: held, like every click on a message,
    to the channel of the alert the snooze was made on."""

    channel_id: str


@dataclass(frozen=True, slots=True)
class AsOwner:
    """Unsnooze clicked on the Home tab, whose clicks name no channel: allowed to the owner of the
    alert the snooze was made on, as the store says (not the click), which is exactly whom the tab
    lists it for. Anyone else ends it in that alert's channel."""


class Snoozes:
    def __init__(self, access: AlertAccess, store: Store):
        self.access = access
        self.store = store

    async def snooze(
        self,
        client: AsyncWebClient,
        alert_id: str,
        choice: SnoozeChoice,
        user_id: str,
        channel_id: str,
        message_ts: str | None = None,
    ) -> None:
        record = await self.access.find(alert_id, channel_id, message_ts)
        until = time.time() + choice.seconds
        snooze_id = await asyncio.to_thread(self.store.snooze, record.account, until, user_id, record.id)
        shown = SnoozeShown(id=snooze_id, by=user_id, until=until)
        await self.access.show(client, record, lambda state: state.snoozed(shown))

    async def unsnooze(
        self, client: AsyncWebClient, snooze_id: str, user_id: str, where: InChannel | AsOwner
    ) -> str:
        """End a running snooze when `where` lets `user_id` end it; returns what to tell them (the
        caller decides where: ephemerally, or on top of the Home tab)."""
        snooze = await asyncio.to_thread(self.store.get_snooze, snooze_id) if snooze_id else None
        if snooze is None or snooze.until <= time.time():
            raise ActionError(OVER)
        record = await self._made_on(snooze, user_id, where)
        ended = await asyncio.to_thread(self.store.unsnooze, snooze_id)
        if ended is None:
            raise ActionError(OVER)
        if record.state.snooze is not None and record.state.snooze.id == snooze_id:
            await self.access.show(client, record, lambda state: state.unsnoozed_by(user_id))
        return f"Alerts for {escape(plain(ended.account, 300))} are back on."

    async def _made_on(self, snooze: Snooze, user_id: str, where: InChannel | AsOwner) -> AlertRecord:
        """The alert the snooze was made on, when `where` allows `user_id` to end it. A snooze made on
        no alert belongs to no channel and no owner: it is not ended from Slack, it runs out."""
        if isinstance(where, AsOwner):
            record = await asyncio.to_thread(self.store.alert, snooze.alert_id) if snooze.alert_id else None
            if record is None or record.details.owner != user_id:
                raise ActionError(NOT_OWNER)
            return record
        if not snooze.alert_id:
            raise ActionError(
                "This snooze was not made on an alert, so no channel can end it; "
                f"it runs out {slack_day(snooze.until)}."
            )
        return await self.access.find(snooze.alert_id, where.channel_id)

    async def running(self, channel_id: str) -> list[Snooze]:
        """The running snoozes made on the alerts of this channel (`/posthog snoozes`)."""
        return await asyncio.to_thread(self.store.active_snoozes, time.time(), channel_id)
