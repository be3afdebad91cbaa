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
SHOW_TRIES = 5  # times a change is made anew from a state others changed meanwhile, before it is forced


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
        self,
        client: AsyncWebClient,
        record: AlertRecord,
        change: Callable[[AlertState], AlertState],
        swept: bool = False,
    ) -> bool:
        """Record what happened on the alert and show it in its message (chat.update, built anew from
        its details and its new state); False when the alert has no message of its own (not in Slack
        yet, or listed in a digest).

        `swept` (an automatic task's outcome): shown first, then recorded, and only if the state it
        was made from is still the one recorded (else made anew from the newer state and shown
        again), so the state never says more than the message shows: a process killed in between,
        or a Slack that did not answer, leaves the outcome unrecorded for the automatic-task sweep to
        show. Of several processes showing it at once, the last to record also showed the newest.
        Otherwise recorded first, then shown, and shown again while a newer state was recorded
        meanwhile."""
        if not record.ts:
            await asyncio.to_thread(self.store.update_alert_state, record.id, change)
            return False  # the state is kept: a later post or update shows it
        if swept:
            for _ in range(SHOW_TRIES):
                current = await asyncio.to_thread(self.store.alert, record.id)
                if current is None:
                    return False
                state = change(current.state).model_copy(update={"version": current.state.version + 1})
                await self._update_message(client, record, state, change)
                if await asyncio.to_thread(self.store.record_alert_state, record.id, state):
                    return True
        # Recorded first, then shown: as every other action does, and a swept change others kept
        # changing all along. Another process may have recorded a newer state and shown it before
        # this update reached Slack: then this one shows that newer state too, so the message ends
        # with the newest, whichever update Slack applied last.
        state = await asyncio.to_thread(self.store.update_alert_state, record.id, change)
        for _ in range(SHOW_TRIES):
            await self._update_message(client, record, state, None)
            latest = await asyncio.to_thread(self.store.alert, record.id)
            if latest is None or latest.state.version <= state.version:
                break
            state = latest.state
        return True

    async def _update_message(
        self,
        client: AsyncWebClient,
        record: AlertRecord,
        state: AlertState,
        unrecorded: Callable[[AlertState], AlertState] | None,
    ) -> None:
        """chat.update the alert to show `state`. A change not yet recorded (`unrecorded`) is recorded
        when Slack refuses the update (trying again would not show it either), not when Slack did not
        answer (the sweep shows it)."""
        channel = record.posted_channel or record.channel
        try:
            await client.chat_update(channel=channel, ts=record.ts, **alert_update(record.details, state))
        except SlackApiError as exc:
            error = exc.response.get("error") or exc.response.status_code
            if unrecorded is not None:
                await asyncio.to_thread(self.store.update_alert_state, record.id, unrecorded)
            log.warning("could not update the alert message: %s", error, extra={"alert_id": record.id})
            raise ActionError(f"Done, but Slack would not update the message ({error}).") from None
        except Exception as exc:  # no answer: the message may or may not show it
            name = type(exc).__name__
            log.warning("could not update the alert message: %s", name, extra={"alert_id": record.id})
            raise ActionError(f"Done, but Slack did not answer the message update ({name}).") from None


UNKNOWN_ALERT = "This alert is unknown to posthog-slack-signals (it may have been removed)."
