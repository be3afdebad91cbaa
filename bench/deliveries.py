"""What the load sends: PostHog's default webhook body (about 1 KB) for matching, filtered and alerting
events, as raw HTTP/1.1 requests, each with a fresh event uuid put in place of a placeholder."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from testkit.examples import EXAMPLE_COMPANIES
from testkit.webhook_bodies import WEBHOOK_SECRET

WEBHOOK_PATH = "/posthog/webhook"
# Replaced by a fresh uuid4 in every request; as long as one, so Content-Length stays right.
PLACEHOLDER = "00000000-0000-4000-8000-00000000beef"


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def webhook_body(
    event: str,
    properties: dict[str, Any],
    email: str,
    distinct_id: str,
    groups: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A default-body PostHog webhook payload as the HTTP webhook destination sends it (~1 KB)."""
    timestamp = _iso_now()
    person_id = str(uuid.uuid5(uuid.NAMESPACE_URL, distinct_id))
    body: dict[str, Any] = {
        "event": {
            "uuid": PLACEHOLDER,
            "event": event,
            "distinct_id": distinct_id,
            "properties": {
                "$lib": "web",
                "$lib_version": "1.200.2",
                "$os": "Mac OS X",
                "$browser": "Chrome",
                "$browser_version": 131,
                "$device_type": "Desktop",
                "$current_url": "https://app.example.com/onboarding/done",
                "$host": "app.example.com",
                "$pathname": "/onboarding/done",
                "$session_id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
                "$geoip_country_code": "US",
                **properties,
            },
            "elements_chain": "",
            "timestamp": timestamp,
            "url": f"https://us.posthog.com/project/12345/events/{PLACEHOLDER}/{timestamp}",
        },
        "person": {
            "id": person_id,
            "name": email,
            "properties": {
                "email": email,
                "name": email.split("@")[0].title(),
                "$initial_referring_domain": "www.google.com",
                "$initial_utm_source": "newsletter",
                "signup_date": "2026-11-20",
            },
            "url": f"https://us.posthog.com/project/12345/person/{distinct_id}",
        },
        "project": {"id": 12345, "name": "Example", "url": "https://us.posthog.com/project/12345"},
        "source": {
            "name": "Signals bot",
            "url": "https://us.posthog.com/project/12345/pipeline/destinations/hog-0193a1b2",
        },
    }
    if groups is not None:
        body["groups"] = groups
    return body


def matching_bodies(accounts: int = 1000) -> list[bytes]:
    """`onboarding_completed` on a trial plan, one event per account over `accounts` company domains:
    the companies of examples/companies.json first (scored and routed; each alerts once, then its
    cooldown holds it), then domains the file does not know (decided below the signal's
    `min_score`). Every event is one a signal wants."""
    known = list(json.loads(EXAMPLE_COMPANIES.read_text()))
    domains = (known + [f"account-{i}.example.com" for i in range(accounts)])[:accounts]
    bodies = []
    for i, domain in enumerate(domains):
        distinct_id = f"user-{i}-{domain}"
        props = {"plan": "trial", "company_domain": domain, "onboarding_steps": 5}
        body = webhook_body("onboarding_completed", props, f"user{i}@{domain}", distinct_id)
        bodies.append(json_bytes(body))
    return bodies


def filtered_bodies() -> list[bytes]:
    """Events no signal listens to: counted at ingest (the ledger's `filtered` totals), not stored."""
    names = ["$pageview", "$autocapture", "dashboard_viewed", "report_exported", "$pageleave"]
    bodies = []
    for i, name in enumerate(names * 4):
        distinct_id = f"user-{i}-acme.com"
        props = {"plan": "trial", "company_domain": "acme.com", "$referrer": "https://app.example.com/"}
        bodies.append(json_bytes(webhook_body(name, props, f"user{i}@acme.com", distinct_id)))
    return bodies


def mixed_bodies(accounts: int = 20, filtered_per_matching: int = 19) -> list[bytes]:
    """A typical project's deliveries: 95% `$pageview` (no signal listens to it) and 5% matching events
    (`onboarding_completed` on a trial plan) over `accounts` company domains, the companies of
    examples/companies.json first (scored and routed; each alerts once, then its cooldown holds it),
    then domains the file does not know (below the signal's `min_score`)."""
    known = list(json.loads(EXAMPLE_COMPANIES.read_text()))
    domains = (known + [f"account-{i}.example.com" for i in range(accounts)])[:accounts]
    bodies = []
    for i, domain in enumerate(domains):
        props = {"plan": "trial", "company_domain": domain, "onboarding_steps": 5}
        bodies.append(
            json_bytes(webhook_body("onboarding_completed", props, f"user{i}@{domain}", f"user-{i}-{domain}"))
        )
        for j in range(filtered_per_matching):
            distinct_id = f"visitor-{i}-{j}"
            props = {"company_domain": domain, "$referrer": "https://www.google.com/"}
            bodies.append(json_bytes(webhook_body("$pageview", props, f"visitor{j}@{domain}", distinct_id)))
    return bodies


def alert_body(
    i: int, run: str, country: str | None = None, reply_to: int | None = None, domain: bool = False
) -> bytes:
    """`feature_activated` (min_score 0, so it always alerts) for a new account each time, so no
    cooldown holds it; even samples route to C0SIGNALS (US), odd ones to C0EMEA (DE), unless the
    company's `country` is given (bench/webhook_to_slack.py routes by it). With `reply_to`, a trial's
    `onboarding_completed` from the account of sample `reply_to` instead: another signal of an
    account just alerted, which goes in that alert's thread. With `domain`, the company group says
    its domain, `<key>.example.com` (what `owner: crm` looks up in HubSpot)."""
    key = f"bench-{run}-{i if reply_to is None else reply_to}"
    groups = {
        "company": {
            "id": key,
            "properties": {
                "name": f"Bench Co {i}",
                "employees": 300,
                "industry": "saas",
                "funding_stage": "series_b",
                "tech_stack": ["segment", "dbt"],
                "country": country or ("DE" if i % 2 else "US"),
                **({"domain": f"{key}.example.com"} if domain else {}),
            },
        }
    }
    if reply_to is not None:
        props = {"plan": "trial", "$groups": {"company": key}}
        return json_bytes(
            webhook_body("onboarding_completed", props, f"dev{i}@{key}.example.com", f"dev-{key}", groups)
        )
    props = {"feature_name": "api_integration", "$groups": {"company": key}}
    return json_bytes(
        webhook_body("feature_activated", props, f"dev{i}@{key}.example.com", f"dev-{key}", groups)
    )


def json_bytes(value: Any) -> bytes:
    """Compact JSON, as PostHog sends it."""
    return json.dumps(value, separators=(",", ":")).encode()


def request_bytes(body: bytes, port: int) -> bytes:
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"User-Agent: webhook-bench\r\n"
        f"Authorization: Bearer {WEBHOOK_SECRET}\r\n"
        f"Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Requests:
    """Cycles through request templates, giving each request a fresh uuid4 (same length as the
    placeholder, so Content-Length stays right)."""

    def __init__(self, bodies: list[bytes], port: int):
        self._templates = itertools.cycle([request_bytes(b, port) for b in bodies])
        self._placeholder = PLACEHOLDER.encode()

    def next(self) -> tuple[str, bytes]:
        event_uuid = str(uuid.uuid4())
        return event_uuid, next(self._templates).replace(self._placeholder, event_uuid.encode())
