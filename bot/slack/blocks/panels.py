"""Block Kit for the bot's other surfaces: the "Not relevant" modal and the `/posthog snoozes` list.
Pure functions returning what Slack's API takes."""

from __future__ import annotations

from typing import Any

import orjson
from slack_sdk.models.blocks import (
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.slack import ids
from bot.slack.blocks.alert import mention, slack_day
from bot.slack.mrkdwn import escape, plain
from bot.store.account_state import Snooze

REASON_BLOCK = "reason"
REASON_ACTION = "reason_choice"
TEXT_BLOCK = "comment"
TEXT_ACTION = "comment_text"
MAX_LISTED = 40


def not_relevant_modal(alert_id: str, channel_id: str, title: str) -> View:
    """Asks why; the alert id and channel ride along in private_metadata (our own, not the user's)."""
    metadata = orjson.dumps({"alert_id": alert_id, "channel": channel_id}).decode()
    return View(
        type="modal",
        callback_id=ids.NOT_RELEVANT_VIEW,
        private_metadata=metadata,
        title="Not relevant",
        submit="Save",
        close="Cancel",
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=escape(plain(title, 2500)), verbatim=True)),
            InputBlock(
                block_id=REASON_BLOCK,
                label="Why is this alert not relevant?",
                element=RadioButtonsElement(
                    action_id=REASON_ACTION,
                    options=[
                        Option(value=key, text=label.capitalize())
                        for key, label in ids.FEEDBACK_REASONS.items()
                    ],
                ),
            ),
            InputBlock(
                block_id=TEXT_BLOCK,
                label="Anything to add?",
                optional=True,
                hint="Required when the reason is Other.",
                element=PlainTextInputElement(action_id=TEXT_ACTION, multiline=True, max_length=2000),
            ),
        ],
    )


def read_modal_target(view: dict[str, Any]) -> tuple[str, str] | None:
    """(alert id, channel) from the modal's private_metadata; None when either is missing, since a
    submission that names no channel could not be held to the alert's own channel."""
    try:
        metadata = orjson.loads(view.get("private_metadata") or "")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(metadata, dict):
        return None
    alert_id, channel = metadata.get("alert_id"), metadata.get("channel")
    if not (isinstance(alert_id, str) and alert_id and isinstance(channel, str) and channel):
        return None
    return alert_id, channel


def _dig(node: Any, *keys: str) -> dict[str, Any]:
    """The object at `keys`, or an empty one where the submission has something else there."""
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def read_not_relevant(view: dict[str, Any]) -> tuple[str | None, str | None, dict[str, str]]:
    """(reason, text, errors by block id) from a view_submission's state."""
    values = _dig(view, "state", "values")
    reason = _dig(values, REASON_BLOCK, REASON_ACTION, "selected_option").get("value")
    reason = reason if isinstance(reason, str) else None
    text = _dig(values, TEXT_BLOCK, TEXT_ACTION).get("value")
    text = (text.strip() or None) if isinstance(text, str) else None
    errors = {}
    if reason not in ids.FEEDBACK_REASONS:
        errors[REASON_BLOCK] = "Choose a reason."
    elif reason == "other" and not text:
        errors[TEXT_BLOCK] = "Tell us what made it not relevant."
    return reason, text, errors


def snoozes_list(snoozes: list[Snooze]) -> dict[str, Any]:
    """`/posthog snoozes`: each running snooze made on the channel's alerts, with an Unsnooze button."""
    if not snoozes:
        return {"text": "No account is snoozed from this channel's alerts.", "blocks": []}
    heading = f"*{len(snoozes)} snoozed account(s) from this channel's alerts*"
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=heading))]
    for snooze in snoozes[:MAX_LISTED]:
        by = mention(snooze.snoozed_by)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"*{escape(plain(snooze.account, 300))}* until {slack_day(snooze.until)}, by {by}",
                    verbatim=True,
                ),
                accessory=ButtonElement(text="Unsnooze", action_id=ids.UNSNOOZE, value=snooze.id),
            )
        )
    if len(snoozes) > MAX_LISTED:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=f"and {len(snoozes) - MAX_LISTED} more")])
        )
    text = f"{len(snoozes)} snoozed account(s) from this channel's alerts"
    return {"text": text, "blocks": [b.to_dict() for b in blocks]}
