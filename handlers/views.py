"""The "Not relevant" modal's submission: validate (errors shown in the modal), close it, then record
the reason and update the alert. A submission whose metadata no longer names the alert and its
channel is refused in the modal, since the channel check could not be made. A failure afterwards,
expected (`ActionError`) or not (`settled`), reaches the user as an ephemeral message in that channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.alert_access import ActionError
from bot.actions.not_relevant import NotRelevant
from bot.slack.blocks.not_relevant import read_answer
from bot.slack.ids import ModalTarget, NotRelevantModal
from handlers import carrying, settled

log = logging.getLogger(__name__)


LOST_TRACK = (
    "This form no longer says which alert and channel it is for, so nothing was saved. "
    "Close it and click Not relevant on the alert again."
)


def _metadata(view: dict[str, Any]) -> object:
    return view.get("private_metadata")


async def _tell(client: AsyncWebClient, channel: str, user: str, text: str) -> None:
    """An ephemeral message to the person who submitted, in the alert's channel."""
    try:
        await client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as slack_error:
        log.warning("could not tell the user: %s", slack_error.response.get("error"))


async def _tell_submitter(arguments: dict[str, Any], text: str) -> None:
    """A listener's unexpected failure, told the same way (`settled`); a submission that named no
    channel has no one to tell in one, and was refused in the modal before any work anyway."""
    carried = arguments.get("carried")
    if isinstance(carried, ModalTarget):
        await _tell(arguments["client"], carried.channel, arguments["body"]["user"]["id"], text)


def register(app: AsyncApp, not_relevant: NotRelevant) -> None:
    async def not_relevant_submitted(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        carried: ModalTarget | None,
        client: AsyncWebClient,
    ) -> None:
        answer = read_answer(view)
        if carried is None:
            answer = {NotRelevantModal.REASON_BLOCK: LOST_TRACK}
        if isinstance(answer, dict):
            await ack(response_action="errors", errors=answer)
            return
        await ack()
        user = body["user"]["id"]
        try:
            await not_relevant.record(
                client, carried.alert_id, carried.channel, user, answer.reason, answer.text
            )
        except ActionError as exc:
            await _tell(client, carried.channel, user, str(exc))

    app.view(NotRelevantModal.CALLBACK, middleware=[carrying(ModalTarget, _metadata)])(
        settled(not_relevant_submitted, _tell_submitter)
    )
