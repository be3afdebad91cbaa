"""The alert's controls. Each value a control carries is decoded once, into its model, before the
listener runs (`carrying`); every listener acks first (Slack's 3 seconds), then calls its service in
bot/actions; anything the clicker should know comes back as an ephemeral message on the action's
response_url, as does an unexpected failure (`settled`, told with `_tell_clicker`).

`open_posthog` and `open_crm_task` are URL buttons: Slack opens the link itself and still sends a
click, which only needs an ack.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.alert_access import UNKNOWN_ALERT, ActionError
from bot.actions.crm_task import CrmTasks
from bot.actions.not_relevant import NotRelevant
from bot.actions.snooze import OVER, InChannel, Snoozes
from bot.slack.blocks.not_relevant import not_relevant_modal
from bot.slack.ids import AlertAction, AlertRef, ModalTarget, SnoozeRef, SnoozeRequest
from handlers import carrying, settled

UNKNOWN_CHOICE = "Unknown snooze length; choose 1, 7 or 30 days."


async def ack_only(ack: AsyncAck) -> None:
    await ack()


async def _tell(respond: AsyncRespond, text: str | None) -> None:
    if text:
        await respond(text=text, response_type="ephemeral", replace_original=False)


async def _tell_clicker(arguments: dict[str, Any], text: str) -> None:
    """A listener's unexpected failure, told the same way (`settled`)."""
    if arguments.get("respond") is not None:
        await _tell(arguments["respond"], text)


def _message_ts(body: dict[str, Any]) -> str | None:
    return (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")


def _channel(body: dict[str, Any]) -> str:
    return str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")


def _value(action: dict[str, Any]) -> object:
    return action.get("value")


def _selected(action: dict[str, Any]) -> object:
    return (action.get("selected_option") or {}).get("value")


def register(app: AsyncApp, tasks: CrmTasks, snoozes: Snoozes, not_relevant: NotRelevant) -> None:
    async def create_crm_task(
        ack: AsyncAck,
        body: dict[str, Any],
        carried: AlertRef | None,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        if carried is None:
            await _tell(respond, UNKNOWN_ALERT)
            return
        try:
            note = await tasks.create(client, carried.alert_id, body["user"]["id"], _channel(body))
        except ActionError as exc:
            note = str(exc)
        await _tell(respond, note)

    async def snooze(
        ack: AsyncAck,
        body: dict[str, Any],
        carried: SnoozeRequest | None,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        if carried is None:
            await _tell(respond, UNKNOWN_CHOICE)
            return
        try:
            await snoozes.snooze(
                client,
                carried.alert_id,
                carried.choice,
                body["user"]["id"],
                _channel(body),
                _message_ts(body),
            )
        except ActionError as exc:
            await _tell(respond, str(exc))

    async def unsnooze(
        ack: AsyncAck,
        body: dict[str, Any],
        carried: SnoozeRef | None,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        if carried is None:
            await _tell(respond, OVER)
            return
        try:
            note = await snoozes.unsnooze(
                client, carried.snooze_id, body["user"]["id"], InChannel(_channel(body))
            )
        except ActionError as exc:
            note = str(exc)
        await _tell(respond, note)

    async def open_not_relevant(
        ack: AsyncAck,
        body: dict[str, Any],
        carried: AlertRef | None,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        if carried is None:
            await _tell(respond, UNKNOWN_ALERT)
            return
        channel = _channel(body)
        try:
            record = await not_relevant.alert(carried.alert_id, channel)
        except ActionError as exc:
            await _tell(respond, str(exc))
            return
        title = f"{record.details.account_label}: {record.signal}"
        target = ModalTarget(alert_id=record.id, channel=channel)
        # The trigger_id expires within seconds: open the modal before anything slow.
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=not_relevant_modal(target, title))
        except SlackApiError as exc:
            await _tell(respond, f"Slack did not open the form ({exc.response.get('error')}); click again.")

    app.action(AlertAction.OPEN_POSTHOG)(settled(ack_only))
    app.action(AlertAction.OPEN_CRM_TASK)(settled(ack_only))
    app.action(AlertAction.CREATE_CRM_TASK, middleware=[carrying(AlertRef, _value)])(
        settled(create_crm_task, _tell_clicker)
    )
    app.action(AlertAction.SNOOZE, middleware=[carrying(SnoozeRequest, _selected)])(
        settled(snooze, _tell_clicker)
    )
    app.action(AlertAction.UNSNOOZE, middleware=[carrying(SnoozeRef, _value)])(
        settled(unsnooze, _tell_clicker)
    )
    # Opening the form only reads the alert: a failure there has changed nothing.
    app.action(AlertAction.NOT_RELEVANT, middleware=[carrying(AlertRef, _value)])(
        settled(open_not_relevant, _tell_clicker, changes=False)
    )
