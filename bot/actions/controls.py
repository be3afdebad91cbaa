"""What the alert's controls do: create exactly one CRM task, snooze and unsnooze the account, record
why an alert was not relevant, and update the message in place.

A click carries only an alert id (or a snooze id); everything else comes from the store, and a click
is honoured only in the channel the alert was posted to (for a snooze: the alert it was made on).
Failures come back as `ControlError`, whose text is meant for the clicker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions import task_content as crm
from bot.alerts.model import AlertState, FeedbackShown, SnoozeShown, TaskShown
from bot.clients.hubspot import HubSpot, HubSpotError, HubSpotTask
from bot.clients.posthog_capture import CaptureError, PostHogCapture
from bot.config.signals_file import SignalsConfig
from bot.slack import ids
from bot.slack.blocks.alert import alert_update, mention, slack_day
from bot.slack.mrkdwn import escape, plain
from bot.store import AlertRecord, Store
from bot.store.account_state import Snooze
from bot.store.alert_actions import NewTask, TaskRecord

log = logging.getLogger(__name__)
SNOOZE_SECONDS = {"1d": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
TASK_BUSY_S = 60.0  # an attempt older than this is presumed dead and may be taken over


class ControlError(Exception):
    """Something to tell the clicker (ephemerally); the alert stays as it was."""


class AlertControls:
    def __init__(
        self,
        store: Store,
        config: SignalsConfig,
        hubspot: HubSpot | None,
        capture: PostHogCapture | None,
        recovery_wait_s: float = 10.0,
    ):
        self.store = store
        self.recovery_wait_s = recovery_wait_s
        self.config = config
        self.hubspot = hubspot
        self.capture = capture

    async def alert(self, alert_id: str, channel_id: str, message_ts: str | None = None) -> AlertRecord:
        """The alert a click refers to, if it exists and the click came from its channel (which every
        click and submission must name). A click can beat the post's answer to the store by a
        moment; its message ts then stands in."""
        if not channel_id:
            raise ControlError("Slack did not say which channel this came from; act on the alert there.")
        record = await asyncio.to_thread(self.store.alert, alert_id) if alert_id else None
        if record is None:
            raise ControlError("This alert is unknown to posthog-slack-signals (it may have been removed).")
        if channel_id not in (record.posted_channel, record.channel):
            raise ControlError("This alert was posted in another channel; act on it there.")
        if record.ts is None and message_ts:
            record = replace(record, ts=message_ts, posted_channel=channel_id)
        return record

    # -- CRM task ----------------------------------------------------------------------------------
    async def create_task(
        self, client: AsyncWebClient, alert_id: str, user_id: str, channel_id: str
    ) -> str | None:
        """Create the alert's task unless it exists or is being created; returns a note for the
        clicker, or None when the updated message says it all."""
        record = await self.alert(alert_id, channel_id)
        details = record.details
        new = NewTask(
            requested_by=user_id,
            crm="hubspot" if self.hubspot else "store",
            subject=crm.subject(details),
            body=crm.body(details),
            due_at=crm.due_date(time.time(), self.config.crm).timestamp(),
            owner=crm.owner(details, self.config.crm, None),
        )
        start = await asyncio.to_thread(self.store.begin_task, record.id, new, TASK_BUSY_S)
        if start.kind == "done":
            await self._show_task(client, record, start.task.requested_by, start.task.url, start.task.crm)
            return f"A task already exists (created by {mention(start.task.requested_by)})."
        if start.kind == "busy":
            return f"{mention(start.task.requested_by)} is creating the task right now."
        if self.hubspot is None:
            await asyncio.to_thread(self.store.task_created, record.id, None, None)
            await self._show_task(client, record, user_id, None, start.task.crm)
            return None
        try:
            found = await self._find_earlier_task(record, start.task) if start.kind == "recover" else None
            task = found or await self._create_in_hubspot(record, start.task)
        except HubSpotError as exc:
            uncertain = exc.status is None  # no answer: the task may exist, so look before creating again
            await asyncio.to_thread(self.store.task_failed, record.id, exc.explain(), uncertain)
            log.warning("CRM task failed: %s", exc.explain(), extra={"alert_id": record.id})
            # Escaped for Slack: the explanation quotes what HubSpot answered.
            raise ControlError(escape(exc.explain()) + " The button still works: try again.") from None
        except BaseException:
            await asyncio.to_thread(self.store.task_failed, record.id, "interrupted", True)
            raise
        await asyncio.to_thread(self.store.task_created, record.id, task.id, task.url)
        await self._show_task(client, record, user_id, task.url, start.task.crm)
        return None

    async def _find_earlier_task(self, record: AlertRecord, task: TaskRecord) -> HubSpotTask | None:
        """After an attempt that got no answer, the task may exist. HubSpot's search sees new records a
        few seconds late, so look, and look once more after a pause, before creating another."""
        assert self.hubspot is not None
        marker = crm.marker(record.id)
        found = await self.hubspot.find_task(marker, subject=task.subject)
        if found is None and self.recovery_wait_s > 0:
            await asyncio.sleep(self.recovery_wait_s)
            found = await self.hubspot.find_task(marker, subject=task.subject)
        return found

    async def _create_in_hubspot(self, record: AlertRecord, task: TaskRecord) -> HubSpotTask:
        assert self.hubspot is not None
        domain = record.details.domain
        company = await self.hubspot.find_company(domain) if domain else None
        owner = crm.owner(record.details, self.config.crm, company.owner_id if company else None)
        return await self.hubspot.create_task(
            subject=task.subject,
            body=task.body,
            due=crm.due_date(time.time(), self.config.crm),
            priority=crm.priority(record.details),
            owner_id=owner,
            company_id=company.id if company else None,
            marker=crm.marker(record.id),
        )

    async def _show_task(
        self, client: AsyncWebClient, record: AlertRecord, by: str, url: str | None, kind: str
    ) -> None:
        shown = TaskShown(by=by, url=url, crm=kind)
        await self._update(client, record, lambda state: state.with_task(shown))

    # -- snooze ------------------------------------------------------------------------------------
    async def snooze(
        self,
        client: AsyncWebClient,
        alert_id: str,
        choice: str,
        user_id: str,
        channel_id: str,
        message_ts: str | None = None,
    ) -> None:
        if choice not in SNOOZE_SECONDS:
            raise ControlError("Unknown snooze length; choose 1, 7 or 30 days.")
        record = await self.alert(alert_id, channel_id, message_ts)
        until = time.time() + SNOOZE_SECONDS[choice]
        snooze_id = await asyncio.to_thread(self.store.snooze, record.account, until, user_id, record.id)
        shown = SnoozeShown(id=snooze_id, by=user_id, until=until)
        await self._update(client, record, lambda state: state.snoozed(shown))

    async def unsnooze(self, client: AsyncWebClient, snooze_id: str, user_id: str, channel_id: str) -> str:
        """End a snooze, when asked from the channel of the alert it was made on. A snooze made on no
        alert belongs to no channel: it is not ended from Slack, it runs out."""
        snooze = await asyncio.to_thread(self.store.get_snooze, snooze_id) if snooze_id else None
        if snooze is None or snooze.until <= time.time():
            raise ControlError("That snooze is already over.")
        if not snooze.alert_id:
            raise ControlError(
                "This snooze was not made on an alert, so no channel can end it; "
                f"it runs out {slack_day(snooze.until)}."
            )
        record = await self.alert(snooze.alert_id, channel_id)
        ended = await asyncio.to_thread(self.store.unsnooze, snooze_id)
        if ended is None:
            raise ControlError("That snooze is already over.")
        if record.state.snooze is not None and record.state.snooze.id == snooze_id:
            await self._update(client, record, lambda state: state.unsnoozed_by(user_id))
        return f"Alerts for {escape(plain(ended.account, 300))} are back on."

    def active_snoozes(self, channel_id: str) -> list[Snooze]:
        """The running snoozes `/posthog snoozes` shows in this channel."""
        return self.store.active_snoozes(time.time(), channel_id)

    # -- not relevant ------------------------------------------------------------------------------
    async def not_relevant(
        self,
        client: AsyncWebClient,
        alert_id: str,
        channel_id: str,
        user_id: str,
        reason: str,
        text: str | None,
    ) -> None:
        if reason not in ids.FEEDBACK_REASONS:
            raise ControlError("Choose one of the reasons.")
        record = await self.alert(alert_id, channel_id)
        text = (text or "").strip()[:2000] or None
        await asyncio.to_thread(self.store.record_feedback, record.id, reason, text, user_id)
        shown = FeedbackShown(by=user_id, reason=reason, text=text)
        await self._update(client, record, lambda state: state.with_feedback(shown))
        if self.config.feedback_events and self.capture is not None:
            details = record.details
            try:
                await self.capture.capture(
                    "signal_feedback",
                    distinct_id=details.distinct_id or f"slack:{user_id}",
                    properties={
                        "alert_id": record.id,
                        "signal": record.signal,
                        "account": record.account,
                        "reason": reason,
                        "comment": text,
                        "icp_score": details.score.value,
                        "slack_user": user_id,
                        "source_event": details.event_name,
                        "source_event_uuid": record.event_uuid,
                    },
                    groups={"company": details.domain} if details.domain else None,
                )
            except CaptureError as exc:  # the reason is stored either way
                log.warning("signal_feedback not captured: %s", exc.explain(), extra={"alert_id": record.id})

    # -- the message -------------------------------------------------------------------------------
    async def _update(
        self, client: AsyncWebClient, record: AlertRecord, change: Callable[[AlertState], AlertState]
    ) -> None:
        """Record what happened on the alert and show it in the message (chat.update), built anew
        from the alert's details and its new state."""
        state = await asyncio.to_thread(self.store.update_alert_state, record.id, change)
        if not record.ts:
            return  # not in Slack yet: the post will not show it, but the state is kept
        message = alert_update(record.details, state)
        try:
            await client.chat_update(channel=record.posted_channel or record.channel, ts=record.ts, **message)
        except SlackApiError as exc:
            error = exc.response.get("error") or exc.response.status_code
            log.warning("could not update the alert message: %s", error, extra={"alert_id": record.id})
            raise ControlError(f"Done, but Slack would not update the message ({error}).") from None
