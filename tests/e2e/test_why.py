"""`/posthog why` through a running server, as an AE asks it after expecting an alert: signed slash
commands, answered on `response_url` with the account's latest events (each signal's outcome and
reason), its score now with the breakdown, and the snooze and cooldowns in force; SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import time

from testkit.webhook_bodies import webhook_body
from tests.conftest import make_settings, serve
from tests.support.slack_requests import signed_headers, slash_command


def _ask(app, fake_slack, text: str, name: str) -> dict:
    body = slash_command(f"why {text}", fake_slack.response_url(name), user="U0AE")
    assert app.http.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200
    return fake_slack.wait_for(lambda s: s.responses(name), timeout=10)[0]


def _decided(app, uuids: list[str]) -> None:
    deadline = time.time() + 10
    while len(app.services.store.ledger_entries(uuids)) < len(uuids):
        assert time.time() < deadline, "not decided in time"
        time.sleep(0.02)


def test_why_tells_an_accounts_story_newest_first_with_its_score_and_cooldowns(
    db_url, fake_slack, example_config
):
    acme = {"company_domain": "acme.com"}
    bodies = [
        webhook_body("onboarding_completed", properties={**acme, "plan": "trial"}),  # alerts
        webhook_body("onboarding_completed", properties={**acme, "plan": "team"}),  # filtered
        webhook_body("onboarding_completed", properties={**acme, "plan": "trial"}),  # cooldown
        webhook_body("onboarding_completed", properties={"company_domain": "globex.de", "plan": "trial"}),
    ]
    for n, body in enumerate(bodies):  # in event time, a minute apart
        body["event"]["timestamp"] = time.strftime(
            "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 600 + 60 * n)
        )
    with serve(make_settings(db_url, fake_slack), example_config) as app:
        for body in bodies:
            assert app.post_webhook(body).status_code == 202
            _decided(app, [body["event"]["uuid"]])
        reply = _ask(app, fake_slack, "acme.com", "why")
        assert reply["response_type"] == "ephemeral"
        text = json.dumps(reply["blocks"], ensure_ascii=False)
        assert reply["blocks"][0]["text"]["text"] == "Why: Acme Corp"
        assert "Scores 90/100 now" in text and "Company size" in text  # the work email is unknown here
        assert "*Trial finished onboarding* in cooldown until" in text
        story = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"][-1]
        lines = story.split("\n")
        assert "cooldown" in lines[0] and "needs properties.plan is trial (got 'team')" in lines[1]
        assert "alerted: routed to C0AE1" in lines[2]
        assert "globex" not in text  # another account's event is not in this story

        by_email = _ask(app, fake_slack, "<mailto:jane@acme.com|jane@acme.com>", "email")
        assert by_email["blocks"][0]["text"]["text"] == "Why: Acme Corp"  # the email's company

        nobody = _ask(app, fake_slack, "u_nobody", "nobody")
        assert "No events of u_nobody are in the ledger" in json.dumps(nobody["blocks"])


def test_why_of_a_distinct_id_tells_the_story_of_the_account_its_events_counted_for(
    db_url, fake_slack, example_config
):
    """An AE pastes a person's id from PostHog: the answer is the company the person's events were
    counted for (its events, score and cooldowns), not only the person's own."""
    acme = {"company_domain": "acme.com", "plan": "trial"}
    bodies = [
        webhook_body("onboarding_completed", properties=acme, distinct_id="u_ann"),  # alerts
        webhook_body("onboarding_completed", properties=acme, distinct_id="u_bob"),  # cooldown
    ]
    with serve(make_settings(db_url, fake_slack), example_config) as app:
        for body in bodies:
            assert app.post_webhook(body).status_code == 202
            _decided(app, [body["event"]["uuid"]])
        reply = _ask(app, fake_slack, "u_bob", "why-bob")
        text = json.dumps(reply["blocks"], ensure_ascii=False)
        assert reply["blocks"][0]["text"]["text"] == "Why: Acme Corp"
        assert "Scores" in text and "*Trial finished onboarding* in cooldown until" in text
        story = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"][-1]
        assert "cooldown" in story and "alerted: routed to C0AE1" in story  # ann's alert too
