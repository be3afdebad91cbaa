"""The Home tab against a running server, with Events API requests signed as Slack signs them: the
`url_verification` handshake, `app_home_opened` publishing the opener's own alerts, snoozes and (for
writers) the week's counts, Unsnooze from the tab, the 100-block cap; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, update

from bot.store.tables import alerts
from testkit.slack import FakeSlack
from tests.conftest import RunningApp, make_settings, serve
from tests.support.alert_clicks import choose_snooze, post_alert, post_interactive, updates
from tests.support.slack_requests import (
    app_home_opened,
    event_callback,
    home_block_actions,
    json_headers,
    url_verification,
)

OWNER = "U0OWNER1"  # examples/signals.yml routes acme.com and initech.com to this owner
WRITER = "U0ADMIN"  # examples/signals.yml: access.writers


@pytest.fixture
def app(db_url, fake_slack, fake_posthog, example_config):
    with serve(make_settings(db_url, fake_slack, fake_posthog), example_config) as running:
        yield running


def open_home(app: RunningApp, user: str, tab: str = "home") -> httpx.Response:
    body = event_callback(app_home_opened(user, tab), event_id=f"Ev{uuid.uuid4().hex[:10].upper()}")
    return app.http.post("/slack/events", content=body, headers=json_headers(body))


def published(fake_slack: FakeSlack, user: str, count: int = 1) -> dict[str, Any]:
    """The `count`-th Home tab published for `user` (waiting for it)."""
    views = fake_slack.wait_for(lambda s: len(s.home_tabs.get(user, [])) >= count and s.home_tabs[user])
    return views[count - 1]


def texts(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def set_owner(app: RunningApp, alert_id: str, owner: str | None) -> None:
    with app.services.store.engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(owner=owner))


def test_the_url_verification_handshake_answers_the_challenge(sqlite_url, fake_slack, example_config):
    with serve(make_settings(sqlite_url, fake_slack), example_config) as app:
        body = url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        response = app.http.post("/slack/events", content=body, headers=json_headers(body))
        assert response.status_code == 200
        assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}

        forged = app.http.post(
            "/slack/events", content=body, headers=json_headers(body, secret="not-the-secret")
        )
        assert forged.status_code == 401
        assert "challenge" not in forged.text

        event = event_callback(app_home_opened(OWNER))
        bad = app.http.post("/slack/events", content=event, headers=json_headers(event, secret="nope"))
        assert bad.status_code == 401
        stale = app.http.post(
            "/slack/events", content=event, headers=json_headers(event, at=int(time.time()) - 301)
        )
        assert stale.status_code == 401

        # The Messages tab publishes nothing; the Home tab does.
        assert open_home(app, OWNER, tab="messages").status_code == 200
        assert open_home(app, OWNER).status_code == 200
        published(fake_slack, OWNER)
        assert len(fake_slack.calls("views.publish")) == 1


def test_app_home_opened_publishes_the_openers_alerts_snoozes_and_writers_stats(app, fake_slack):
    acme_id, channel, acme_ts = post_alert(app, fake_slack)
    initech_id, _, _ = post_alert(app, fake_slack, domain="initech.com")
    set_owner(app, initech_id, "U0OTHER")  # someone else's alert
    assert choose_snooze(app, fake_slack, acme_id, "7d", channel, acme_ts).status_code == 200
    fake_slack.wait_for(lambda s: updates(s, channel, acme_ts))

    sent = time.monotonic()
    response = open_home(app, OWNER)
    assert response.status_code == 200
    view = published(fake_slack, OWNER)
    assert time.monotonic() - sent < 3  # inside Slack's 3 seconds
    assert view["type"] == "home"
    blocks = view["blocks"]
    [alert] = [b for b in blocks if "Score " in b.get("text", {}).get("text", "")]
    text = alert["text"]["text"]
    assert text.startswith("*Acme Corp* · Trial finished onboarding\n")
    assert "snoozed until" in text
    assert f"<https://test.slack.com/archives/{channel}/p{acme_ts.replace('.', '')}|Open message>" in text
    assert "initech" not in texts(view).lower()  # only the opener's own alerts
    [snooze] = [b for b in blocks if b.get("accessory")]
    assert snooze["accessory"]["action_id"] == "unsnooze"
    assert "acme.com" in snooze["text"]["text"]
    assert "per signal" not in texts(view)  # not a writer

    other = published(fake_slack, "U0OTHER") if open_home(app, "U0OTHER").status_code == 200 else None
    assert other is not None and "Initech" in texts(other) and "Acme" not in texts(other)
    assert "None of your accounts is snoozed." in texts(other)

    assert open_home(app, WRITER).status_code == 200
    stats = published(fake_slack, WRITER)
    assert "No alerts were routed to you" in texts(stats)
    assert "This week, per signal" in texts(stats)
    assert (
        "*Trial finished onboarding* · precision –\\n2 events · 2 alerts · 0 tasks · 1 snoozed · "
        "0 not relevant" in texts(stats)
    )


def test_unsnooze_on_the_home_tab_is_for_the_alerts_owner(app, fake_slack):
    alert_id, channel, ts = post_alert(app, fake_slack)
    choose_snooze(app, fake_slack, alert_id, "30d", channel, ts)
    fake_slack.wait_for(lambda s: updates(s, channel, ts))
    open_home(app, OWNER)
    button = next(b["accessory"] for b in published(fake_slack, OWNER)["blocks"] if b.get("accessory"))
    action = {
        "type": "button",
        "action_id": button["action_id"],
        "block_id": "b",
        "value": button["value"],
        "text": {"type": "plain_text", "text": "Unsnooze"},
    }
    store = app.services.store

    # Someone else clicking it (a forged click: the tab never showed it to them) ends nothing.
    assert post_interactive(app, home_block_actions(action, "U0AE")).status_code == 200
    refused = published(fake_slack, "U0AE")
    assert "Only the owner of the alert" in texts(refused)
    assert store.account_state("acme.com", time.time()).snoozed_until is not None

    assert post_interactive(app, home_block_actions(action, OWNER)).status_code == 200
    again = published(fake_slack, OWNER, count=2)
    assert "Alerts for acme.com are back on." in texts(again)
    assert "None of your accounts is snoozed." in texts(again)
    assert store.account_state("acme.com", time.time()).snoozed_until is None
    fake_slack.wait_for(lambda s: len(updates(s, channel, ts)) >= 2)
    assert f"Unsnoozed by <@{OWNER}>" in json.dumps(fake_slack.current(channel, ts)["blocks"])
    assert fake_slack.responses() == []  # a Home tab click has no response_url to answer on

    # Once over, clicking again says so.
    post_interactive(app, home_block_actions(action, OWNER))
    assert "That snooze is already over." in texts(published(fake_slack, OWNER, count=3))


def test_a_busy_owner_gets_at_most_100_blocks_and_how_many_more(app, fake_slack):
    now = time.time()
    rows = [
        {
            "id": uuid.uuid4().hex,
            "event_uuid": str(uuid.uuid4()),
            "signal": "Trial finished onboarding",
            "account": f"account{i}.com",
            "channel": "C0AE1",
            "owner": OWNER,
            "score": 70,
            "message": "{}",
            "status": "posted",
            "ts": f"{int(now)}.{i:06d}",
            "posted_channel": "C0AE1",
            "received_at": now - i,
            "created_at": now - i,
            "request_id": "r",
            "details": json.dumps({"account_label": f"<!channel> Account {i}"}),
            "state": "{}",
        }
        for i in range(130)
    ]
    with app.services.store.engine.begin() as conn:
        conn.execute(insert(alerts), rows)
    assert open_home(app, OWNER).status_code == 200
    view = published(fake_slack, OWNER)
    assert len(view["blocks"]) <= 100
    assert "and 90 more" in texts(view)
    assert "&lt;!channel&gt; Account 0" in texts(view)  # newest first, escaped
    assert "<!channel>" not in texts(view)
