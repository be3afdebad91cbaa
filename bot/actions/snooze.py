"""Snooze and Unsnooze: hold back every alert for an account until a chosen time, from the alert's
Snooze select, and end it again from the alert or from `/posthog snoozes`, only in the channel of
the alert the snooze was made on, or from the Home tab by that alert's owner."""

from __future__ import annotations

import asyncio
import time

from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.alert_access import UNKNOWN_ALERT, ActionError, AlertAccess
from bot.alerts.model import SnoozeShown
from bot.slack.blocks.alert import slack_day
from bot.slack.ids import SnoozeChoice
from bot.slack.mrkdwn import escape, plain
from bot.store import AlertRecord, Store
from bot.store.account_state import Snooze

OVER = "That snooze is already over."


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

    async def unsnooze(self, client: AsyncWebClient, snooze_id: str, user_id: str, channel_id: str) -> str:
        """End a snooze, when asked from the channel of the alert it was made on. A snooze made on no
        alert belongs to no channel: it is not ended from Slack, it runs out."""
        snooze = await asyncio.to_thread(self.store.get_snooze, snooze_id) if snooze_id else None
        if snooze is None or snooze.until <= time.time():
            raise ActionError(OVER)
        if not snooze.alert_id:
            raise ActionError(
                "This snooze was not made on an alert, so no channel can end it; "
                f"it runs out {slack_day(snooze.until)}."
            )
        record = await self.access.find(snooze.alert_id, channel_id)
        return await self._end(client, record, snooze_id, user_id)

    async def unsnooze_as_owner(self, client: AsyncWebClient, snooze_id: str, user_id: str) -> str:
        """End a snooze from the Home tab, whose clicks name no channel: allowed to the owner of the
        alert it was made on, as the store says (not the click), which is exactly whom the tab lists
        it for. Anyone else ends it in that alert's channel."""
        snooze = await asyncio.to_thread(self.store.get_snooze, snooze_id) if snooze_id else None
        if snooze is None or snooze.until <= time.time():
            raise ActionError(OVER)
        owner = await asyncio.to_thread(self.store.alert_owner, snooze.alert_id) if snooze.alert_id else None
        if owner is None or owner != user_id:
            raise ActionError(
                "Only the owner of the alert this snooze was made on can end it here; "
                "end it from the alert's channel."
            )
        record = await asyncio.to_thread(self.store.alert, snooze.alert_id)
        if record is None:
            raise ActionError(UNKNOWN_ALERT)
        return await self._end(client, record, snooze_id, user_id)

    async def _end(self, client: AsyncWebClient, record: AlertRecord, snooze_id: str, user_id: str) -> str:
        ended = await asyncio.to_thread(self.store.unsnooze, snooze_id)
        if ended is None:
            raise ActionError(OVER)
        if record.state.snooze is not None and record.state.snooze.id == snooze_id:
            await self.access.show(client, record, lambda state: state.unsnoozed_by(user_id))
        return f"Alerts for {escape(plain(ended.account, 300))} are back on."

    async def running(self, channel_id: str) -> list[Snooze]:
        """The running snoozes made on the alerts of this channel (`/posthog snoozes`)."""
        return await asyncio.to_thread(self.store.active_snoozes, time.time(), channel_id)
