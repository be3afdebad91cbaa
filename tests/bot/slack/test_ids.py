"""What a control carries: encoded by the bot, decoded once into a model, and never trusted beyond
that; and the choices a control offers."""

from __future__ import annotations

import pytest

from bot.slack.ids import (
    AlertAction,
    AlertRef,
    FeedbackReason,
    ModalTarget,
    NotRelevantModal,
    SnoozeChoice,
    SnoozeRef,
    SnoozeRequest,
    decode,
    encode,
)

ALERT = "5f0c6d2a9b7e4c1d8e3f2a1b0c9d8e7f"


@pytest.mark.parametrize(
    "carried",
    [
        AlertRef(alert_id=ALERT),
        SnoozeRequest(alert_id=ALERT, choice=SnoozeChoice.WEEK),
        SnoozeRef(snooze_id="0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"),
        ModalTarget(alert_id=ALERT, channel="C0AE1"),
    ],
)
def test_what_the_bot_encodes_it_decodes(carried):
    assert decode(type(carried), encode(carried)) == carried


def test_values_in_messages_already_posted_keep_working():
    """0.1.0 wrote the alert id, `<alert id>:<choice>` and the snooze id as values, and a JSON object
    as the modal's private_metadata."""
    assert encode(AlertRef(alert_id=ALERT)) == ALERT
    assert encode(SnoozeRequest(alert_id=ALERT, choice=SnoozeChoice.MONTH)) == f"{ALERT}:30d"
    assert decode(SnoozeRequest, f"{ALERT}:1d") == SnoozeRequest(alert_id=ALERT, choice=SnoozeChoice.DAY)
    legacy = f'{{"alert_id": "{ALERT}", "channel": "C0AE1"}}'
    assert decode(ModalTarget, legacy) == ModalTarget(alert_id=ALERT, channel="C0AE1")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (AlertRef, ""),
        (AlertRef, None),
        (AlertRef, 5),
        (AlertRef, ["a1"]),
        (AlertRef, "a1:extra"),
        (AlertRef, "<!channel>"),
        (AlertRef, "x" * 65),
        (SnoozeRequest, f"{ALERT}:forever"),
        (SnoozeRequest, f"{ALERT}:"),
        (SnoozeRequest, ALERT),
        (SnoozeRequest, ":7d"),
        (SnoozeRef, "s 1"),
        (ModalTarget, f"{ALERT}"),
        (ModalTarget, f'{{"alert_id": "{ALERT}"}}'),
        (ModalTarget, f'{{"alert_id": "{ALERT}", "channel": 5}}'),
        (ModalTarget, "{not json"),
        (ModalTarget, "[1, 2]"),
    ],
)
def test_anything_else_decodes_to_nothing(kind, value):
    assert decode(kind, value) is None


def test_a_snooze_choice_carries_its_label_and_length():
    assert [(c.value, c.label, c.seconds) for c in SnoozeChoice] == [
        ("1d", "1 day", 86_400),
        ("7d", "7 days", 604_800),
        ("30d", "30 days", 2_592_000),
    ]
    assert SnoozeChoice("7d") is SnoozeChoice.WEEK


def test_feedback_reasons_and_their_words():
    assert {r.value: r.label for r in FeedbackReason} == {
        "wrong_fit": "wrong fit",
        "already_working": "already working it",
        "bad_data": "bad data",
        "other": "other",
    }


def test_ids_are_the_strings_slack_sends_back():
    assert [str(a) for a in AlertAction] == [
        "create_crm_task",
        "snooze",
        "not_relevant",
        "open_posthog",
        "open_crm_task",
        "unsnooze",
    ]
    assert NotRelevantModal.CALLBACK == "not_relevant_reason"
