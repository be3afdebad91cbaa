"""Block Kit for `/posthog why`: the account's latest events (time, event, signal, outcome, reason),
the score it would get now with its breakdown, and the snooze and cooldowns in force. Pure; every
string from the ledger, the signals file or PostHog is escaped (bot/slack/mrkdwn.py)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from bot.commands.why import Story
from bot.slack.blocks.alert import SECTION_LIMIT, criterion_line, mrkdwn, slack_date, slack_day
from bot.slack.mrkdwn import escape_line, inline_code, plain, whole_lines

_OUTCOME_ICONS = {
    "alerted": ":bell:",
    "accumulating": ":hourglass_flowing_sand:",
    "below_threshold": ":small_red_triangle_down:",
    "cooldown": ":snowflake:",
    "snoozed": ":zzz:",
    "filtered": ":white_small_square:",
    "no_account": ":grey_question:",
    "duplicate": ":repeat:",
    "failed": ":x:",
}
LINES_PER_SECTION = 5


def event_lines(story: Story) -> list[str]:
    lines = []
    for entry in story.entries:
        head = f"{slack_date(entry.at)} · {inline_code(entry.event_name, 120)}"
        for decision in entry.decisions or []:
            icon = _OUTCOME_ICONS.get(str(decision.outcome), ":white_small_square:")
            signal = f"*{escape_line(decision.signal, 100)}* " if decision.signal else ""
            reason = escape_line(decision.reason, 300)
            lines.append(f"{head} · {icon} {signal}{escape_line(str(decision.outcome), 40)}: {reason}")
        if not entry.decisions:
            lines.append(f"{head} · {escape_line(entry.outcome, 40)}")
    return lines


def why_blocks(story: Story) -> list[Block]:
    target = story.target
    name = story.company_name or target.label
    blocks: list[Block] = [HeaderBlock(text=plain(f"Why: {name}", 150))]
    held = []
    if story.snoozed_until is not None:
        held.append(f":zzz: Snoozed until {slack_day(story.snoozed_until)}")
    held += [
        f":snowflake: *{escape_line(c.signal, 100)}* in cooldown until {slack_date(c.until)}"
        for c in story.cooldowns
    ]
    if held:
        blocks.append(SectionBlock(text=mrkdwn(whole_lines(None, held, SECTION_LIMIT))))
    if story.score is not None:
        lines = [f"*Scores {story.score.value}/100 now*"] + [criterion_line(r) for r in story.score.breakdown]
        blocks.append(SectionBlock(text=mrkdwn(whole_lines(None, lines, SECTION_LIMIT))))
    lines = event_lines(story)
    if not lines:
        blocks.append(
            ContextBlock(
                elements=[
                    mrkdwn(
                        f"No events of {escape_line(target.label, 200)} are in the ledger: PostHog sent "
                        "none a signal listens to (check the destination's filters), or the account is "
                        "known by another domain or id."
                    )
                ]
            )
        )
    else:
        blocks.append(
            ContextBlock(elements=[mrkdwn(f"The latest {len(story.entries)} events, newest first")])
        )
        for start in range(0, len(lines), LINES_PER_SECTION):
            blocks.append(
                SectionBlock(
                    text=mrkdwn(whole_lines(None, lines[start : start + LINES_PER_SECTION], SECTION_LIMIT))
                )
            )
    return blocks[:50]


def why_message(story: Story) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for the reply."""
    name = story.company_name or story.target.label
    text = escape_line(f"Why: {name}: {len(story.entries)} recent events", 300)
    return text, [block.to_dict() for block in why_blocks(story)]
