"""What Slack sends back to the bot: the ids of every surface (one enum each), the choices a control
offers, and what a button value or a modal's private_metadata carries, encoded and decoded by one pair
of functions so a listener only ever sees a validated model.

The manifest, the message builders and the listeners all read these; changing an id here changes it
everywhere. Values already in posted messages stay readable: a value is its fields joined by `:`
(`<alert id>`, `<alert id>:7d`, `<snooze id>`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from bot.vocabulary import WordedEnum

METADATA_EVENT_TYPE = "posthog_signal"  # Slack message metadata of every alert
SLASH_COMMAND = "/posthog"


_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")


def is_user_id(value: object) -> bool:
    """A Slack user id (`U…`, or `W…` on Enterprise Grid): what may become a `<@…>` mention."""
    return isinstance(value, str) and _USER_ID.fullmatch(value) is not None


class AlertAction(StrEnum):
    """`action_id`s of the alert's controls (Unsnooze also stands on the `/posthog snoozes` list)."""

    CREATE_CRM_TASK = "create_crm_task"
    SNOOZE = "snooze"
    NOT_RELEVANT = "not_relevant"
    OPEN_POSTHOG = "open_posthog"
    OPEN_CRM_TASK = "open_crm_task"
    UNSNOOZE = "unsnooze"


class NotRelevantModal(StrEnum):
    """The "Not relevant" modal: its callback id, and the block and action ids of its inputs."""

    CALLBACK = "not_relevant_reason"
    REASON_BLOCK = "reason"
    REASON_ACTION = "reason_choice"
    TEXT_BLOCK = "comment"
    TEXT_ACTION = "comment_text"


class SnoozeChoice(WordedEnum):
    """A snooze length the alert offers: its value, its label and how long it holds."""

    label: str
    seconds: int

    DAY = "1d", "1 day", 86_400
    WEEK = "7d", "7 days", 7 * 86_400
    MONTH = "30d", "30 days", 30 * 86_400


class FeedbackReason(WordedEnum):
    """Why an alert was not relevant, as the modal offers it."""

    label: str

    WRONG_FIT = "wrong_fit", "wrong fit"
    ALREADY_WORKING = "already_working", "already working it"
    BAD_DATA = "bad_data", "bad data"
    OTHER = "other", "other"


# -- what a control carries ---------------------------------------------------------------------------
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]  # alert, snooze and channel ids


class Carried(BaseModel):
    """What a control carries back to the bot; its fields, in order, make the encoded value."""

    model_config = ConfigDict(frozen=True)


class AlertRef(Carried):
    """A button on an alert: Create CRM task, Not relevant, Open in PostHog, Open task."""

    alert_id: Id


class SnoozeRequest(Carried):
    """An option of the alert's Snooze select."""

    alert_id: Id
    choice: SnoozeChoice


class SnoozeRef(Carried):
    """An Unsnooze button."""

    snooze_id: Id


class ModalTarget(Carried):
    """The "Not relevant" modal's private_metadata: the alert, and the channel the click came from,
    which every action is held to."""

    alert_id: Id
    channel: Id


C = TypeVar("C", bound=Carried)


def encode(carried: Carried) -> str:
    """The value Slack keeps for the control and sends back when it is used."""
    return ":".join(str(getattr(carried, name)) for name in type(carried).model_fields)


def decode(kind: type[C], value: object) -> C | None:
    """What a control carried, validated; None when the value is not what the bot wrote (forged, cut,
    or from a control this release no longer offers). A JSON object is read too: the form modals
    opened by 0.1.0 carried."""
    if not isinstance(value, str) or not value:
        return None
    try:
        if value.startswith("{"):
            return kind.model_validate(orjson.loads(value))
        names = list(kind.model_fields)
        parts = value.split(":", len(names) - 1)
        if len(parts) != len(names):
            return None
        return kind.model_validate(dict(zip(names, parts, strict=True)))
    except (ValidationError, orjson.JSONDecodeError, TypeError):
        return None
