"""Alerts in a real store as the worker leaves them, for tests that drive the alert's controls
directly: committed through the inbox like a decided event, posted with the real Slack client to the
fake Slack, and read back as a person reads the message."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.model import AlertDetails
from bot.alerts.summary_template import template_summary
from bot.slack.blocks.alert import alert_message
from bot.store import NewAlert, Store
from testkit.slack import FakeSlack
from tests.support import stored
from tests.support.factories import acme_facts

WORKER = "w1"
CHANNEL = "C0AE1"  # where examples/signals.yml routes acme.com, owned by U0OWNER1


def acme_alert(**overrides: Any) -> AlertDetails:
    """Jane from Acme Corp finished onboarding (`acme_facts`), with the template's summary. Tests
    share a store, so each alert has an id, an event and an account of its own unless told."""
    unique = uuid.uuid4()
    own = {"alert_id": unique.hex, "event_uuid": str(unique), "account_key": f"{unique.hex[:8]}.acme.com"}
    facts = acme_facts(**{**own, **overrides})
    return AlertDetails.of(facts, template_summary(facts))


def commit_alert(store: Store, details: AlertDetails) -> None:
    """The alert as the worker commits it: its event ingested, claimed and decided, the alert waiting
    to be posted."""
    alert = NewAlert(details, alert_message(details), cooldown_s=86_400)
    _, commit = stored.decide(
        store, alert, worker=WORKER, event_uuid=details.event_uuid, received_at=time.time()
    )
    assert commit.alerts_created == [details.alert_id]


async def post_alert(
    store: Store, slack: AsyncWebClient, details: AlertDetails, answer_stored: bool = True
) -> str:
    """Commit the alert and post it as delivery does; returns its ts. With `answer_stored` false,
    Slack has the message but the store has not yet recorded its ts (a click can come first)."""
    commit_alert(store, details)
    claimed = store.claim_alert(details.alert_id, WORKER, 60)
    assert claimed is not None
    answer = await slack.chat_postMessage(channel=claimed.channel, **claimed.message)
    if answer_stored:
        assert store.mark_posted(details.alert_id, WORKER, answer["channel"], answer["ts"])
    return str(answer["ts"])


@dataclass(frozen=True)
class Shown:
    """An alert message as a person reads it: what was done with it, its controls, and the rest."""

    state: list[str]  # the lines saying what was done with the alert
    controls: dict[str, dict[str, Any]]  # action_id -> element, in order
    block_ids: list[str]
    rest: list[dict[str, Any]]  # header, summary, fields, breakdown, context lines

    @classmethod
    def of(cls, message: dict[str, Any]) -> Shown:
        state: list[str] = []
        controls: dict[str, dict[str, Any]] = {}
        rest = []
        for block in message["blocks"]:
            block_id = block.get("block_id", "")
            if block_id.startswith("alert_state:"):
                state = [element["text"] for element in block["elements"]]
            elif block["type"] == "actions":
                controls = {element["action_id"]: element for element in block["elements"]}
            else:
                rest.append(block)
        ids = [b["block_id"] for b in message["blocks"] if b.get("block_id", "").startswith("alert_")]
        return cls(state, controls, ids, rest)

    @property
    def header(self) -> str:
        return next(block["text"]["text"] for block in self.rest if block["type"] == "header")


def shown(fake_slack: FakeSlack, ts: str, channel: str = CHANNEL) -> Shown:
    """The message at `ts` as it reads now, after any chat.update."""
    message = fake_slack.current(channel, ts)
    assert message is not None, f"no message {ts} in {channel}"
    return Shown.of(message)
