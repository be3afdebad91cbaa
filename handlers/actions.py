"""The alert's controls. Every listener acks first (Slack's 3 seconds), then calls `bot.actions.controls`;
anything the clicker should know comes back as an ephemeral message on the action's response_url.

`open_posthog` and `open_crm_task` are URL buttons: Slack opens the link itself and still sends a
click, which only needs an ack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.controls import ControlError
from bot.slack import ids
from bot.slack.blocks.panels import not_relevant_modal
from handlers import settled

if TYPE_CHECKING:
    from bot.app.container import Services


async def ack_only(ack: AsyncAck) -> None:
    await ack()


async def _tell(respond: AsyncRespond, text: str | None) -> None:
    if text:
        await respond(text=text, response_type="ephemeral", replace_original=False)


def _message_ts(body: dict[str, Any]) -> str | None:
    return (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")


def _channel(body: dict[str, Any]) -> str:
    return str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")


def register(app: AsyncApp, services: Services) -> None:
    controls = services.controls

    async def create_crm_task(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        try:
            note = await controls.create_task(
                client, str(action.get("value", "")), body["user"]["id"], _channel(body)
            )
        except ControlError as exc:
            note = str(exc)
        await _tell(respond, note)

    async def snooze(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        alert_id, _, choice = str((action.get("selected_option") or {}).get("value", "")).partition(":")
        try:
            await controls.snooze(
                client, alert_id, choice, body["user"]["id"], _channel(body), _message_ts(body)
            )
        except ControlError as exc:
            await _tell(respond, str(exc))

    async def unsnooze(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        try:
            note = await controls.unsnooze(
                client, str(action.get("value", "")), body["user"]["id"], _channel(body)
            )
        except ControlError as exc:
            note = str(exc)
        await _tell(respond, note)

    async def not_relevant(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        channel = _channel(body)
        try:
            record = await controls.alert(str(action.get("value", "")), channel)
        except ControlError as exc:
            await _tell(respond, str(exc))
            return
        title = f"{record.details.account_label}: {record.signal}"
        # The trigger_id expires within seconds: open the modal before anything slow.
        try:
            await client.views_open(
                trigger_id=body["trigger_id"], view=not_relevant_modal(record.id, channel, title)
            )
        except SlackApiError as exc:
            await _tell(respond, f"Slack did not open the form ({exc.response.get('error')}); click again.")

    app.action(ids.OPEN_POSTHOG)(settled(ack_only))
    app.action(ids.OPEN_CRM_TASK)(settled(ack_only))
    app.action(ids.CREATE_CRM_TASK)(settled(create_crm_task))
    app.action(ids.SNOOZE)(settled(snooze))
    app.action(ids.UNSNOOZE)(settled(unsnooze))
    app.action(ids.NOT_RELEVANT)(settled(not_relevant))
