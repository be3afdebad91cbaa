"""Builders shared by the unit tests: the example files and a realistic AlertFacts."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from typing import Any

import orjson

from bot.alerts.model import AlertFacts, PastSignal
from bot.config.signals_file import SignalsConfig, load_signals
from bot.decide.routing import RouteDecision, route
from bot.decide.scoring import Score, score
from bot.ingest.webhook_body import WebhookBody, parse_body
from testkit.examples import EXAMPLE_COMPANIES, EXAMPLE_SIGNALS

NOW = 1_760_000_000.0  # 2025-10-09 08:53:20 UTC
DAY = 86_400.0


@functools.cache
def example_config() -> SignalsConfig:
    return load_signals(EXAMPLE_SIGNALS)


def company(domain: str) -> dict[str, Any]:
    return json.loads(EXAMPLE_COMPANIES.read_text(encoding="utf-8"))[domain]


def body(
    properties: dict[str, Any] | None = None,
    person: dict[str, Any] | None = None,
    groups: dict[str, Any] | None = None,
    distinct_id: str = "user_42",
) -> WebhookBody:
    """One webhook body, parsed exactly as the webhook route parses it."""
    event = {"uuid": "0191e7c4-0000-7000-8000-000000000001", "event": "onboarding_completed"}
    data: dict[str, Any] = {
        "event": {**event, "distinct_id": distinct_id, "properties": properties or {}},
        "person": person,
    }
    if groups is not None:
        data["groups"] = groups
    return parse_body(orjson.dumps(data))[0]


def acme_facts(**overrides: Any) -> AlertFacts:
    """Jane from Acme Corp (examples/companies.json) finished onboarding on a trial; ICP and route from
    examples/signals.yml; she activated the API integration two days earlier."""
    config = example_config()
    acme = company("acme.com")
    context = {
        "company": acme,
        "person": {"email": "jane@acme.com", "name": "Jane Doe"},
        "properties": {"plan": "trial"},
        "event": {"event": "onboarding_completed"},
    }
    facts = AlertFacts(
        alert_id="5f0c6d2a9b7e4c1d8e3f2a1b0c9d8e7f",
        signal_name="Trial finished onboarding",
        action="finished onboarding",
        priority="high",
        event_name="onboarding_completed",
        event_uuid="0191e7c4-0000-7000-8000-000000000001",
        event_time=NOW - 60,
        distinct_id="user_42",
        person_name="Jane Doe",
        person_email="jane@acme.com",
        account_key="acme.com",
        account_source="company_domain property",
        company=acme,
        properties={"plan": "trial"},
        score=score(config.icp, context),
        route=route(config.routing, context),
        history=(PastSignal("activated the API integration", NOW - 2 * DAY),),
        person_url="https://us.posthog.com/project/1/person/user_42",
        event_url="https://us.posthog.com/project/1/events/0191e7c4-0000-7000-8000-000000000001",
        posthog_url="https://us.posthog.com/project/1/person/user_42",
        now=NOW,
    )
    return replace(facts, **overrides)


def person_facts(**overrides: Any) -> AlertFacts:
    """An event with no company at all: the account is the person."""
    facts = AlertFacts(
        alert_id="a" * 32,
        signal_name="Team invited",
        action="invited teammates",
        priority="medium",
        event_name="invite_sent",
        event_uuid="0191e7c4-0000-7000-8000-000000000002",
        event_time=None,
        distinct_id="anon-7",
        person_name=None,
        person_email=None,
        account_key="person:anon-7",
        account_source="person",
        company={},
        properties={},
        score=Score(value=100, points=0, total=0, breakdown=()),
        route=RouteDecision(channel="C0SIGNALS", owner=None, reason="default route", index=2),
        now=NOW,
    )
    return replace(facts, **overrides)


def query_facts(query: dict[str, Any], **overrides: Any) -> AlertFacts:
    """Acme's row of a scheduled query ("Heavy users"): no event, no person, the row's columns."""
    base = {
        "signal_name": "Heavy users",
        "action": "triggered “Heavy users”",
        "event_name": "$query:Heavy users",
        "distinct_id": None,
        "person_name": None,
        "person_email": None,
        "properties": {},
        "history": (),
        "query": query,
    }
    return acme_facts(**{**base, **overrides})
