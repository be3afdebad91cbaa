"""A PostHog event arrives on the webhook and an enriched, scored, routed alert lands in Slack."""

from __future__ import annotations

from tests.conftest import make_settings, serve, webhook_body


def test_event_becomes_alert_in_owner_channel(db_url, fake_slack, fake_posthog, example_config):
    settings = make_settings(db_url, fake_slack, fake_posthog)
    with serve(settings, example_config) as app:
        body = webhook_body(properties={"plan": "trial", "company_domain": "acme.com"})
        response = app.post_webhook(body)
        assert response.status_code == 202
        assert response.json() == {"accepted": 1, "duplicates": 0}
        posted = fake_slack.wait_for(lambda s: s.posted())
        message = posted[0]
        assert message["channel"] == "C0AE1"
        assert "Acme Corp" in message["text"]
        header = message["blocks"][0]
        assert header["type"] == "header"
        assert "Acme Corp" in header["text"]["text"]
        summary = message["blocks"][1]["text"]["text"]
        assert summary.startswith(
            "Trial user from Acme Corp finished onboarding. Series B fintech, 240 people."
        )
        assert message["metadata"]["event_type"] == "posthog_signal"
        actions = message["blocks"][-1]["elements"]
        assert [e["action_id"] for e in actions] == [
            "create_crm_task",
            "snooze",
            "not_relevant",
            "open_posthog",
        ]
        fake_posthog.wait_for(lambda s: s.captured("$set"))
        person_set = fake_posthog.captured("$set")[0]
        assert person_set["$set"]["company_name"] == "Acme Corp"
        assert person_set["distinct_id"] == "u_1"
