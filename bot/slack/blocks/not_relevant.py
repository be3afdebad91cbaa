"""The "Not relevant" modal: the form that asks why (the alert and its channel ride along in
private_metadata), and what a submission of it says. Pure functions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from slack_sdk.models.blocks import (
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.slack.ids import FeedbackReason, ModalTarget, encode
from bot.slack.ids import NotRelevantModal as Ids
from bot.slack.mrkdwn import escape_line

TEXT_LIMIT = 2000


class NotRelevantAnswer(BaseModel):
    """A valid submission: the reason, and the comment when there is one."""

    model_config = ConfigDict(frozen=True)

    reason: FeedbackReason
    text: str | None = None


def not_relevant_modal(target: ModalTarget, title: str) -> View:
    """Asks why; `target` (the alert and the channel) rides along in private_metadata, which is the
    bot's own and never shown."""
    return View(
        type="modal",
        callback_id=Ids.CALLBACK,
        private_metadata=encode(target),
        title="Not relevant",
        submit="Save",
        close="Cancel",
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=escape_line(title, 3000), verbatim=True)),
            InputBlock(
                block_id=Ids.REASON_BLOCK,
                label="Why is this alert not relevant?",
                element=RadioButtonsElement(
                    action_id=Ids.REASON_ACTION,
                    options=[
                        Option(value=reason, text=reason.label.capitalize()) for reason in FeedbackReason
                    ],
                ),
            ),
            InputBlock(
                block_id=Ids.TEXT_BLOCK,
                label="Anything to add?",
                optional=True,
                hint="Required when the reason is Other.",
                element=PlainTextInputElement(
                    action_id=Ids.TEXT_ACTION, multiline=True, max_length=TEXT_LIMIT
                ),
            ),
        ],
    )


def _dig(node: Any, *keys: str) -> dict[str, Any]:
    """The object at `keys`, or an empty one where the submission has something else there."""
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def read_answer(view: dict[str, Any]) -> NotRelevantAnswer | dict[str, str]:
    """The answer in a view_submission's state, or the errors to show in the form, by block id."""
    values = _dig(view, "state", "values")
    reason = _dig(values, Ids.REASON_BLOCK, Ids.REASON_ACTION, "selected_option").get("value")
    text = _dig(values, Ids.TEXT_BLOCK, Ids.TEXT_ACTION).get("value")
    text = (text.strip() or None) if isinstance(text, str) else None
    if reason not in set(FeedbackReason):
        return {Ids.REASON_BLOCK: "Choose a reason."}
    if reason == FeedbackReason.OTHER and not text:
        return {Ids.TEXT_BLOCK: "Tell us what made it not relevant."}
    return NotRelevantAnswer(reason=FeedbackReason(reason), text=text)
