"""From a decided alert to the alert as it is stored and posted: the summary (Claude's when it is
configured and answers in time, else the template), the details kept with the alert, and the
Block Kit message. Deciding happens before, in bot/decide; nothing here reads the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.alerts.model import AlertDetails, AlertFacts
from bot.alerts.summary_template import template_summary
from bot.ops.metrics import Metrics
from bot.slack.blocks.alert import alert_message
from bot.store.records import NewAlert

if TYPE_CHECKING:
    from bot.alerts.summary_claude import Summarizer
    from bot.decide.pipeline import AlertPlan


class Composer:
    def __init__(self, metrics: Metrics, summarizer: Summarizer | None = None):
        self.metrics = metrics
        self.summarizer = summarizer

    async def details(self, facts: AlertFacts) -> AlertDetails:
        """The alert's details, with Claude's summary when it writes one in time."""
        written = await self.summarizer.write(facts) if self.summarizer is not None else None
        self.metrics.summaries.labels(kind="claude" if written else "template").inc()
        summary = written.text() if written else template_summary(facts)
        return AlertDetails.of(facts, summary, written)

    async def compose(self, plan: AlertPlan) -> NewAlert:
        details = await self.details(plan.facts)
        return NewAlert(details, alert_message(details), plan.cooldown_s, plan.reports_snooze)
