"""What an operator watches: /healthz, /metrics from the ledger, and one id followed in the logs."""

from __future__ import annotations

import logging
import re
import time

from testkit.webhook_bodies import webhook_body
from tests.conftest import make_settings, serve


def test_healthz_reports_the_store(sqlite_url, fake_slack, example_config):
    with serve(make_settings(sqlite_url, fake_slack), example_config) as app:
        response = app.http.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "store": "sqlite", "queue_depth": 0}


def test_metrics_follow_the_ledger(db_url, fake_slack, example_config):
    with serve(make_settings(db_url, fake_slack), example_config) as app:
        alerted = webhook_body(properties={"plan": "trial", "company_domain": "acme.com"})
        filtered = webhook_body("$pageview")
        below = webhook_body(properties={"plan": "trial", "company_domain": "hooli.io"})
        app.post_webhook([alerted, filtered, below])
        app.post_webhook("not an event")
        app.wait_decided([b["event"]["uuid"] for b in (alerted, below)])
        assert sum(app.totals().values()) == 1  # filtered: counted, not stored
        fake_slack.wait_for(lambda s: s.posted())
        text = ""
        for _ in range(50):
            text = app.http.get("/metrics").text
            if "signals_alerts_posted_total 1.0" in text and 'outcome="filtered"' in text:
                break
            time.sleep(0.02)
        assert 'signals_webhook_events_total{result="accepted"} 3.0' in text
        assert 'signals_webhook_events_total{result="rejected"} 1.0' in text
        assert 'signals_outcomes_total{outcome="alerted"} 1.0' in text
        assert 'signals_outcomes_total{outcome="filtered"} 1.0' in text
        assert 'signals_outcomes_total{outcome="below_threshold"} 1.0' in text
        assert "signals_alerts_posted_total 1.0" in text
        assert "signals_queue_depth 0.0" in text
        assert "signals_webhook_to_slack_seconds_count 1.0" in text
        assert 'signals_enrichment_calls_total{provider="file",result="hit"}' in text
        assert re.search(r'signals_summaries_total\{kind="template"\} 1\.0', text)


def test_one_request_id_from_webhook_to_slack(sqlite_url, fake_slack, example_config, caplog):
    caplog.set_level(logging.DEBUG)
    with serve(make_settings(sqlite_url, fake_slack), example_config) as app:
        body = webhook_body(properties={"plan": "trial", "company_domain": "acme.com"})
        app.http.post(
            "/posthog/webhook",
            json=body,
            headers={"Authorization": "Bearer test-webhook-secret", "webhook-id": "msg_trace_1"},
        )
        fake_slack.wait_for(lambda s: s.posted())
        app.wait_decided([body["event"]["uuid"]])
    traced = [r for r in caplog.records if getattr(r, "request_id", None) == "msg_trace_1"]
    messages = [r.getMessage() for r in traced]
    assert "webhook stored" in messages
    assert "event decided" in messages
    assert "alert posted" in messages
    posted = next(r for r in traced if r.getMessage() == "alert posted")
    assert posted.event_uuid == body["event"]["uuid"]
    secrets = ("test-webhook-secret", "xoxb-test-token", "test-signing-secret")
    assert not any(s in caplog.text for s in secrets)
