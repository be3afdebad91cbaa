"""`Pipeline.evaluate` with the example signals file and companies, against a real store: each outcome
with the reason the ledger shows, the facts an alert is made from, what is written back to PostHog,
and that deciding changes nothing (the worker commits; a dry run may decide as often as it likes).
One store per module: each test keeps to an account of its own."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from bot.alerts.compose import Composer
from bot.alerts.model import HeldBack, PastSignal
from bot.clients.posthog_writer import WriteBack
from bot.config.signals_file import Route, Signal, Threshold
from bot.decide.enrich import Enricher
from bot.decide.outcomes import Outcome, SignalDecision
from bot.decide.pipeline import Decision, Pipeline
from bot.ingest.webhook_body import parse_body
from bot.ops.metrics import Metrics
from bot.schedule.queries import row_body
from bot.store import ClaimedEvent, Finish, InboxRow, Store
from testkit.webhook_bodies import webhook_body
from tests.support import stored
from tests.support.factories import example_config

HOUR = 3600.0
ACME_FIELDS = {
    "company_name": "Acme Corp",
    "company_domain": "acme.com",
    "company_employees": 240,
    "company_industry": "fintech",
    "company_funding_stage": "series_b",
    "company_country": "US",
    "company_tech_stack": ["segment", "snowflake", "react"],
}


class Clock:
    """What "now" is for the pipeline: the time the test started, until the test moves it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pipeline(module_store: Store, clock: Clock) -> Pipeline:
    config = example_config()
    enricher = Enricher(config.enrichment, module_store, httpx.AsyncClient(), Metrics())
    return Pipeline(config, module_store, enricher, "https://us.posthog.com/", "12345", clock=clock)


def event(name: str, clock: Clock, ago_s: float = 60.0, **fields: Any) -> dict[str, Any]:
    """A webhook body for `name` that happened `ago_s` before the pipeline's now."""
    body = webhook_body(name, **fields)
    body["event"]["timestamp"] = datetime.fromtimestamp(clock.now - ago_s, UTC).isoformat()
    return body


def activation(domain: str, clock: Clock, **fields: Any) -> dict[str, Any]:
    """`feature_activated` for the API integration: the example signal with no ICP threshold."""
    properties = {"feature_name": "api_integration", "company_domain": domain}
    return event("feature_activated", clock, properties=properties, **fields)


def onboarding(domain: str, clock: Clock, plan: str = "trial", **fields: Any) -> dict[str, Any]:
    return event("onboarding_completed", clock, properties={"plan": plan, "company_domain": domain}, **fields)


def decide(pipeline: Pipeline, body: dict[str, Any]) -> Decision:
    return asyncio.run(pipeline.evaluate(parse_body(orjson.dumps(body))[0], time.time(), "req-1"))


def commit(store: Store, body: dict[str, Any], decision: Decision) -> None:
    """What the worker does with a decision: compose its alerts and commit them with the entry."""
    event_uuid = body["event"]["uuid"]
    store.ingest([InboxRow(event_uuid, body["event"]["event"], b"{}", time.time(), "req-1")])
    assert [c.uuid for c in store.claim_events("worker", 1, 60)] == [event_uuid]
    alerts = [asyncio.run(Composer(Metrics()).compose(plan)) for plan in decision.alerts]
    [committed] = store.finish_events("worker", [Finish(event_uuid, decision.entry, alerts, time.time())])
    assert committed.committed


def only(decision: Decision) -> SignalDecision:
    [signal] = decision.entry.signals
    return signal


def test_an_event_no_signal_listens_to_is_filtered_for_that_reason(pipeline, clock):
    decision = decide(pipeline, event("$pageview", clock))
    assert decision.entry.outcome is Outcome.FILTERED
    assert decision.entry.signals == [
        SignalDecision(outcome=Outcome.FILTERED, reason="no signal listens to this event")
    ]
    assert decision.entry.account is None
    assert decision.alerts == [] and decision.writeback is None


@pytest.mark.parametrize(
    ("plan", "got"), [("enterprise", "'enterprise'"), (None, "missing")], ids=["other", "absent"]
)
def test_a_filtered_event_names_the_condition_that_failed_and_what_it_got(pipeline, clock, plan, got):
    properties = {"company_domain": "acme.com"} | ({"plan": plan} if plan else {})
    decision = decide(pipeline, event("onboarding_completed", clock, properties=properties))
    assert decision.entry.outcome is Outcome.FILTERED
    assert only(decision) == SignalDecision(
        signal="Trial finished onboarding",
        outcome=Outcome.FILTERED,
        reason=f"needs properties.plan is trial (got {got})",
    )
    assert decision.entry.account == "acme.com"  # named, so `/posthog why acme.com` finds it
    assert decision.alerts == [] and decision.writeback is None  # but nothing enriched or written back


def test_an_event_with_nothing_to_tell_whose_it_is_has_no_account(pipeline, clock):
    body = event("feature_activated", clock, properties={"feature_name": "api_integration"}, person={})
    del body["event"]["distinct_id"]
    decision = decide(pipeline, body)
    assert decision.entry.outcome is Outcome.NO_ACCOUNT
    assert only(decision) == SignalDecision(
        signal="API integration activated",
        outcome=Outcome.NO_ACCOUNT,
        reason="no company_domain, company group, work email or distinct_id",
    )
    assert decision.alerts == []


def test_an_account_below_the_signals_icp_threshold_is_not_alerted(pipeline, clock):
    decision = decide(pipeline, onboarding("hooli.io", clock))  # 12 people, seed, consumer: 10 points
    assert decision.entry.outcome is Outcome.BELOW_THRESHOLD
    assert only(decision) == SignalDecision(
        signal="Trial finished onboarding",
        outcome=Outcome.BELOW_THRESHOLD,
        reason="ICP score 10 is below 50",
        score=10,
    )
    assert decision.entry.account == "hooli.io"
    assert decision.alerts == []


def test_a_snoozed_account_is_held_back_until_the_snooze_ends(pipeline, module_store, clock):
    until = clock.now + 2 * HOUR
    module_store.snooze("snoozed.example", until, "U0AE")
    decision = decide(pipeline, activation("snoozed.example", clock))
    assert decision.entry.outcome is Outcome.SNOOZED
    expected = datetime.fromtimestamp(until, UTC).strftime("%a %-d %b %H:%M UTC")
    assert only(decision).reason == f"account snoozed until {expected}"
    assert decision.alerts == []

    clock.now = until + 1
    assert decide(pipeline, activation("snoozed.example", clock)).entry.outcome is Outcome.ALERTED


def test_a_second_alert_within_the_cooldown_is_held_back(pipeline, module_store, clock):
    first = activation("cooldown.example", clock)
    commit(module_store, first, decide(pipeline, first))
    decision = decide(pipeline, activation("cooldown.example", clock, distinct_id="u_2"))
    assert decision.entry.outcome is Outcome.COOLDOWN
    assert only(decision) == SignalDecision(
        signal="API integration activated",
        outcome=Outcome.COOLDOWN,
        reason="this account already had this alert within its 1d cooldown",
        score=decision.entry.signals[0].score,
    )
    assert decision.alerts == []

    clock.now += 25 * HOUR
    assert decide(pipeline, activation("cooldown.example", clock)).entry.outcome is Outcome.ALERTED


def test_an_alert_carries_its_route_score_account_and_what_the_account_did_lately(
    pipeline, module_store, clock
):
    earlier = activation("acme.com", clock, ago_s=2 * 86400)
    commit(module_store, earlier, decide(pipeline, earlier))
    body = onboarding("acme.com", clock)
    decision = decide(pipeline, body)

    [plan] = decision.alerts
    facts = plan.facts
    assert decision.entry.outcome is Outcome.ALERTED
    assert only(decision) == SignalDecision(
        signal="Trial finished onboarding",
        outcome=Outcome.ALERTED,
        reason="routed to C0AE1",
        score=100,
        alert_id=facts.alert_id,
        channel="C0AE1",
    )
    assert (facts.route.channel, facts.route.owner) == ("C0AE1", "U0OWNER1")
    assert facts.score.value == 100 and facts.score.met == 5
    assert (facts.account_key, facts.account_source) == ("acme.com", "company_domain property")
    assert facts.company["name"] == "Acme Corp" and facts.account_label == "Acme Corp"
    assert (facts.signal_name, facts.action, facts.priority) == (
        "Trial finished onboarding",
        "finished onboarding",
        "high",
    )
    assert (facts.person_name, facts.person_email, facts.plan) == ("Jane Doe", "jane@acme.com", "trial")
    assert facts.event_uuid == body["event"]["uuid"] and facts.event_time == pytest.approx(clock.now - 60)
    assert facts.history == (
        PastSignal("activated the API integration", pytest.approx(clock.now - 2 * 86400)),
    )
    assert facts.held_back is None and plan.reports_snooze is None
    assert plan.cooldown_s == 86400
    assert decision.entry.event_time == pytest.approx(clock.now - 60)


def test_the_first_alert_after_a_snooze_tells_how_many_signals_it_held_back(pipeline, module_store, clock):
    until = clock.now + HOUR
    snooze_id = module_store.snooze("heldback.example", until, "U0SNOOZER")
    for distinct_id in ("u_1", "u_2"):
        held = activation("heldback.example", clock, distinct_id=distinct_id)
        commit(module_store, held, decide(pipeline, held))

    clock.now = until + HOUR
    after = activation("heldback.example", clock)
    decision = decide(pipeline, after)
    [plan] = decision.alerts
    assert plan.facts.held_back == HeldBack(2, "U0SNOOZER", until)
    assert plan.reports_snooze == snooze_id

    commit(module_store, after, decision)  # told once: the next alert says nothing of it
    clock.now += 25 * HOUR
    [next_plan] = decide(pipeline, activation("heldback.example", clock)).alerts
    assert next_plan.facts.held_back is None and next_plan.reports_snooze is None


def test_links_go_to_the_person_in_posthog_or_to_the_distinct_id_in_the_project(pipeline, clock):
    with_person = decide(pipeline, activation("links.example", clock)).alerts[0].facts
    assert (
        with_person.posthog_url == with_person.person_url == "https://us.posthog.com/project/12345/person/u_1"
    )
    assert with_person.event_url.startswith("https://us.posthog.com/project/12345/events/")

    body = activation("links.example", clock, distinct_id="a b/c", person={"properties": {}})
    facts = decide(pipeline, body).alerts[0].facts
    assert facts.person_url is None
    assert facts.posthog_url == "https://us.posthog.com/project/12345/person/a%20b%2Fc"


def test_what_enrichment_learned_is_written_back_to_the_person_and_the_company_group(pipeline, clock):
    person_only = decide(pipeline, onboarding("acme.com", clock, distinct_id="u_acme"))
    assert person_only.writeback == WriteBack(
        distinct_id="u_acme", person={**ACME_FIELDS, "icp_score": 100}, group_key=None, group={}
    )

    grouped = event(
        "feature_activated",
        clock,
        distinct_id="u_alice",
        properties={"feature_name": "api_integration", "$groups": {"company": "umbrella.co.uk"}},
        groups={"company": {"id": "umbrella.co.uk", "properties": {"name": "Umbrella Analytics"}}},
    )
    writeback = decide(pipeline, grouped).writeback
    assert writeback is not None and writeback.group_key == "umbrella.co.uk"
    assert writeback.group["employees"] == 430 and writeback.group["icp_score"] == 100
    assert writeback.person["company_country"] == "GB" and writeback.person["icp_score"] == 100


def test_nothing_learned_is_nothing_written_back(pipeline, clock):
    unknown = decide(pipeline, activation("unknown.example", clock))
    group_only = event(
        "feature_activated",
        clock,
        properties={"feature_name": "api_integration", "$groups": {"company": "groupco.example"}},
        groups={"company": {"id": "groupco.example", "properties": {"name": "GroupCo"}}},
    )
    assert unknown.alerts and unknown.writeback is None
    assert decide(pipeline, group_only).writeback is None  # PostHog told us; nothing to tell it back


def test_deciding_stores_nothing_so_deciding_again_gives_the_same_decision(pipeline, module_store, clock):
    body = onboarding("initech.com", clock)
    first, second = decide(pipeline, body), decide(pipeline, body)

    def without_alert_ids(decision: Decision) -> tuple[Any, ...]:
        signals = [d.model_copy(update={"alert_id": None}) for d in decision.entry.signals]
        facts = [vars(plan.facts) | {"alert_id": None} for plan in decision.alerts]
        return signals, facts, decision.entry.account, decision.writeback

    assert first.entry.outcome is Outcome.ALERTED
    assert without_alert_ids(first) == without_alert_ids(second)
    assert module_store.ledger_entries([body["event"]["uuid"]]) == []
    assert stored.alerts_of(module_store, body["event"]["uuid"]) == []
    assert module_store.account_state("initech.com", clock.now).last_alerts == {}


def test_a_claimed_event_is_decided_from_its_stored_payload(pipeline, clock):
    body = activation("stored.example", clock)
    stored = parse_body(orjson.dumps(body))[0].stored()
    decision = asyncio.run(pipeline.decide(ClaimedEvent(body["event"]["uuid"], stored, 1, 1.0, "req-9")))
    assert decision.entry.event_uuid == body["event"]["uuid"] and decision.entry.request_id == "req-9"
    assert decision.entry.outcome is Outcome.ALERTED


def test_a_claimed_batch_is_read_at_once_and_each_event_decided_as_if_alone(pipeline, module_store, clock):
    module_store.snooze("batch-snoozed.example", clock.now + HOUR, "U0AE")
    cooled = activation("batch-cooled.example", clock)
    commit(module_store, cooled, decide(pipeline, cooled))
    bodies = [
        activation("batch-snoozed.example", clock),
        activation("batch-cooled.example", clock, distinct_id="u_2"),
        activation("batch-new.example", clock),
        event("$pageview", clock),
    ]
    claimed = [
        ClaimedEvent(body["event"]["uuid"], parse_body(orjson.dumps(body))[0].stored(), 1, 1.0, "req-1")
        for body in bodies
    ]
    broken = ClaimedEvent("broken", b'{"event": {"uuid": "broken"}}', 1, 1.0, "req-1")

    async def decide_batch() -> list[Decision | Exception]:
        prepared = await pipeline.prepare([*claimed, broken])
        assert set(prepared.states) == {"batch-snoozed.example", "batch-cooled.example", "batch-new.example"}
        decided = await asyncio.gather(
            *(pipeline.decide(event, prepared) for event in [*claimed, broken]), return_exceptions=True
        )
        return list(decided)

    *decisions, failed = asyncio.run(decide_batch())
    assert [d.entry.outcome for d in decisions] == [
        Outcome.SNOOZED,
        Outcome.COOLDOWN,
        Outcome.ALERTED,
        Outcome.FILTERED,
    ]
    assert [d.entry.outcome for d in decisions] == [decide(pipeline, body).entry.outcome for body in bodies]
    assert isinstance(failed, ValueError)  # the event that does not parse fails alone, as it would alone


@pytest.fixture
def inviting(module_store: Store, clock: Clock) -> Pipeline:
    """The example signals and `Team is inviting`: 3 member_invited within 7 days."""
    config = example_config()
    signal = Signal(
        name="Team is inviting",
        event="member_invited",
        threshold=Threshold(count=3, within="7d"),
        cooldown="7d",
    )
    config = config.model_copy(update={"signals": [*config.signals, signal]})
    enricher = Enricher(config.enrichment, module_store, httpx.AsyncClient(), Metrics())
    return Pipeline(config, module_store, enricher, "https://us.posthog.com/", "12345", clock=clock)


def invite(domain: str, clock: Clock, person: str, ago_s: float) -> dict[str, Any]:
    return event(
        "member_invited", clock, ago_s=ago_s, distinct_id=person, properties={"company_domain": domain}
    )


def decide_claimed(pipeline: Pipeline, body: dict[str, Any]) -> Decision:
    """As the worker decides: the event counts towards its thresholds."""
    stored_body = parse_body(orjson.dumps(body))[0].stored()
    return asyncio.run(
        pipeline.decide(ClaimedEvent(body["event"]["uuid"], stored_body, 1, time.time(), "req-1"))
    )


def test_a_threshold_accumulates_then_alerts_on_the_event_that_reaches_it(inviting, clock):
    first, second, third = (
        invite("inviting.example", clock, f"u{n}", ago_s=3600 * (4 - n)) for n in (1, 2, 3)
    )
    assert only(decide_claimed(inviting, first)).reason == "1 of 3 member_invited in 7d"
    again = decide_claimed(inviting, first)  # PostHog delivered it twice: it counts once
    assert (again.entry.outcome, only(again).reason) == (Outcome.ACCUMULATING, "1 of 3 member_invited in 7d")
    assert only(decide(inviting, second)).reason == "2 of 3 member_invited in 7d"  # a dry run counts it…
    assert only(decide_claimed(inviting, second)).reason == "2 of 3 member_invited in 7d"  # …but kept nothing

    reached = decide_claimed(inviting, third)
    assert reached.entry.outcome is Outcome.ALERTED
    [plan] = reached.alerts
    assert plan.facts.reached is not None
    assert plan.facts.reached.what == "3 member_invited in 7 days by 3 people"
    assert [who for who, _ in plan.facts.reached.latest] == ["u3", "u2", "u1"]
    assert plan.cooldown_s == 7 * 86400


def test_an_event_outside_the_window_does_not_count(inviting, clock):
    old = invite("window.example", clock, "u1", ago_s=8 * 86400)
    assert only(decide_claimed(inviting, old)).reason == "1 of 3 member_invited in 7d"
    for n, person in enumerate(("u2", "u3")):
        decision = decide_claimed(inviting, invite("window.example", clock, person, ago_s=60 - n))
        assert decision.entry.outcome is Outcome.ACCUMULATING
    assert only(decision).reason == "2 of 3 member_invited in 7d"


# -- query signals: a row of a scheduled query, as bot/schedule stores it ------------------------------
QUERY_SIGNAL = Signal(
    name="API usage dropped",
    query="SELECT properties.company_domain AS account, count() AS calls, 'gold' AS tier FROM events",
    every="1h",
    where={"query.calls": [1, 2, 3]},
    min_score=0,
)


@pytest.fixture
def querying(module_store: Store, clock: Clock) -> Pipeline:
    """The example signals, `API usage dropped` (a query), and a first route on a query column."""
    config = example_config()
    gold = Route(when={"query.tier": ["gold"]}, channel="C0GOLD")
    config = config.model_copy(
        update={"signals": [*config.signals, QUERY_SIGNAL], "routing": [gold, *config.routing]}
    )
    enricher = Enricher(config.enrichment, module_store, httpx.AsyncClient(), Metrics())
    return Pipeline(config, module_store, enricher, "https://us.posthog.com/", "12345", clock=clock)


def query_row(pipeline: Pipeline, clock: Clock, **row: Any) -> Decision:
    body = row_body(QUERY_SIGNAL, clock.now - 5, row)
    return asyncio.run(pipeline.evaluate(body, time.time(), "query:1"))


def test_a_query_rows_columns_are_query_paths_for_where_and_routing(querying, clock):
    decision = query_row(querying, clock, account="https://www.Acme.com", calls=2, tier="gold")
    assert decision.entry.outcome is Outcome.ALERTED
    assert decision.entry.event_name == "$query:API usage dropped"
    assert decision.entry.account == "acme.com"
    [plan] = decision.alerts
    facts = plan.facts
    assert (facts.account_source, facts.company["name"]) == ("query", "Acme Corp")
    assert facts.query == {"account": "https://www.Acme.com", "calls": 2, "tier": "gold"}
    assert facts.route.channel == "C0GOLD"
    assert facts.route.reason == "query.tier is gold"
    work_email = next(c for c in facts.score.breakdown if c.name == "Work email")
    assert work_email.status == "unknown"  # an account's row has no person
    assert facts.person_email is None and facts.distinct_id is None

    other = query_row(querying, clock, account="acme.com", calls=2, tier="silver")
    assert other.alerts[0].facts.route.channel == "C0AE1"  # the next route, on company.domain


def test_a_query_row_failing_where_is_filtered_naming_the_column(querying, clock):
    decision = query_row(querying, clock, account="initech.com", calls=9, tier="gold")
    assert decision.entry.outcome is Outcome.FILTERED
    assert only(decision).reason == "needs query.calls is one of 1, 2, 3 (got 9)"


def test_a_query_row_of_a_person_is_resolved_as_their_events_are(querying, clock):
    decision = query_row(querying, clock, distinct_id="u_77", email="sam@initech.com", calls=1)
    assert decision.entry.account == "initech.com"
    [plan] = decision.alerts
    assert (plan.facts.account_source, plan.facts.distinct_id) == ("email domain", "u_77")
    assert plan.facts.person_email == "sam@initech.com"

    alone = query_row(querying, clock, distinct_id="u_78", calls=1)
    assert alone.entry.account == "person:u_78"
