"""`/posthog snoozes`: each running snooze made on the channel's alerts, with an Unsnooze button,
shown as the Home tab shows it (`snooze_section`). A pure function of the snoozes."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.slack.blocks.home import snooze_section
from bot.store.account_state import Snooze

MAX_LISTED = 40


def snoozes_list(snoozes: list[Snooze]) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) of the list."""
    if not snoozes:
        return "No account is snoozed from this channel's alerts.", []
    heading = f"{len(snoozes)} snoozed account(s) from this channel's alerts"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"*{heading}*"))]
    blocks.extend(snooze_section(snooze) for snooze in snoozes[:MAX_LISTED])
    if len(snoozes) > MAX_LISTED:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=f"and {len(snoozes) - MAX_LISTED} more")])
        )
    return heading, [b.to_dict() for b in blocks]
