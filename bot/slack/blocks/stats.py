"""Block Kit for `/posthog stats`: a section per signal with what it did in the period and what people
did with its alerts, precision, and the hint when a rule's alerts are mostly dismissed. Pure; signal
names come from the signals file and are escaped like everything else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from bot.commands.stats_report import hint, precision_text
from bot.slack.blocks.alert import SECTION_LIMIT, mrkdwn, slack_date
from bot.slack.ids import FeedbackReason
from bot.slack.mrkdwn import clip, escape, escape_line, plain, whole_lines
from bot.store.query_runs import QueryRun
from bot.store.stats import SignalStats

MAX_SIGNALS = 40  # sections; the header, the hints, failures and "and N more" fit in Slack's 50 blocks


def _reason(value: str) -> str:
    try:
        return FeedbackReason(value).label
    except ValueError:
        return value


def signal_line(stats: SignalStats) -> str:
    parts = [
        f"{stats.events:,} events",
        f"{stats.alerts} alerts",
        f"{stats.tasks} tasks ({stats.tasks_clicked} clicked, {stats.tasks_auto} automatic)",
        f"{stats.snoozed} snoozed",
    ]
    if stats.dismissed:
        reasons = ", ".join(f"{escape(_reason(r))} {n}" for r, n in sorted(stats.not_relevant.items()))
        parts.append(f"{stats.dismissed} not relevant ({reasons})")
    else:
        parts.append("0 not relevant")
    parts.append(f"{stats.no_action} no action yet")
    head = f"*{escape_line(stats.signal, 100)}* · precision {precision_text(stats)}"
    return clip(f"{head}\n" + " · ".join(parts), SECTION_LIMIT)


def query_failure_line(run: QueryRun) -> str:
    """A query signal whose latest run failed: when, and PostHog's message."""
    when = slack_date(run.finished_at or run.started_at)
    error = escape_line(run.error or "no message", 300)
    return f":warning: *{escape_line(run.signal, 100)}*: the latest query run failed ({when}): {error}"


def signal_blocks(
    stats: Sequence[SignalStats], failing: Sequence[QueryRun] = (), max_signals: int = MAX_SIGNALS
) -> list[Block]:
    """A section per signal (the first `max_signals`), then the hints and the failing queries."""
    blocks: list[Block] = [SectionBlock(text=mrkdwn(signal_line(s))) for s in stats[:max_signals]]
    if len(stats) > max_signals:
        blocks.append(ContextBlock(elements=[mrkdwn(f"and {len(stats) - max_signals} more signals")]))
    hints = [f":bulb: {escape_line(h, 600)}" for h in (hint(s) for s in stats) if h]
    if hints:
        blocks.append(ContextBlock(elements=[mrkdwn(whole_lines(None, hints, SECTION_LIMIT))]))
    if failing:
        lines = [query_failure_line(run) for run in failing]
        blocks.append(SectionBlock(text=mrkdwn(whole_lines(None, lines, SECTION_LIMIT))))
    return blocks


PRECISION_NOTE = "Precision: alerts with a task / (alerts with a task + alerts marked not relevant)."


def period_words(days: int) -> str:
    return "day" if days == 1 else f"{days} days"


def stats_body(
    stats: Sequence[SignalStats], days: int, failing: Sequence[QueryRun] = (), max_signals: int = MAX_SIGNALS
) -> list[Block]:
    """What `stats` says under its header; the scheduled report says the same under its own."""
    if not stats:
        quiet = ContextBlock(elements=[mrkdwn(f"No signal saw an event in the last {period_words(days)}.")])
        return [quiet, *signal_blocks((), failing)]
    return [*signal_blocks(stats, failing, max_signals), ContextBlock(elements=[mrkdwn(PRECISION_NOTE)])]


def stats_blocks(stats: Sequence[SignalStats], days: int, failing: Sequence[QueryRun] = ()) -> list[Block]:
    header = HeaderBlock(text=plain(f"Signal stats, last {days} days", 150))
    return [header, *stats_body(stats, days, failing)]


def stats_message(
    stats: Sequence[SignalStats], days: int, failing: Sequence[QueryRun] = ()
) -> tuple[str, list[dict[str, Any]]]:
    text = escape_line(f"Signal stats, last {days} days: {len(stats)} signals", 300)
    return text, [block.to_dict() for block in stats_blocks(stats, days, failing)]
