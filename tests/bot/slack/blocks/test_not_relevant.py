"""The "Not relevant" modal: its exact Block Kit, and what a submission of it says."""

from __future__ import annotations

import pytest
from slack_sdk.models.views import View

from bot.slack.blocks.not_relevant import NotRelevantAnswer, not_relevant_modal, read_answer
from bot.slack.ids import FeedbackReason, ModalTarget, decode
from tests.support.alert_clicks import not_relevant_state


def _option(value: str, text: str) -> dict:
    return {"text": {"emoji": True, "text": text, "type": "plain_text"}, "value": value}


def _plain(text: str) -> dict:
    return {"emoji": True, "text": text, "type": "plain_text"}


EXPECTED = {
    "type": "modal",
    "callback_id": "not_relevant_reason",
    "private_metadata": "5f0c6d2a:C0AE1",
    "title": _plain("Not relevant"),
    "submit": _plain("Save"),
    "close": _plain("Cancel"),
    "blocks": [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "verbatim": True, "text": "Acme &amp; Co: Trial &lt;finished&gt;"},
        },
        {
            "type": "input",
            "block_id": "reason",
            "label": _plain("Why is this alert not relevant?"),
            "element": {
                "type": "radio_buttons",
                "action_id": "reason_choice",
                "options": [
                    _option("wrong_fit", "Wrong fit"),
                    _option("already_working", "Already working it"),
                    _option("bad_data", "Bad data"),
                    _option("other", "Other"),
                ],
            },
        },
        {
            "type": "input",
            "block_id": "comment",
            "label": _plain("Anything to add?"),
            "optional": True,
            "hint": _plain("Required when the reason is Other."),
            "element": {
                "type": "plain_text_input",
                "action_id": "comment_text",
                "multiline": True,
                "max_length": 2000,
            },
        },
    ],
}


def test_the_modal_is_exactly_as_designed():
    target = ModalTarget(alert_id="5f0c6d2a", channel="C0AE1")
    modal = not_relevant_modal(target, "Acme & Co: Trial <finished>")
    assert modal.to_dict() == EXPECTED
    assert View(**modal.to_dict()).to_dict() == EXPECTED  # slack_sdk's own model validates it
    assert decode(ModalTarget, modal.private_metadata) == target


@pytest.mark.parametrize("title", ["<!channel>\n" + "x" * 4000, "&" * 760, "<" * 2000])
def test_a_title_cannot_ping_or_break_the_modal(title):
    """An account name of escapes grows fivefold when escaped: it is cut after escaping, so the
    modal still opens."""
    modal = not_relevant_modal(ModalTarget(alert_id="a1", channel="C1"), title)
    text = modal.to_dict()["blocks"][0]["text"]["text"]
    assert "<!channel>" not in text and "\n" not in text and len(text) <= 3000


def _view(reason: str | None, text: str | None) -> dict:
    return {"state": {"values": not_relevant_state(reason, text)}}


@pytest.mark.parametrize("reason", list(FeedbackReason))
def test_each_reason_is_read(reason):
    assert read_answer(_view(reason, "  we are on it  ")) == NotRelevantAnswer(
        reason=reason, text="we are on it"
    )


def test_a_reason_is_required_and_other_needs_a_comment():
    assert read_answer(_view(None, "x")) == {"reason": "Choose a reason."}
    assert read_answer(_view("made_up", None)) == {"reason": "Choose a reason."}
    assert read_answer(_view("other", "   ")) == {"comment": "Tell us what made it not relevant."}
    assert read_answer(_view("bad_data", "")) == NotRelevantAnswer(reason=FeedbackReason.BAD_DATA)


@pytest.mark.parametrize("state", [None, [], "x", {"values": []}, {"values": {"reason": "x"}}])
def test_a_state_of_any_other_shape_asks_for_a_reason(state):
    assert read_answer({"state": state}) == {"reason": "Choose a reason."}
