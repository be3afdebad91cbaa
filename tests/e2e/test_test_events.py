"""`/posthog test` through a running server: the event it captures comes back from PostHog's destination
to the webhook, as it does in production, and is recorded, never alerted: no Slack post, no cooldown,
no write-back, no automatic CRM task, and `/posthog why` says so. A customer's own `test: true` on an
event still alerts; only the bot's `$lib` makes it ours. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.config.signals_file import AutoTask
from testkit.hubspot import TOKEN as HUBSPOT_TOKEN
from testkit.hubspot import FakeHubSpot
from testkit.webhook_bodies import webhook_body
from tests.conftest import make_settings, serve
from tests.support.slack_requests import signed_headers, slash_command

TASKS = "/crm/v3/objects/tasks"
NEVER_ALERTED = "a /posthog test event: shown to whoever sent it, never alerted"
QUIET_S = 1.0  # how long nothing may happen: the worker polls every 0.05 s, delivery every 0.1 s


def _with_auto_tasks(example_config):
    """The example signals, `Trial finished onboarding` creating its CRM task by itself."""
    signals = [
        s.model_copy(update={"auto_task": AutoTask(min_score=0)})
        if s.name == "Trial finished onboarding"
        else s
        for s in example_config.signals
    ]
    return example_config.model_copy(update={"signals": signals})


def _command(app, fake_slack, text: str, name: str, user: str = "U0ADMIN") -> dict[str, Any]:
    body = slash_command(text, fake_slack.response_url(name), user=user)
    assert app.http.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200
    return fake_slack.wait_for(lambda s: s.responses(name), timeout=10)[0]


def _back_from_posthog(captured: dict[str, Any]) -> dict[str, Any]:
    """The webhook body PostHog's destination sends for an event the SDK captured: same uuid, distinct
    id and properties."""
    return webhook_body(
        captured["event"],
        uuid_=captured["uuid"],
        distinct_id=captured["distinct_id"],
        properties=captured["properties"],
    )


def test_the_test_event_back_from_posthog_never_alerts_and_leaves_the_account_alone(
    db_url, fake_slack, fake_posthog, example_config
):
    with FakeHubSpot() as hubspot:
        settings = make_settings(
            db_url,
            fake_slack,
            fake_posthog,
            hubspot_access_token=HUBSPOT_TOKEN,
            hubspot_api_url=hubspot.api_url,
        )
        with serve(settings, _with_auto_tasks(example_config)) as app:
            reply = _command(
                app, fake_slack, "test onboarding_completed u_42 plan=trial company_domain=acme.com", "t"
            )
            assert "would alert <#C0AE1>" in reply["text"]  # the dry run shows the alert to its sender
            assert "never alerted" in reply["text"]
            [captured] = fake_posthog.wait_for(lambda s: s.captured("onboarding_completed"))
            assert captured["properties"]["test"] is True

            test_body = _back_from_posthog(captured)
            assert app.post_webhook(test_body).status_code == 202
            [entry] = app.wait_decided([captured["uuid"]])
            assert entry["outcome"] == "filtered" and entry["account"] == "acme.com"
            assert entry["signals"] == [
                {"signal": "Trial finished onboarding", "outcome": "filtered", "reason": NEVER_ALERTED}
            ]
            time.sleep(QUIET_S)
            assert fake_slack.posted() == []  # no alert in the AE channel
            assert fake_posthog.captured("$set") == [] and fake_posthog.captured("$groupidentify") == []
            assert hubspot.calls(TASKS) == []  # no automatic CRM task

            why = _command(app, fake_slack, "why acme.com", "why", user="U0AE")
            text = json.dumps(why["blocks"], ensure_ascii=False)
            assert NEVER_ALERTED in text and "in cooldown until" not in text

            real = webhook_body(
                "onboarding_completed", properties={"plan": "trial", "company_domain": "acme.com"}
            )
            assert app.post_webhook(real).status_code == 202
            [message] = fake_slack.wait_for(lambda s: s.posted())  # the account's cooldown was untouched
            assert message["channel"] == "C0AE1" and "Acme Corp" in message["text"]
            assert app.wait_decided([real["event"]["uuid"]])[0]["outcome"] == "alerted"
            hubspot.wait_for(lambda h: h.tasks())
            assert len(hubspot.calls(TASKS)) == 1


@pytest.mark.parametrize(
    "markers",
    [{"test": True, "$lib": "web"}, {"test": True}, {"test": "true", "$lib": "posthog-python"}],
    ids=["web", "no-lib", "python"],
)
def test_a_customers_own_test_property_still_alerts(sqlite_url, fake_slack, example_config, markers):
    with serve(make_settings(sqlite_url, fake_slack), example_config) as app:
        body = webhook_body(
            "onboarding_completed", properties={"plan": "trial", "company_domain": "acme.com", **markers}
        )
        assert app.post_webhook(body).status_code == 202
        [message] = fake_slack.wait_for(lambda s: s.posted())
        assert message["channel"] == "C0AE1"
        assert app.wait_decided([body["event"]["uuid"]])[0]["outcome"] == "alerted"
