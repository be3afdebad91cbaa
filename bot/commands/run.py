"""What `/posthog` does: every subcommand, from the text typed to the reply. Funnels from PostHog's
Query API (with a chart when shared), test events with a dry run of the pipeline, identify and alias,
and the channel's snoozes. Replies are data for the handler to send; PostHog's errors become
sentences that say what to fix.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bot.actions.snooze import Snoozes
from bot.clients.posthog_api import PostHogApi, PostHogApiError
from bot.clients.posthog_capture import CaptureError, PostHogCapture
from bot.clients.posthog_queries import FunnelStep
from bot.commands.date_ranges import DEFAULT_RANGE, DateRange
from bot.commands.parser import (
    Alias,
    Command,
    CommandError,
    Funnel,
    Help,
    Identify,
    Lint,
    ListSnoozes,
    SavedFunnel,
    SendTestEvent,
    Stats,
    Why,
    parse,
)
from bot.config.signals_file import SignalsConfig
from bot.decide.markers import TEST_COMMAND_MARKERS
from bot.decide.outcomes import Outcome
from bot.decide.pipeline import Pipeline
from bot.ingest.webhook_body import WebhookBody
from bot.slack.blocks.funnel import StepRow, breakdown_blocks, fallback_text, funnel_blocks
from bot.slack.blocks.snoozes import snoozes_list
from bot.slack.mrkdwn import escape, escape_clip, escape_line, inline_code, one_line

log = logging.getLogger(__name__)
EVENT_NAMES_TTL_S = 300.0

USAGE = f"""*`/posthog` commands* (answers are only for you; add `--share` to post in the channel)
• `/posthog funnel signup_started > onboarding_completed > invite_sent 30d by plan`: a funnel \
(ranges {", ".join(DateRange)}; default {DEFAULT_RANGE}; quote steps with spaces: "sign up")
• `/posthog funnel AbCd1234` or an insight URL: a saved funnel
• `/posthog test signup_completed u_42 plan=team seats=3`: capture a test event; see the alert it makes
• `/posthog identify u_42 plan=team`: set person properties
• `/posthog alias anon-123 u_42`: link two ids
• `/posthog snoozes`: accounts snoozed from this channel's alerts, with Unsnooze
• `/posthog why acme.com` (or an email or distinct_id): the account's latest events, what each \
signal decided and why, its score now, and any snooze or cooldown in force
• `/posthog stats 30d`: per signal, alerts, tasks, snoozes, not relevant, and precision (default 7d)
• `/posthog lint`: the tracking plan: signals listening to events PostHog never received, names that \
break snake_case, near-duplicates, events gone quiet, and events no signal listens to"""


@dataclass
class Reply:
    text: str
    blocks: list[dict[str, Any]] | None = None
    share: bool = False
    chart: bytes | None = None  # a PNG to upload with a shared answer
    chart_title: str = ""


def _problem(message: str) -> Reply:
    """A refusal or an error; escaped, because explanations quote what PostHog answered."""
    return Reply(text=f":warning: {escape(message)}")


class PostHogCommands:
    def __init__(
        self,
        config: SignalsConfig,
        api: PostHogApi | None,
        capture: PostHogCapture | None,
        pipeline: Pipeline | None,
        snoozes: Snoozes | None = None,
    ):
        self.config = config
        self.api = api
        self.capture = capture
        self.pipeline = pipeline
        self.snoozes = snoozes
        self._event_names: tuple[float, list[str]] | None = None

    async def answer(self, text: str, user_id: str, channel_id: str) -> Reply:
        """The reply to `/posthog <text>` typed by `user_id` in `channel_id`: usage help for bad input."""
        try:
            command = parse(text)
        except CommandError as exc:
            return Reply(text=f":warning: {escape(str(exc))}\n\n{USAGE}")
        return await self.run(command, user_id, channel_id)

    async def run(self, command: Command, user_id: str, channel_id: str) -> Reply:
        if isinstance(command, Help):
            return Reply(text=USAGE)
        if isinstance(command, ListSnoozes):
            return await self._snoozes(channel_id)
        if isinstance(command, Funnel | SavedFunnel):
            return await self._funnel(command)
        if isinstance(command, Why):
            return await self._why(command)
        if isinstance(command, Stats):
            return await self._stats(command)
        if isinstance(command, Lint):
            return await self._lint(command)
        if isinstance(command, SendTestEvent | Identify | Alias):
            if user_id not in self.config.access.writers:
                return _problem(
                    "Only the people listed under `access.writers` in the signals file may write to PostHog "
                    "from Slack. Nothing was sent."
                )
            if self.capture is None:
                return _problem("POSTHOG_PROJECT_API_KEY is not set, so nothing can be sent to PostHog.")
            try:
                if isinstance(command, SendTestEvent):
                    return await self._test(command, user_id)
                if isinstance(command, Identify):
                    await self.capture.set_person(command.distinct_id, command.properties)
                    names = ", ".join(inline_code(k, 60) for k in command.properties)
                    return Reply(
                        text=f"Set {names} on {inline_code(command.distinct_id, 100)} in PostHog.",
                        share=command.share,
                    )
                await self.capture.alias(command.distinct_id, command.alias)
                alias, target = inline_code(command.alias, 100), inline_code(command.distinct_id, 100)
                return Reply(text=f"Linked {alias} to {target} in PostHog.", share=command.share)
            except CaptureError as exc:
                return _problem(exc.explain())
        return Reply(text=USAGE)

    # -- why ---------------------------------------------------------------------------------------
    async def _why(self, command: Why) -> Reply:
        """The account's story; anyone may ask (it is answered to them alone unless shared)."""
        from bot.commands.why import account_story, target_of
        from bot.slack.blocks.why import why_message

        if self.pipeline is None:
            return _problem("The ledger is not available here.")
        pipeline = self.pipeline
        story = await account_story(target_of(command.target), self.config, pipeline.store, pipeline.enricher)
        text, blocks = why_message(story)
        return Reply(text=text, blocks=blocks, share=command.share)

    async def _stats(self, command: Stats) -> Reply:
        """Each signal's alerts and what people did with them; anyone may ask."""
        from bot.commands.stats_report import failing_queries
        from bot.slack.blocks.stats import stats_message

        if self.pipeline is None:
            return _problem("The ledger is not available here.")
        store = self.pipeline.store
        since = time.time() - command.days * 86400
        stats = await asyncio.to_thread(store.signal_stats, since)
        failing = failing_queries(await asyncio.to_thread(store.last_query_runs), self.config)
        text, blocks = stats_message(stats, command.days, failing)
        reply = Reply(text=text, blocks=blocks, share=command.share)
        if command.share and stats:
            from bot.commands.charts import stats_png  # matplotlib loads on the first chart

            title = f"Signals, last {command.days} days"
            reply.chart = await asyncio.to_thread(stats_png, title, stats)
            reply.chart_title = title
        return reply

    async def _lint(self, command: Lint) -> Reply:
        """The tracking-plan report; anyone may ask. PostHog's errors say what to fix."""
        from bot.lint import build_lint_report, explain_failure
        from bot.slack.blocks.lint import lint_message

        if self.api is None:
            return _problem(
                "lint reads PostHog's event definitions: set POSTHOG_PERSONAL_API_KEY (scopes "
                "event_definition:read, and query:read for volumes) and POSTHOG_PROJECT_ID."
            )
        try:
            report = await build_lint_report(self.api, self.config, time.time())
        except PostHogApiError as exc:
            return _problem(explain_failure(exc))
        text, blocks = await asyncio.to_thread(lint_message, report)  # up to 10,000 names a list
        return Reply(text=text, blocks=blocks, share=command.share)

    # -- snoozes -----------------------------------------------------------------------------------
    async def _snoozes(self, channel_id: str) -> Reply:
        """The running snoozes made on this channel's alerts, each with Unsnooze; only for the asker."""
        running = await self.snoozes.running(channel_id) if self.snoozes is not None else []
        text, blocks = snoozes_list(running)
        return Reply(text=text, blocks=blocks)

    # -- funnels -----------------------------------------------------------------------------------
    async def _funnel(self, command: Funnel | SavedFunnel) -> Reply:
        if self.api is None:
            return _problem(
                "Funnels need POSTHOG_PERSONAL_API_KEY (scopes query:read, insight:read, "
                "event_definition:read) and POSTHOG_PROJECT_ID."
            )
        try:
            if isinstance(command, SavedFunnel):
                name, result, _ = await self.api.saved_funnel(command.short_id)
                title, url, range_label = (
                    name or command.short_id,
                    self.api.insight_url(command.short_id),
                    None,
                )
                steps_asked: list[str] = []
            else:
                result = await self.api.funnel(list(command.steps), command.date_from, command.breakdown)
                title = " → ".join(command.steps) + (f" by {command.breakdown}" if command.breakdown else "")
                url = self.api.funnel_url(list(command.steps), command.date_from, command.breakdown)
                range_label = command.range_label
                steps_asked = list(command.steps)
        except PostHogApiError as exc:
            return _problem(exc.explain())
        breakdowns = getattr(result, "breakdowns", None) or []
        if breakdowns:
            series = [(str(value), _rows(steps)) for value, steps in breakdowns]
            blocks = breakdown_blocks(f"Funnel: {title}", series, range_label, url)
            reply = Reply(text=escape_line(f"Funnel: {title}", 300), blocks=blocks, share=command.share)
            if command.share:  # the five largest groups, as grouped bars
                largest = sorted(series, key=lambda item: -(item[1][0].count if item[1] else 0))[:5]
                chart_series = [(value, [(r.name, r.count) for r in rows]) for value, rows in largest if rows]
                from bot.commands.charts import funnel_breakdown_png

                reply.chart = await asyncio.to_thread(
                    funnel_breakdown_png, f"Funnel: {title}", chart_series, range_label
                )
                reply.chart_title = f"Funnel: {title}"[:200]
            return reply
        rows = _rows(result.steps)
        note = await self._did_you_mean(steps_asked, rows)
        blocks = funnel_blocks(f"Funnel: {title}", rows, range_label, url, note)
        reply = Reply(text=fallback_text(f"Funnel: {title}", rows), blocks=blocks, share=command.share)
        if command.share and rows:
            # Rendering takes tens of milliseconds of CPU: not on the event loop.
            from bot.commands.charts import funnel_png  # matplotlib loads on the first chart, not at start-up

            reply.chart = await asyncio.to_thread(
                funnel_png, f"Funnel: {title}", [(r.name, r.count) for r in rows], range_label
            )
            reply.chart_title = f"Funnel: {title}"[:200]
        return reply

    async def _did_you_mean(self, asked: list[str], rows: list[StepRow]) -> str | None:
        """For steps nobody reached: the closest event names PostHog knows (typos are common)."""
        if not asked or self.api is None or all(r.count for r in rows):
            return None
        try:
            known = await self._known_events()
        except PostHogApiError:
            return None
        hints = []
        for step in asked:
            if step in known:
                continue
            close = difflib.get_close_matches(step, known, n=3, cutoff=0.6)
            # Unescaped (the funnel's context escapes its note); a backtick would end the code span.
            hint = f"`{_code(step)}` is not an event PostHog has seen"
            if close:
                hint += "; did you mean " + " or ".join(f"`{_code(name)}`" for name in close) + "?"
            hints.append(hint)
        return ". ".join(hints) or None

    async def _known_events(self) -> list[str]:
        assert self.api is not None
        cached = self._event_names
        if cached is None or time.monotonic() - cached[0] > EVENT_NAMES_TTL_S:
            cached = (time.monotonic(), await self.api.event_names())
            self._event_names = cached
        return cached[1]

    # -- test events -------------------------------------------------------------------------------
    async def _test(self, command: SendTestEvent, user_id: str) -> Reply:
        assert self.capture is not None
        distinct_id = command.distinct_id or f"slack-test-{user_id}"
        properties = {**command.properties, **TEST_COMMAND_MARKERS}
        event_uuid = await self.capture.capture(command.event, distinct_id, properties)
        lines = [
            f":test_tube: Captured {inline_code(command.event, 100)} for {inline_code(distinct_id, 100)} "
            f"(uuid `{event_uuid}`) with `test: true`: when PostHog sends it back, "
            "it is recorded, never alerted."
        ]
        lines += await self._dry_run(command.event, distinct_id, properties, event_uuid)
        return Reply(text="\n".join(lines), share=command.share)

    async def _dry_run(
        self, event: str, distinct_id: str, properties: dict[str, Any], event_uuid: str
    ) -> list[str]:
        """What the pipeline would do with this event, without storing or posting anything."""
        if self.pipeline is None:
            return []
        body = WebhookBody.model_validate(
            {
                "event": {
                    "uuid": event_uuid or str(uuid.uuid4()),
                    "event": event,
                    "distinct_id": distinct_id,
                    "properties": properties,
                }
            }
        )
        decision = await self.pipeline.evaluate(body, time.time(), f"dry-run-{event_uuid}", as_if_real=True)
        lines = ["*Dry run* (nothing was posted):"]
        routes = {plan.facts.signal_name: plan.facts.route for plan in decision.alerts}
        for item in decision.entry.signals:
            if item.outcome is Outcome.ALERTED:
                routed = routes.get(item.signal or "")
                where = (
                    f"<#{routed.channel}>"
                    if routed and routed.channel.startswith(("C", "G"))
                    else "its channel"
                )
                owner = f", owner `{routed.owner}`" if routed and routed.owner else ""  # named, not pinged
                lines.append(
                    f"• *{escape(str(item.signal))}*: would alert {where} (ICP {item.score}/100{owner})"
                )
            else:
                label = f"*{escape(item.signal)}*: " if item.signal else ""
                lines.append(f"• {label}{item.outcome.label}: {escape_clip(item.reason, 300)}")
        if decision.entry.account:
            lines.append(f"Account: {inline_code(decision.entry.account, 200)}")
        return lines


def _rows(steps: list[FunnelStep]) -> list[StepRow]:
    return [StepRow(s.label, int(s.count), s.median_conversion_time) for s in steps]


def _code(name: str) -> str:
    """An event name for inside a code span, still unescaped: on one line, no backtick, bounded."""
    return one_line(name).replace("`", "'")[:100]
