"""PostHog webhook deliveries as the HTTP Webhook destination sends them, and the secret they carry."""

from __future__ import annotations

import uuid
from typing import Any

WEBHOOK_SECRET = "test-webhook-secret"


def activation(domain: str, distinct_id: str = "u_1") -> dict[str, Any]:
    """A `feature_activated` (API integration) event for `domain`: an alert under the example
    signals whatever the account's score."""
    return webhook_body(
        "feature_activated",
        distinct_id=distinct_id,
        properties={"feature_name": "api_integration", "company_domain": domain},
    )


def webhook_body(
    event: str = "onboarding_completed",
    *,
    uuid_: str | None = None,
    distinct_id: str = "u_1",
    properties: dict[str, Any] | None = None,
    person: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A default-body PostHog webhook payload, as the HTTP Webhook destination sends it."""
    event_uuid = uuid_ or str(uuid.uuid4())
    body: dict[str, Any] = {
        "event": {
            "uuid": event_uuid,
            "event": event,
            "distinct_id": distinct_id,
            "properties": properties if properties is not None else {},
            "elements_chain": "",
            "timestamp": "2026-11-26T10:15:30.123Z",
            "url": f"https://us.posthog.com/project/12345/events/{event_uuid}/2026-11-26T10%3A15%3A30.123Z",
        },
        "person": person
        if person is not None
        else {
            "id": "018e7b2c-4f7a-7c11-a1b2-3c4d5e6f7a8b",
            "name": "jane@acme.com",
            "properties": {"email": "jane@acme.com", "name": "Jane Doe"},
            "url": f"https://us.posthog.com/project/12345/person/{distinct_id}",
        },
    }
    body.update(extra)
    return body
