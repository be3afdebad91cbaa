"""Block Kit for the scheduled report: every signal's stats over the period (as `/posthog stats` shows
them), the query signals whose latest run failed, and the tracking plan's health in a few lines. Pure;
signal names, PostHog's messages and event names are escaped like everything else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, HeaderBlock, SectionBlock

from bot.commands.stats_report import hint, precision_text
from bot.slack.blocks.alert import SECTION_LIMIT, TEXT_FALLBACK_LIMIT, mrkdwn, slack_date
from bot.slack.blocks.stats import period_words, stats_body
from bot.slack.ids import METADATA_EVENT_TYPE
from bot.slack.mrkdwn import escape_line, plain, whole_lines
from bot.store.messages import REPORT_SIGNAL
from bot.store.query_runs import QueryRun
from bot.store.stats import SignalStats

MAX_SIGNALS = 35  # sections: with the header, dates, hints, failures and the tracking plan, under 50
MAX_PLAN_LINES = 8


@dataclass(frozen=True)
class Report:
    """What one report says: the period's stats, failing queries and the tracking plan's summary
    (`plan` is None when the plan could not be read; `plan_problem` then says why)."""

    start: float
    end: float
    days: int
    stats: Sequence[SignalStats]
    failing: Sequence[QueryRun] = ()
    plan: Sequence[str] | None = None
    plan_problem: str | None = None
    next_at: float | None = None


def _plan_section(report: Report) -> SectionBlock:
    if report.plan is None:
        said = escape_line(report.plan_problem or "PostHog's event definitions were not read.", 1000)
        return SectionBlock(text=mrkdwn(f"*Tracking plan*\n{said}"))
    # Each line kept on a line of its own (event names may hold line breaks or bidi overrides).
    lines = [f"• {escape_line(line, 330)}" for line in report.plan[:MAX_PLAN_LINES]] or [
        "• No problems found."
    ]
    if report.plan:
        lines.append("_`/posthog lint` shows the whole report._")
    return SectionBlock(text=mrkdwn(whole_lines("*Tracking plan*", lines, SECTION_LIMIT)))


def report_blocks(report: Report) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=plain(f"Signals report, last {period_words(report.days)}", 150))]
    span = f"{slack_date(report.start)} – {slack_date(report.end)}"
    alerts = sum(s.alerts for s in report.stats)
    tasks = sum(s.tasks for s in report.stats)
    blocks.append(ContextBlock(elements=[mrkdwn(f"{span} · {alerts} alerts · {tasks} with a task")]))
    blocks += stats_body(report.stats, report.days, report.failing, MAX_SIGNALS)
    blocks += [DividerBlock(), _plan_section(report)]
    if report.next_at is not None:
        blocks.append(ContextBlock(elements=[mrkdwn(f"Next report {slack_date(report.next_at)}")]))
    return blocks


def report_text(report: Report) -> str:
    """The notification text: the period and each signal's precision, most alerts first."""
    parts = [f"{s.signal} {precision_text(s)}" for s in report.stats[:10] if s.alerts]
    hints = sum(1 for s in report.stats if hint(s))
    text = f"Signals report, last {period_words(report.days)}"
    if parts:
        text += ": precision " + ", ".join(parts)
    if hints:
        text += f"; {hints} rule{'s' if hints != 1 else ''} to look at"
    return escape_line(text, TEXT_FALLBACK_LIMIT)


def report_message(report_id: str, report: Report) -> dict[str, Any]:
    """Arguments for `chat.postMessage` (minus the channel); the metadata carries the report's id, so
    an interrupted post is found in the channel like an alert's."""
    return {
        "text": report_text(report),
        "blocks": [block.to_dict() for block in report_blocks(report)],
        "metadata": {
            "event_type": METADATA_EVENT_TYPE,
            "event_payload": {"alert_id": report_id, "signal": REPORT_SIGNAL, "days": report.days},
        },
        "unfurl_links": False,
        "unfurl_media": False,
    }
