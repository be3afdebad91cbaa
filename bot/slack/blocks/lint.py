"""Block Kit for `/posthog lint`: the tracking-plan report, one section per check that found something,
each list cut to whole lines with "and N more" so no section passes Slack's 3000 characters and the
message stays far below 50 blocks. Pure; every event and signal name comes from PostHog or the signals
file and is escaped (bot/slack/mrkdwn.py)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from bot.lint.report import (
    QUIET_AFTER_DAYS,
    BadName,
    DuplicateGroup,
    LintReport,
    QuietEvent,
    UnknownEvent,
    UnusedEvent,
    capped_line,
    plural,
    summary_lines,
)
from bot.slack.blocks.alert import CONTEXT_LIMIT, SECTION_LIMIT, mrkdwn, slack_day
from bot.slack.mrkdwn import escape_line, inline_code, plain, whole_lines

NAME_LIMIT = 120  # characters of one name in a line
MAX_LINES = 15  # per section, before "and N more"
MAX_UNUSED = 10
MAX_MEMBERS = 6  # names shown per near-duplicate group


def code(name: str) -> str:
    return inline_code(name, NAME_LIMIT)


def _volume(value: int | None) -> str:
    return "volume unknown" if value is None else f"{value:,}"


def section(head: str, lines: list[str], cap: int = MAX_LINES) -> SectionBlock:
    """`head` and as many whole lines as fit (at most `cap`), then "and N more" for the rest."""
    return SectionBlock(text=mrkdwn(whole_lines(head, lines, SECTION_LIMIT, cap)))


def unknown_line(item: UnknownEvent) -> str:
    line = f"• *{escape_line(item.signal, 100)}* listens to {code(item.event)}"
    if item.suggestions:
        line += ": did you mean " + " or ".join(code(s) for s in item.suggestions) + "?"
    return line


def bad_name_line(bad: BadName) -> str:
    target = f" → {code(bad.suggestion)}" if bad.suggestion else ""
    return f"• {code(bad.name)}{target} ({_volume(bad.volume)})"


def group_line(group: DuplicateGroup) -> str:
    members = []
    for member in group.members[:MAX_MEMBERS]:
        listened = f" (signal *{escape_line(member.signals[0], 60)}*)" if member.signals else ""
        members.append(f"{code(member.name)} {_volume(member.volume)}{listened}")
    more = len(group.members) - MAX_MEMBERS
    if more > 0:
        members.append(f"and {more} more")
    return f"• {' · '.join(members)} → keep {code(group.keep)}"


def quiet_line(quiet: QuietEvent) -> str:
    line = f"• {code(quiet.name)} last seen {slack_day(quiet.last_seen)}"
    if quiet.signals:
        names = ", ".join(f"*{escape_line(s, 60)}*" for s in quiet.signals[:3])
        line += f": {names} listen{'s' if len(quiet.signals) == 1 else ''} to it"
    return line


def unused_line(unused: UnusedEvent) -> str:
    return f"• {code(unused.name)} {_volume(unused.volume)}"


def lint_blocks(report: LintReport) -> list[Block]:
    blocks: list[Block] = [
        HeaderBlock(text=plain(f"Tracking plan: {report.events:,} events in PostHog", 150))
    ]
    notes = [
        f"Checked against {plural(report.event_signals, 'event signal', 'event signals')}; "
        "volumes are events in the last 30 days"
    ]
    notes += [n for n in (report.volume_note, capped_line(report) if report.capped else None) if n]
    if report.skipped:
        notes.append(f"{report.skipped} rows PostHog sent were not event definitions")
    blocks.append(ContextBlock(elements=[mrkdwn(escape_line(" · ".join(notes), CONTEXT_LIMIT))]))

    if report.unknown:
        head = (
            f":rotating_light: *{plural(len(report.unknown), 'signal listens', 'signals listen')} to an "
            "event PostHog never received*, so it can never fire"
        )
        blocks.append(section(head, [unknown_line(u) for u in report.unknown]))
    else:
        blocks.append(
            SectionBlock(
                text=mrkdwn(":white_check_mark: PostHog has received every event the signals listen to.")
            )
        )
    if report.bad_names:
        head = f":pencil2: *{plural(len(report.bad_names), 'name breaks', 'names break')} snake_case*"
        blocks.append(section(head, [bad_name_line(b) for b in report.bad_names]))
    if report.duplicates:
        groups = plural(len(report.duplicates), "near-duplicate group", "near-duplicate groups")
        head = f":busts_in_silhouette: *{groups}*: one event under several names, with each name's volume"
        blocks.append(section(head, [group_line(g) for g in report.duplicates]))
    if report.quiet:
        head = (
            f":zzz: *{plural(len(report.quiet), 'event', 'events')} gone quiet*: not seen for "
            f"{QUIET_AFTER_DAYS} days (broken by a redesign?)"
        )
        blocks.append(section(head, [quiet_line(q) for q in report.quiet]))
    if report.unused:
        head = (
            f":question: *{plural(len(report.unused), 'event', 'events')} no signal listens to*: "
            "when these fire, what do we do?"
        )
        blocks.append(section(head, [unused_line(u) for u in report.unused], MAX_UNUSED))
    if report.clean:
        blocks.append(
            ContextBlock(elements=[mrkdwn("No naming problems, near-duplicates, quiet or unused events.")])
        )
    return blocks


def lint_message(report: LintReport) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for the reply."""
    text = escape_line("Tracking plan: " + "; ".join(summary_lines(report)), 1000)
    return text, [block.to_dict() for block in lint_blocks(report)]
