"""A funnel answer people would rather look at than read: counts, conversion from the previous and the
first step (PostHog returns counts only), median time between steps, the biggest drop marked, text
bars, and a link to the same funnel in PostHog. Pure functions; every step name is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.slack.blocks.alert import CONTEXT_LIMIT, SECTION_LIMIT
from bot.slack.mrkdwn import escape_line, link, plain, whole_lines

BAR_WIDTH = 20
MAX_BREAKDOWNS = 8


@dataclass(frozen=True)
class StepRow:
    name: str
    count: int
    median_s: float | None  # from the previous step


@dataclass(frozen=True)
class StepFigures:
    name: str
    count: int
    from_previous: float | None  # 0..1; None for the first step
    from_first: float  # 0..1
    median_s: float | None


def figures(rows: list[StepRow]) -> list[StepFigures]:
    first = rows[0].count if rows else 0
    out = []
    for index, row in enumerate(rows):
        previous = rows[index - 1].count if index else None
        from_previous = None if previous is None else (row.count / previous if previous else 0.0)
        from_first = row.count / first if first else 0.0
        out.append(
            StepFigures(row.name, row.count, from_previous, from_first, row.median_s if index else None)
        )
    return out


def biggest_drop(steps: list[StepFigures]) -> int | None:
    """The step people most often fail to reach (lowest conversion from the previous step)."""
    candidates = [(s.from_previous, i) for i, s in enumerate(steps) if s.from_previous is not None]
    if not candidates:
        return None
    rate, index = min(candidates)
    return index if rate < 1.0 else None


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes}m {rest}s" if minutes < 10 and rest else f"{minutes}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def percent(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value * 100:.1f}%" if value < 0.1 else f"{value * 100:.0f}%"


def bar(fraction: float) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH)
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def step_lines(steps: list[StepFigures]) -> list[str]:
    drop = biggest_drop(steps)
    lines = []
    for index, step in enumerate(steps):
        name = escape_line(step.name, 80)
        head = f"*{index + 1}. {name}*  {step.count:,}"
        if step.from_previous is not None:
            head += f" · {percent(step.from_previous)} of step {index}"
            head += f" · {percent(step.from_first)} of step 1 · median {duration(step.median_s)}"
        if index == drop:
            head += "  :warning: *biggest drop*"
        lines.append(f"{head}\n`{bar(step.from_first)}`")
    return lines


def funnel_blocks(
    title: str, rows: list[StepRow], range_label: str | None, url: str | None, note: str | None = None
) -> list[dict[str, Any]]:
    steps = figures(rows)
    blocks: list[Any] = [HeaderBlock(text=plain(title, 150))]
    text = section_text(step_lines(steps))
    blocks.append(SectionBlock(text=MarkdownTextObject(text=text, verbatim=True)))
    context = []
    if steps and steps[0].count:
        context.append(f"{percent(steps[-1].from_first)} converted overall")
    if range_label:
        context.append(escape_line(range_label, 200))
    blocks.extend(context_line(context, url, note))
    return [block.to_dict() for block in blocks]


def section_text(lines: list[str], empty: str = "No steps.") -> str:
    """The lines that fit a section whole (a cut one could leave a code span open)."""
    return whole_lines(None, lines, SECTION_LIMIT) if lines else empty


def context_line(parts: list[str], url: str | None, note: str | None = None) -> list[ContextBlock]:
    """The context under a funnel: `parts`, then the PostHog link whole or not at all (a clipped
    one would dangle), then as much of the note as the element has room for."""
    parts = list(parts)
    if url and len(" · ".join([*parts, link(url, "Open in PostHog")])) <= CONTEXT_LIMIT:
        parts.append(link(url, "Open in PostHog"))
    room = CONTEXT_LIMIT - len(" · ".join(parts)) - 3
    if note and room > 20:
        parts.append(escape_line(note, min(500, room)))
    if not parts:
        return []
    return [ContextBlock(elements=[MarkdownTextObject(text=" · ".join(parts), verbatim=True)])]


def breakdown_blocks(
    title: str, series: list[tuple[str, list[StepRow]]], range_label: str | None, url: str | None
) -> list[dict[str, Any]]:
    """One line per breakdown value: overall conversion and the biggest drop, largest groups first."""
    blocks: list[Any] = [HeaderBlock(text=plain(title, 150))]
    ranked = sorted(series, key=lambda item: -(item[1][0].count if item[1] else 0))
    lines = []
    for value, rows in ranked[:MAX_BREAKDOWNS]:
        steps = figures(rows)
        if not steps:
            continue
        drop = biggest_drop(steps)
        where = f" · biggest drop at step {drop + 1}" if drop is not None else ""
        lines.append(
            f"*{escape_line(value or '(none)', 80)}*: {steps[0].count:,} → {steps[-1].count:,} "
            f"({percent(steps[-1].from_first)}){where}\n`{bar(steps[-1].from_first)}`"
        )
    if len(ranked) > MAX_BREAKDOWNS:
        lines.append(f"…and {len(ranked) - MAX_BREAKDOWNS} more values")
    text = section_text(lines, "No data.")
    blocks.append(SectionBlock(text=MarkdownTextObject(text=text, verbatim=True)))
    blocks.extend(context_line([escape_line(range_label, 200)] if range_label else [], url))
    return [block.to_dict() for block in blocks]


def fallback_text(title: str, rows: list[StepRow]) -> str:
    steps = figures(rows)
    if not steps:
        return escape_line(title, 300)
    return escape_line(
        f"{title}: {steps[0].count:,} → {steps[-1].count:,} ({percent(steps[-1].from_first)})", 300
    )
