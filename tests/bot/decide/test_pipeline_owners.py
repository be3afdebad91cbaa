"""The pipeline asks the owner resolver only for an `owner: crm` route of an event that alerts, once per
event, and an alert whose lookup failed still goes out, saying why. (The pipeline decides without
recording, so the tests share acme.com.)"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import httpx
import orjson

from bot.config.signals_file import Route
from bot.decide.enrich import Enricher
from bot.decide.pipeline import Decision, Pipeline
from bot.decide.routing import RouteDecision
from bot.ingest.webhook_body import parse_body
from bot.ops.metrics import Metrics
from bot.store import Store
from testkit.webhook_bodies import webhook_body
from tests.support.factories import example_config


class StubResolver:
    """Answers as the real resolver would for a failed step, and counts what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []

    async def apply(self, decision: RouteDecision, domain: str | None) -> RouteDecision:
        self.asked.append(domain)
        return replace(decision, owner_note=f"no HubSpot company for {domain}")


def pipeline(store: Store, owners: Any, routing: list[Route]) -> Pipeline:
    config = example_config().model_copy(update={"routing": routing})
    enricher = Enricher(config.enrichment, store, httpx.AsyncClient(), Metrics())
    return Pipeline(config, store, enricher, "https://us.posthog.com/", "12345", owners=owners)


def decide(p: Pipeline, body: dict[str, Any]) -> Decision:
    return asyncio.run(p.evaluate(parse_body(orjson.dumps(body))[0], time.time(), "req-1"))


def onboarding(domain: str, plan: str = "trial") -> dict[str, Any]:
    return webhook_body("onboarding_completed", properties={"plan": plan, "company_domain": domain})


def test_an_owner_crm_route_is_looked_up_once_and_a_failure_still_alerts(module_store: Store) -> None:
    stub = StubResolver()
    p = pipeline(module_store, stub, [Route(channel="C0SIGNALS", owner="crm")])
    [plan] = decide(p, onboarding("acme.com")).alerts
    route = plan.facts.route
    assert (route.channel, route.owner, route.owner_from_crm) == ("C0SIGNALS", None, True)
    assert route.owner_note == "no HubSpot company for acme.com"
    assert stub.asked == ["acme.com"]
    assert decide(p, onboarding("acme.com", plan="paid")).alerts == []  # filtered: not asked
    assert stub.asked == ["acme.com"]


def test_static_owners_are_not_looked_up_and_crm_without_a_resolver_says_so(module_store: Store) -> None:
    stub = StubResolver()
    [plan] = decide(
        pipeline(module_store, stub, [Route(channel="C0SIGNALS", owner="U0STATIC")]),
        onboarding("acme.com"),
    ).alerts
    assert plan.facts.route.owner == "U0STATIC" and plan.facts.route.owner_note is None
    assert stub.asked == []
    unresolved = pipeline(module_store, None, [Route(channel="C0SIGNALS", owner="crm")])
    [plan] = decide(unresolved, onboarding("acme.com")).alerts
    assert plan.facts.route.owner_note == "the owner lookup is not configured"
