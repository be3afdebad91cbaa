"""A PostHog event arrives on the webhook and an enriched, scored, routed alert lands in Slack."""

from __future__ import annotations

import json

from testkit.webhook_bodies import activation, webhook_body
from tests.conftest import make_settings, serve


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


HOSTILE = "<!channel> <!here> <@U0CEO> <#C0GENERAL> <https://evil.example|PostHog login> & co"


def _mrkdwn_texts(message: dict) -> list[str]:
    texts = [message["text"]]
    for block in message["blocks"]:
        for obj in [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]:
            if isinstance(obj, dict) and obj.get("type") == "mrkdwn":
                texts.append(obj["text"])
    return texts


def test_hostile_event_data_reaches_slack_escaped_and_within_limits(sqlite_url, fake_slack, example_config):
    with serve(make_settings(sqlite_url, fake_slack), example_config) as app:
        body = webhook_body(
            "feature_activated",
            properties={
                "feature_name": "api_integration",
                "$groups": {"company": "evil-corp"},
                "plan": HOSTILE + "x" * 300_000,
            },
            person={
                "id": "p1",
                "name": HOSTILE,
                "url": "javascript:alert(1)",
                "properties": {"email": "mallory@evilcorp.example", "name": HOSTILE + "\x00\x1b[31m"},
            },
            groups={
                "company": {
                    "id": "evil-corp",
                    "properties": {"name": HOSTILE, "industry": "x" * 50_000, "employees": "<!everyone>"},
                }
            },
        )
        assert app.post_webhook(body).status_code == 202
        message = fake_slack.wait_for(lambda s: s.posted())[0]  # the fake rejects what Slack would reject
        for text in _mrkdwn_texts(message):
            for token in (
                "<!channel>",
                "<!here>",
                "<!everyone>",
                "<@U0CEO>",
                "<#C0GENERAL>",
                "<https://evil",
            ):
                assert token not in text
            assert "\x00" not in text and "\x1b" not in text
        assert "&lt;!channel&gt;" in message["blocks"][1]["text"]["text"]
        assert "javascript:" not in str(message)


INVISIBLE = "\u202e\u200b\u2066\ufeff\u200d"


def test_invisible_characters_and_line_breaks_do_not_reach_slack(sqlite_url, fake_slack, example_config):
    with serve(make_settings(sqlite_url, fake_slack), example_config) as app:
        body = webhook_body(
            "feature_activated",
            distinct_id="u_bidi",
            properties={
                "feature_name": "api_integration",
                "$groups": {"company": "bidi-corp"},
                "plan": "trial\u2028\u202eylno\u200b\r\nplus",
            },
            person={
                "id": "p1",
                "name": "Jane\u202e eoD\u200b\nCEO",
                "properties": {"email": "jane@bidi.example", "name": "Jane\u202e eoD\u200b\nCEO"},
            },
            groups={"company": {"id": "bidi-corp", "properties": {"name": "Bidi\u202e\u200b\nCorp\u2066"}}},
        )
        assert app.post_webhook(body).status_code == 202
        message = fake_slack.wait_for(lambda s: s.posted())[0]
    blocks = message["blocks"]
    assert not any(char in json.dumps(message, ensure_ascii=False) for char in INVISIBLE)
    assert blocks[0]["text"]["text"] == "Bidi Corp: API integration activated"
    assert message["text"].startswith("Bidi Corp: API integration activated (ICP ")
    assert "\n" not in message["text"]
    assert blocks[1]["text"]["text"].startswith("Trial user from Bidi Corp activated the API integration.")
    fields = {f["text"].split("\n", 1)[0]: f["text"].split("\n", 1)[1] for f in blocks[2]["fields"]}
    assert fields["*Company*"] == "Bidi Corp"
    assert fields["*Plan*"] == "trial ylno plus"
    event_line = blocks[-2]["elements"][0]["text"]
    assert " · Jane eoD CEO · " in event_line and "\n" not in event_line


def test_each_channel_is_paced_to_one_message_per_second(sqlite_url, fake_slack, example_config):
    from tests.conftest import fast_tuning

    tuning = fast_tuning(channel_interval_s=1.0, channel_burst=1)  # no burst: the pace alone
    with serve(make_settings(sqlite_url, fake_slack), example_config, tuning) as app:
        same_channel = [activation(f"team{i}.example.com", distinct_id=f"u{i}") for i in range(3)]
        other_channel = activation("globex.de")
        app.post_webhook([*same_channel, other_channel])
        fake_slack.wait_for(lambda s: len(s.posted()) == 4, timeout=10)
    posts = [r for r in fake_slack.requests if r.path == "/api/chat.postMessage"]
    by_channel: dict[str, list[float]] = {}
    for request in posts:
        by_channel.setdefault(fake_slack.args(request)["channel"], []).append(request.at)
    gaps = [b - a for a, b in zip(by_channel["C0SIGNALS"], by_channel["C0SIGNALS"][1:], strict=False)]
    assert len(gaps) == 2 and all(gap >= 0.95 for gap in gaps)
    assert by_channel["C0EMEA"][0] - by_channel["C0SIGNALS"][0] < 0.9  # another channel is not held up


def test_company_group_gets_enrichment_written_back(sqlite_url, fake_slack, fake_posthog, example_config):
    with serve(make_settings(sqlite_url, fake_slack, fake_posthog), example_config) as app:
        body = webhook_body(
            "feature_activated",
            distinct_id="u_alice",
            properties={"feature_name": "api_integration", "$groups": {"company": "umbrella.co.uk"}},
            groups={"company": {"id": "umbrella.co.uk", "properties": {"name": "Umbrella Analytics"}}},
        )
        app.post_webhook(body)
        group = fake_posthog.wait_for(lambda s: s.captured("$groupidentify"))[0]
        assert group["properties"]["$group_type"] == "company"
        assert group["properties"]["$group_key"] == "umbrella.co.uk"
        assert group["properties"]["$group_set"]["employees"] == 430
        assert group["properties"]["$group_set"]["icp_score"] == 100
        person = fake_posthog.wait_for(lambda s: s.captured("$set"))[0]
        assert person["distinct_id"] == "u_alice"
        assert person["$set"]["company_domain"] == "umbrella.co.uk"
