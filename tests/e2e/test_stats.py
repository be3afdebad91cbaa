"""`/posthog stats` through a running server: alerts, then a task click, a snooze and a not-relevant
submission, then `stats` through a signed slash command, with the numbers a RevOps lead would read;
SQLite and PostgreSQL."""

from __future__ import annotations

import json

from tests.conftest import make_settings, serve
from tests.support.alert_clicks import choose_snooze, click, not_relevant_state, post_alert, submit_view
from tests.support.slack_requests import signed_headers, slash_command


def test_stats_count_what_people_did_with_each_rules_alerts(db_url, fake_slack, example_config):
    with serve(make_settings(db_url, fake_slack), example_config) as app:
        tasked = post_alert(app, fake_slack, "acme.com")
        snoozed = post_alert(app, fake_slack, "initech.com")
        dismissed = post_alert(app, fake_slack, "globex.de")
        post_alert(app, fake_slack, "piedpiper.com")  # no action yet
        click(app, fake_slack, "create_crm_task", tasked[0], tasked[1], tasked[2], response="task")
        fake_slack.wait_for(lambda s: app.services.store.alert(tasked[0]).state.task)
        choose_snooze(app, fake_slack, snoozed[0], "7d", snoozed[1], snoozed[2])
        fake_slack.wait_for(lambda s: app.services.store.alert(snoozed[0]).state.snooze)
        click(app, fake_slack, "not_relevant", dismissed[0], dismissed[1], dismissed[2])
        opened = fake_slack.wait_for(lambda s: s.calls("views.open"))[0]
        view = opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])
        assert submit_view(app, view, not_relevant_state("wrong_fit")).status_code == 200
        fake_slack.wait_for(lambda s: app.services.store.alert(dismissed[0]).state.feedback)

        body = slash_command("stats 7d", fake_slack.response_url("stats"), user="U0NOTAWRITER")
        assert app.http.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200
        reply = fake_slack.wait_for(lambda s: s.responses("stats"), timeout=10)[0]
        assert reply["response_type"] == "ephemeral"
        assert reply["blocks"][0]["text"]["text"] == "Signal stats, last 7 days"
        [line] = [b["text"]["text"] for b in reply["blocks"] if "Trial finished onboarding" in str(b)]
        assert line.startswith("*Trial finished onboarding* · precision 50%")  # 1 task / (1 + 1 dismissed)
        assert "4 alerts · 1 tasks (1 clicked, 0 automatic) · 1 snoozed" in line
        assert "1 not relevant (wrong fit 1) · 1 no action yet" in line

        shared = slash_command("stats 7d --share", fake_slack.response_url("shared"), user="U0NOTAWRITER")
        assert (
            app.http.post("/slack/events", content=shared, headers=signed_headers(shared)).status_code == 200
        )
        [upload] = fake_slack.wait_for(lambda s: s.uploads(), timeout=10)
        assert upload["title"] == "Signals, last 7 days" and upload["data"].startswith(b"\x89PNG")
