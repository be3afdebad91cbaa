"""The event `/posthog test` captures comes back through PostHog's destination: the markers that make it
ours, and the pipeline deciding it as never alerting (nothing counted, enriched or written back), while
the command's own dry run still shows the alert it would make and a customer's own `test: true` is
decided like any event."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
import pytest

from bot import LIB_NAME
from bot.config.signals_file import Signal, Threshold
from bot.decide.enrich import Enricher
from bot.decide.markers import TEST_COMMAND_MARKERS, is_test_command_event
from bot.decide.outcomes import TEST_COMMAND_EVENT, Outcome, SignalDecision
from bot.decide.pipeline import Decision, Pipeline
from bot.ingest.webhook_body import parse_body
from bot.ops.metrics import Metrics
from bot.store import ClaimedEvent, Store
from testkit.webhook_bodies import webhook_body
from tests.support.factories import example_config

OURS = {"test": True, "$lib": LIB_NAME}


def test_the_markers_are_what_the_spec_names():
    assert dict(TEST_COMMAND_MARKERS) == {"test": True, "$lib": "posthog-slack-signals"}
    with pytest.raises(TypeError):
        TEST_COMMAND_MARKERS["test"] = False  # type: ignore[index]  # one home, not a shared dict to edit


@pytest.mark.parametrize(
    "properties",
    [
        dict(TEST_COMMAND_MARKERS),
        {"plan": "trial", "company_domain": "acme.com", **TEST_COMMAND_MARKERS},
        {**OURS, "$lib_version": "0.2.0"},
    ],
)
def test_an_event_carrying_exactly_the_commands_markers_is_a_test_event(properties):
    assert is_test_command_event(properties)


@pytest.mark.parametrize(
    "properties",
    [
        {"test": True},  # a customer's own property
        {"test": True, "$lib": "web"},
        {"test": True, "$lib": "posthog-python"},
        {"$lib": LIB_NAME},  # the bot's other events (feedback, identify) are not tests
        {"test": "true", "$lib": LIB_NAME},
        {"test": 1, "$lib": LIB_NAME},
        {"test": [True], "$lib": LIB_NAME},
        {"test": {"value": True}, "$lib": LIB_NAME},
        {"test": None, "$lib": LIB_NAME},
        {"test": False, "$lib": LIB_NAME},
        {"test": True, "$lib": LIB_NAME.upper()},
        {"test": True, "$lib": f" {LIB_NAME} "},
        {"test": True, "$lib": [LIB_NAME]},
        {"test": True, "$lib": {LIB_NAME: True}},
        {"test": True, "$lib": None},
        {"test": True, "$lib": 42},
        {},
        None,
        [("test", True), ("$lib", LIB_NAME)],
        "test",
        42,
    ],
)
def test_anything_else_is_not(properties: Any):
    assert not is_test_command_event(properties)


# -- the pipeline ----------------------------------------------------------------------------------
class CountingEnricher(Enricher):
    """The example enrichment, counting the companies it is asked for."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.asked: list[str] = []

    async def company(self, account):  # type: ignore[no-untyped-def]
        self.asked.append(account.key)
        return await super().company(account)


@pytest.fixture
def pipeline(module_store: Store) -> Pipeline:
    """The example signals and `Team is inviting`: 2 member_invited within 7 days."""
    config = example_config()
    signal = Signal(
        name="Team is inviting",
        event="member_invited",
        threshold=Threshold(count=2, within="7d"),
        min_score=0,
    )
    config = config.model_copy(update={"signals": [*config.signals, signal]})
    enricher = CountingEnricher(config.enrichment, module_store, httpx.AsyncClient(), Metrics())
    return Pipeline(config, module_store, enricher, "https://us.posthog.com/", "12345")


def decided(pipeline: Pipeline, body: dict[str, Any], **options: Any) -> Decision:
    """As the worker decides (the event counts towards its thresholds), unless `options` say otherwise."""
    parsed = parse_body(orjson.dumps(body))[0]
    if options:
        return asyncio.run(pipeline.evaluate(parsed, time.time(), "req-1", **options))
    claimed = ClaimedEvent(body["event"]["uuid"], parsed.stored(), 1, time.time(), "req-1")
    return asyncio.run(pipeline.decide(claimed))


def onboarding(domain: str, **properties: Any) -> dict[str, Any]:
    return webhook_body(
        "onboarding_completed", properties={"plan": "trial", "company_domain": domain, **properties}
    )


def test_a_test_event_back_from_posthog_is_recorded_as_never_alerted(pipeline):
    decision = decided(pipeline, onboarding("acme.com", **TEST_COMMAND_MARKERS))
    assert decision.entry.outcome is Outcome.FILTERED
    assert decision.entry.signals == [
        SignalDecision(
            signal="Trial finished onboarding", outcome=Outcome.FILTERED, reason=TEST_COMMAND_EVENT
        )
    ]
    assert TEST_COMMAND_EVENT == "a /posthog test event: shown to whoever sent it, never alerted"
    assert decision.entry.account == "acme.com"  # so `/posthog why acme.com` explains it
    assert decision.alerts == [] and decision.writeback is None
    assert pipeline.enricher.asked == []  # no enrichment call, so no LLM or CRM call either


def test_a_signal_the_test_event_does_not_meet_still_says_what_it_needs(pipeline):
    decision = decided(pipeline, onboarding("acme.com", **{**TEST_COMMAND_MARKERS, "plan": "team"}))
    [signal] = decision.entry.signals
    assert (signal.outcome, signal.reason) == (
        Outcome.FILTERED,
        "needs properties.plan is trial (got 'team')",
    )


def test_the_commands_dry_run_still_shows_the_alert_the_test_event_would_make(pipeline):
    decision = decided(pipeline, onboarding("acme.com", **TEST_COMMAND_MARKERS), as_if_real=True)
    assert decision.entry.outcome is Outcome.ALERTED
    assert [plan.facts.route.channel for plan in decision.alerts] == ["C0AE1"]


@pytest.mark.parametrize("lib", ["web", "posthog-python"])
def test_a_customers_own_test_property_is_decided_like_any_event(pipeline, lib):
    decision = decided(pipeline, onboarding("initech.com", test=True, **{"$lib": lib}))
    assert decision.entry.outcome is Outcome.ALERTED
    assert decision.writeback is not None


def test_a_test_event_does_not_count_towards_a_threshold(pipeline):
    def invite(person: str, **properties: Any) -> dict[str, Any]:
        return webhook_body(
            "member_invited", distinct_id=person, properties={"company_domain": "tally.example", **properties}
        )

    tested = decided(pipeline, invite("slack-test-U0ADMIN", **TEST_COMMAND_MARKERS))
    assert [s.reason for s in tested.entry.signals] == [TEST_COMMAND_EVENT]
    first = decided(pipeline, invite("u1"))
    assert (first.entry.outcome, first.entry.signals[0].reason) == (
        Outcome.ACCUMULATING,
        "1 of 2 member_invited in 7d",  # the test event before it was not counted
    )
    assert decided(pipeline, invite("u2")).entry.outcome is Outcome.ALERTED


def test_a_claimed_batch_does_not_read_a_test_events_account(pipeline):
    bodies = [onboarding("globex.de", **TEST_COMMAND_MARKERS), onboarding("initech.com")]
    claimed = [
        ClaimedEvent(b["event"]["uuid"], parse_body(orjson.dumps(b))[0].stored(), 1, time.time(), "r")
        for b in bodies
    ]
    prepared = asyncio.run(pipeline.prepare(claimed))
    assert set(prepared.states) == {"initech.com"}
