"""`POST /posthog/webhook` through a real running server: auth, limits, shapes, statuses, dedupe."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest

from bot.store import tables
from testkit.webhook_bodies import WEBHOOK_SECRET, webhook_body
from tests.conftest import make_settings, serve
from tests.support import stored

SIGNING_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
def app(sqlite_url, fake_slack, example_config):
    settings = make_settings(sqlite_url, fake_slack, posthog_webhook_signing_secret=SIGNING_SECRET)
    with serve(settings, example_config) as running:
        yield running


def _signed_headers(body: bytes, msg_id: str = "msg_1", at: int | None = None) -> dict[str, str]:
    timestamp = str(at if at is not None else int(time.time()))
    key = base64.b64decode(SIGNING_SECRET.removeprefix("whsec_"))
    signature = base64.b64encode(
        hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{signature.decode()}",
        "content-type": "application/json",
    }


def test_bearer_and_x_webhook_secret_are_both_accepted(app):
    assert app.post_webhook(webhook_body()).status_code == 202
    response = app.http.post(
        "/posthog/webhook", json=webhook_body(), headers={"X-Webhook-Secret": WEBHOOK_SECRET}
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {WEBHOOK_SECRET}"},
        {"X-Webhook-Secret": WEBHOOK_SECRET + "x"},
        {"X-Webhook-Secret": ""},
    ],
)
def test_wrong_or_missing_secret_is_401_and_nothing_is_stored(app, headers):
    body = webhook_body()
    response = app.http.post("/posthog/webhook", json=body, headers=headers)
    assert response.status_code == 401
    assert "credential" in response.json()["error"]
    assert app.services.store.ledger_entries([body["event"]["uuid"]]) == []


def test_standard_webhooks_signature_is_accepted(app):
    raw = json.dumps(webhook_body()).encode()
    response = app.http.post("/posthog/webhook", content=raw, headers=_signed_headers(raw))
    assert response.status_code == 202


def test_standard_webhooks_rejects_tampering_and_stale_timestamps(app):
    raw = json.dumps(webhook_body()).encode()
    tampered = app.http.post("/posthog/webhook", content=raw + b" ", headers=_signed_headers(raw))
    assert tampered.status_code == 401
    stale = app.http.post(
        "/posthog/webhook", content=raw, headers=_signed_headers(raw, at=int(time.time()) - 301)
    )
    assert stale.status_code == 401


def test_invalid_json_is_400(app):
    response = app.http.post(
        "/posthog/webhook", content=b"{not json", headers={"Authorization": f"Bearer {WEBHOOK_SECRET}"}
    )
    assert response.status_code == 400
    assert "invalid JSON" in response.json()["error"]


@pytest.mark.parametrize("body", [[1, 2], "text", 42, None])
def test_non_object_json_is_400(app, body):
    response = app.post_webhook(body)
    assert response.status_code == 400


def test_missing_uuid_or_event_name_is_400_naming_the_field(app):
    body = webhook_body()
    del body["event"]["uuid"]
    response = app.post_webhook(body)
    assert response.status_code == 400
    assert "event.uuid is missing" in response.json()["error"]

    body = webhook_body()
    del body["event"]["event"]
    response = app.post_webhook(body)
    assert response.status_code == 400
    assert "event name" in response.json()["error"]


def test_legacy_action_webhook_body_is_422_with_advice(app):
    response = app.post_webhook({"text": "Trial started triggered by jane@acme.com", "blocks": []})
    assert response.status_code == 422
    assert "default body" in response.json()["error"]


def test_body_over_the_limit_is_413(app):
    body = webhook_body(properties={"blob": "x" * (2 * 1024 * 1024)})
    response = app.post_webhook(body)
    assert response.status_code == 413


def test_chunked_body_over_the_limit_is_413(app):
    def chunks():
        yield b'{"event": {"uuid": "x", "event": "e", "properties": {"blob": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}}}'

    response = app.http.post(
        "/posthog/webhook", content=chunks(), headers={"Authorization": f"Bearer {WEBHOOK_SECRET}"}
    )
    assert response.status_code == 413


def test_deeply_nested_json_is_400_not_a_crash(app):
    raw = b'{"event": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = app.http.post(
        "/posthog/webhook", content=raw, headers={"Authorization": f"Bearer {WEBHOOK_SECRET}"}
    )
    assert response.status_code == 400


def test_old_payload_shape_is_accepted(app):
    body = webhook_body()
    body["event"]["name"] = body["event"].pop("event")
    body["person"]["uuid"] = body["person"].pop("id")
    response = app.post_webhook(body)
    assert response.status_code == 202
    entries = app.wait_decided([body["event"]["uuid"]])
    assert entries[0]["event_name"] == "onboarding_completed"


def test_batch_reports_accepted_and_duplicates(app):
    bodies = [webhook_body() for _ in range(3)]
    bodies.append(bodies[0])
    response = app.post_webhook(bodies)
    assert response.status_code == 202
    assert response.json() == {"accepted": 3, "duplicates": 1}


def test_empty_batch_is_400(app):
    assert app.post_webhook([]).status_code == 400


def test_trailing_slash_is_served_not_redirected(app):
    response = app.http.post(
        "/posthog/webhook/", json=webhook_body(), headers={"Authorization": f"Bearer {WEBHOOK_SECRET}"}
    )
    assert response.status_code == 202


def test_redelivery_is_a_counted_duplicate_and_alerts_once(db_url, fake_slack, example_config):
    settings = make_settings(db_url, fake_slack)
    with serve(settings, example_config) as app:
        body = webhook_body(properties={"plan": "trial", "company_domain": "acme.com"})
        assert app.post_webhook(body).json() == {"accepted": 1, "duplicates": 0}
        assert app.post_webhook(body).json() == {"accepted": 0, "duplicates": 1}
        app.wait_decided([body["event"]["uuid"]])
        fake_slack.wait_for(lambda s: s.posted())
        assert app.post_webhook(body).json() == {"accepted": 0, "duplicates": 1}
        time.sleep(0.3)
        assert len(fake_slack.posted()) == 1
        metrics = app.http.get("/metrics").text
        assert 'signals_webhook_events_total{result="duplicate"} 2.0' in metrics
        assert 'signals_webhook_events_total{result="accepted"} 1.0' in metrics


def test_events_no_signal_wants_are_counted_by_name_and_minute_not_stored(app):
    body = webhook_body("$pageview", properties={"$current_url": "https://example.com/pricing"})
    sent, answer, answered = time.time(), app.post_webhook(body), time.time()
    assert answer.status_code == 202 and answer.json() == {"accepted": 1, "duplicates": 0}
    totals = app.totals()
    assert list(totals.values()) == [1]
    assert next(iter(totals)) in {(stored.minute(at), "$pageview") for at in (sent, answered)}
    assert 'signals_outcomes_total{outcome="filtered"} 1.0' in app.http.get("/metrics").text
    event_uuid = body["event"]["uuid"]
    assert app.services.store.ledger_entries([event_uuid]) == []
    assert stored.row(app.services.store, tables.inbox, uuid=event_uuid) is None


def test_an_event_no_signal_wants_is_counted_each_time_it_is_delivered_and_once_per_request(app):
    """Within a request a repeated uuid is a duplicate, whatever the event; across requests an event
    no signal wants is not looked up (it is not stored), so a redelivery is counted again."""
    pageview, matching = webhook_body("$pageview"), webhook_body()
    assert app.post_webhook([pageview, pageview, matching, pageview]).json() == {
        "accepted": 2,
        "duplicates": 2,
    }
    assert app.post_webhook([pageview, matching]).json() == {"accepted": 1, "duplicates": 1}
    assert sum(app.totals().values()) == 2
    assert [e["event_uuid"] for e in app.wait_decided([matching["event"]["uuid"]])] == [
        matching["event"]["uuid"]
    ]


def test_concurrent_requests_each_get_their_own_counts(app):
    from concurrent.futures import ThreadPoolExecutor

    bodies = [webhook_body(uuid_=str(uuid.uuid4())) for _ in range(40)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda b: app.post_webhook([b, b]).json(), bodies))
    assert all(r == {"accepted": 1, "duplicates": 1} for r in results)
