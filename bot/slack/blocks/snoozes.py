"""`/posthog snoozes`: each running snooze made on the channel's alerts, with an Unsnooze button.
A pure function of the snoozes."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

from bot.slack.blocks.alert import mention, slack_day
from bot.slack.ids import AlertAction, SnoozeRef, encode
from bot.slack.mrkdwn import escape, plain
from bot.store.account_state import Snooze

MAX_LISTED = 40


def snoozes_list(snoozes: list[Snooze]) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) of the list."""
    if not snoozes:
        return "No account is snoozed from this channel's alerts.", []
    heading = f"{len(snoozes)} snoozed account(s) from this channel's alerts"
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=f"*{heading}*"))]
    for snooze in snoozes[:MAX_LISTED]:
        by = mention(snooze.snoozed_by)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"*{escape(plain(snooze.account, 300))}* until {slack_day(snooze.until)}, by {by}",
                    verbatim=True,
                ),
                accessory=ButtonElement(
                    text="Unsnooze",
                    action_id=AlertAction.UNSNOOZE,
                    value=encode(SnoozeRef(snooze_id=snooze.id)),
                ),
            )
        )
    if len(snoozes) > MAX_LISTED:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=f"and {len(snoozes) - MAX_LISTED} more")])
        )
    return heading, [b.to_dict() for b in blocks]
