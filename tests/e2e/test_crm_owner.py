"""`owner: crm` through a running server: the alert names the HubSpot owner found in Slack by email and
says so, the CRM task is assigned to that owner, and an account whose lookup fails is still alerted,
saying which step failed."""

from __future__ import annotations

import json

import pytest

from bot.config.signals_file import Route
from testkit.hubspot import TOKEN as HUBSPOT_TOKEN
from testkit.hubspot import FakeHubSpot
from tests.conftest import make_settings, serve
from tests.support.alert_clicks import click, post_alert


@pytest.fixture
def fake_hubspot():
    with FakeHubSpot() as server:  # acme.com is owned by 111 (ada@example.com); initech.com by no one
        yield server


def test_the_owner_comes_from_hubspot_and_gets_the_task(db_url, fake_slack, fake_hubspot, example_config):
    fake_slack.add_user("U0ADA", "ada@example.com", "Ada Lovelace")
    config = example_config.model_copy(update={"routing": [Route(channel="C0SIGNALS", owner="crm")]})
    settings = make_settings(
        db_url, fake_slack, hubspot_access_token=HUBSPOT_TOKEN, hubspot_api_url=fake_hubspot.api_url
    )
    with serve(settings, config) as app:
        alert_id, channel, ts = post_alert(app, fake_slack, "acme.com")
        shown = json.dumps(fake_slack.current(channel, ts)["blocks"], ensure_ascii=False)
        assert "Owner <@U0ADA> · owner from HubSpot: Ada Lovelace" in shown
        assert app.services.store.alert(alert_id) is not None

        _, _, other_ts = post_alert(app, fake_slack, "initech.com")
        shown = json.dumps(fake_slack.current(channel, other_ts)["blocks"], ensure_ascii=False)
        assert "No owner: no HubSpot owner for initech.com" in shown and "<@U0" not in shown

        owner_calls = len(fake_hubspot.calls("/crm/v3/owners/111"))
        post_alert(app, fake_slack, "acme.com", event="feature_activated")  # a day's cache: no new lookup
        assert len(fake_hubspot.calls("/crm/v3/owners/111")) == owner_calls == 1
        assert len(fake_slack.calls("users.lookupByEmail")) == 1

        click(app, fake_slack, "create_crm_task", alert_id, channel, ts)
        [task] = fake_hubspot.wait_for(lambda h: h.tasks())
        assert task.properties["hubspot_owner_id"] == "111"
