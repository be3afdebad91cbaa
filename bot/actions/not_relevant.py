"""Not relevant: the reason someone gives for an alert, kept with it, shown on it, and, with
`feedback_events: true`, captured in PostHog as `signal_feedback` so alert quality can be measured
where the data lives."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.alert_access import ActionError, AlertAccess
from bot.alerts.model import FeedbackShown
from bot.clients.posthog_capture import CaptureError, PostHogCapture
from bot.config.signals_file import SignalsConfig
from bot.slack.ids import FeedbackReason
from bot.store import AlertRecord, Store

log = logging.getLogger(__name__)


class NotRelevant:
    def __init__(
        self, access: AlertAccess, store: Store, config: SignalsConfig, capture: PostHogCapture | None
    ):
        self.access = access
        self.store = store
        self.config = config
        self.capture = capture

    async def alert(self, alert_id: str, channel_id: str) -> AlertRecord:
        """The alert the form asks about, when the click came from its channel."""
        return await self.access.find(alert_id, channel_id)

    async def record(
        self,
        client: AsyncWebClient,
        alert_id: str,
        channel_id: str,
        user_id: str,
        reason: FeedbackReason,
        text: str | None,
    ) -> None:
        record = await self.access.find(alert_id, channel_id)
        text = (text or "").strip()[:2000] or None
        await asyncio.to_thread(self.store.record_feedback, record.id, reason, text, user_id)
        shown = FeedbackShown(by=user_id, reason=reason, text=text)
        try:
            await self.access.show(client, record, lambda state: state.with_feedback(shown))
        except ActionError:  # the reason is kept though Slack does not show it: PostHog hears of it
            await self._tell_posthog(record, user_id, reason, text)
            raise
        await self._tell_posthog(record, user_id, reason, text)

    async def _tell_posthog(
        self, record: AlertRecord, user_id: str, reason: FeedbackReason, text: str | None
    ) -> None:
        """`signal_feedback`, when the signals file asks for it and PostHog is configured."""
        if self.config.feedback_events and self.capture is not None:
            await _capture(self.capture, record, user_id, reason, text)


async def _capture(
    capture: PostHogCapture, record: AlertRecord, user_id: str, reason: FeedbackReason, text: str | None
) -> None:
    details = record.details
    try:
        await capture.capture(
            "signal_feedback",
            distinct_id=details.distinct_id or f"slack:{user_id}",
            properties={
                "alert_id": record.id,
                "signal": record.signal,
                "account": record.account,
                "reason": reason.value,
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
