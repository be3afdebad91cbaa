"""An alert as a click reaches it: found by the id the click carries, held to the channel it was
posted to, and its message shown anew (chat.update) after something was done with it.

A click carries only an alert id (or a snooze id); everything else comes from the store. Refusals
and failures come back as `ActionError`, whose text is meant for the person who clicked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.model import AlertState
from bot.slack.blocks.alert import alert_update
from bot.store import AlertRecord, Store

log = logging.getLogger(__name__)


class ActionError(Exception):
    """Something to tell the person who acted (ephemerally); the alert stays as it was."""


class AlertAccess:
    def __init__(self, store: Store):
        self.store = store

    async def find(self, alert_id: str, channel_id: str, message_ts: str | None = None) -> AlertRecord:
        """The alert a click refers to, if it exists and the click came from its channel (which every
        click and submission must name). A click can beat the post's answer to the store by a
        moment; its message ts then stands in."""
        if not channel_id:
            raise ActionError("Slack did not say which channel this came from; act on the alert there.")
        record = await asyncio.to_thread(self.store.alert, alert_id) if alert_id else None
        if record is None:
            raise ActionError(UNKNOWN_ALERT)
        if channel_id not in (record.posted_channel, record.channel):
            raise ActionError("This alert was posted in another channel; act on it there.")
        if record.ts is None and message_ts:
            record = replace(record, ts=message_ts, posted_channel=channel_id)
        return record

    async def show(
        self, client: AsyncWebClient, record: AlertRecord, change: Callable[[AlertState], AlertState]
    ) -> bool:
        """Record what happened on the alert and show it in the message (chat.update), built anew
        from the alert's details and its new state; False when the alert has no message of its own
        to show it in (not in Slack yet, or listed in a digest)."""
        state = await asyncio.to_thread(self.store.update_alert_state, record.id, change)
        if not record.ts:
            return False  # the state is kept: a later post or update shows it
        message = alert_update(record.details, state)
        try:
            await client.chat_update(channel=record.posted_channel or record.channel, ts=record.ts, **message)
        except SlackApiError as exc:
            error = exc.response.get("error") or exc.response.status_code
            log.warning("could not update the alert message: %s", error, extra={"alert_id": record.id})
            raise ActionError(f"Done, but Slack would not update the message ({error}).") from None
        return True


UNKNOWN_ALERT = "This alert is unknown to posthog-slack-signals (it may have been removed)."
