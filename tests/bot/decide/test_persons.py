"""A query row's person from PostHog's Persons API, through the real client and the fake PostHog: a
`distinct_id` row without `email` gets the person's company and `person.*` for the ICP; each person is
asked for once a run; rows that name their email or account, and webhook events, are never looked up;
a failing PostHog leaves the rows as they were decided before, logged once a run."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from bot.clients.posthog_api import PostHogApi
from bot.config.signals_file import Signal
from bot.decide.enrich import Enricher
from bot.decide.outcomes import Outcome
from bot.decide.persons import MAX_PROPERTIES, PersonLookup, bounded_properties, person_from
from bot.decide.pipeline import Decision, Pipeline
from bot.ingest.webhook_body import WebhookBody, parse_body
from bot.ops.metrics import Metrics
from bot.schedule.queries import row_body
from bot.store import ClaimedEvent, Store
from testkit.posthog_api import PERSONAL_KEY, PROJECT_ID, FakePostHogApi, server_error, slow
from testkit.webhook_bodies import webhook_body
from tests.support.factories import example_config

SIGNAL = Signal(
    name="Seats maxed",
    query="SELECT distinct_id, seats FROM persons_seats",
    every="1h",
    min_score=90,  # only a person whose company and work email count reaches it
)


@pytest.fixture
def posthog() -> Iterator[FakePostHogApi]:
    with FakePostHogApi(seed=False) as server:
        server.add_person("u_jane", [], {"email": "jane@acme.com", "name": "Jane Doe", "plan": "team"})
        server.add_person("u_gmail", [], {"email": "sam@gmail.com"})
        yield server


def decide(
    store: Store, posthog: FakePostHogApi, bodies: list[WebhookBody], timeout_s: float = 2.0
) -> list[Decision]:
    """Each body decided in turn by one pipeline (as one worker does), looking persons up in `posthog`."""

    async def go() -> list[Decision]:
        config = example_config()
        config = config.model_copy(update={"signals": [*config.signals, SIGNAL]})
        async with httpx.AsyncClient() as client:
            api = PostHogApi(posthog.url, PROJECT_ID, PERSONAL_KEY, client, timeout_s=timeout_s)
            enricher = Enricher(config.enrichment, store, client, Metrics())
            pipeline = Pipeline(config, store, enricher, posthog.url, PROJECT_ID, persons=PersonLookup(api))
            return [await pipeline.evaluate(body, time.time(), "query:1") for body in bodies]

    return asyncio.run(go())


def row(started: float, **columns: Any) -> WebhookBody:
    return row_body(SIGNAL, started, columns)


def test_a_persons_row_without_email_gets_the_persons_company_and_icp(module_store, posthog):
    started = time.time() - 5
    first, again = decide(
        module_store,
        posthog,
        [row(started, distinct_id="u_jane", seats=9), row(started, distinct_id="u_jane", seats=10)],
    )
    assert first.entry.outcome is Outcome.ALERTED and first.entry.account == "acme.com"
    facts = first.alerts[0].facts
    assert (facts.account_source, facts.company["name"]) == ("email domain", "Acme Corp")
    assert (facts.person_email, facts.person_name, facts.distinct_id) == (
        "jane@acme.com",
        "Jane Doe",
        "u_jane",
    )
    work_email = next(c for c in facts.score.breakdown if c.name == "Work email")
    assert work_email.status == "met" and facts.score.value == 100
    assert facts.route.channel == "C0AE1"  # routed on the company the person's email names
    assert facts.posthog_url == f"{posthog.url}/project/{PROJECT_ID}/person/u_jane"
    assert again.entry.account == "acme.com"

    # One lookup for the person in this run; the next run asks again.
    assert [c.query for c in posthog.persons_calls()] == [{"distinct_id": ["u_jane"]}]
    decide(module_store, posthog, [row(started + 3600, distinct_id="u_jane", seats=9)])
    assert len(posthog.persons_calls()) == 2


def test_concurrent_rows_of_one_person_share_one_lookup(module_store, posthog):
    started = time.time() - 5
    bodies = [row(started, distinct_id="u_jane", seats=n) for n in range(5)]

    async def go() -> list[Decision]:
        async with httpx.AsyncClient() as client:
            api = PostHogApi(posthog.url, PROJECT_ID, PERSONAL_KEY, client)
            lookup = PersonLookup(api)
            return await asyncio.gather(*(lookup.with_person(b) for b in bodies))

    posthog.script(slow(0.2, None), path="persons/")  # the first lookup is slow: the others wait for it
    found = asyncio.run(go())
    assert len(posthog.persons_calls()) == 1
    assert {b.person for b in found} == {None}  # the scripted answer knows no one: nor does any row


def test_a_free_mail_person_stays_the_account_and_an_unknown_one_is_decided_as_before(module_store, posthog):
    started = time.time()
    gmail, nobody = decide(
        module_store,
        posthog,
        [row(started, distinct_id="u_gmail", seats=3), row(started, distinct_id="u_nobody", seats=3)],
    )
    assert (gmail.entry.account, nobody.entry.account) == ("person:u_gmail", "person:u_nobody")
    assert len(posthog.persons_calls()) == 2


@pytest.mark.parametrize(
    "columns",
    [
        {"distinct_id": "u_jane", "email": "jane@initech.com"},  # the row names the email
        {"distinct_id": "u_jane", "account": "initech.com"},  # an account's row has no person
        {"account": "initech.com"},
    ],
)
def test_rows_that_name_their_email_or_account_are_not_looked_up(module_store, posthog, columns):
    [decision] = decide(module_store, posthog, [row(time.time(), seats=1, **columns)])
    assert decision.entry.account == "initech.com"
    assert posthog.persons_calls() == []


def test_webhook_events_carry_their_person_and_are_never_looked_up(module_store, posthog):
    with_person = webhook_body(
        "feature_activated", distinct_id="u_jane", properties={"feature_name": "api_integration"}
    )
    without = webhook_body(
        "feature_activated", distinct_id="u_jane", properties={"feature_name": "api_integration"}
    )
    without.pop("person", None)
    bodies = [parse_body(orjson.dumps(b))[0] for b in (with_person, without)]
    decide(module_store, posthog, bodies)
    assert posthog.persons_calls() == []


@pytest.mark.parametrize("failure", [server_error(500), slow(3.0)], ids=["500", "timeout"])
def test_a_failing_posthog_decides_the_runs_rows_as_before_and_says_so_once(
    module_store, posthog, failure, caplog
):
    posthog.script(failure, path="persons/")
    started = time.time() - 5
    bodies = [row(started, distinct_id="u_jane", seats=1), row(started, distinct_id="u_other", seats=2)]
    with caplog.at_level(logging.WARNING, logger="bot.decide.persons"):
        began = time.monotonic()
        first, second = decide(module_store, posthog, bodies, timeout_s=0.3)
    assert time.monotonic() - began < 2.5
    assert (first.entry.account, second.entry.account) == ("person:u_jane", "person:u_other")
    assert [s.outcome for s in first.entry.signals] == [Outcome.BELOW_THRESHOLD]  # as without a lookup
    assert len(posthog.persons_calls()) == 1  # the run's other rows are not looked up
    [warning] = [r for r in caplog.records if r.name == "bot.decide.persons"]
    assert "PostHog" in warning.getMessage() and PERSONAL_KEY not in warning.getMessage()


def test_a_claimed_batch_reads_the_looked_up_accounts_state(module_store, posthog):
    """`prepare` leaves a row that needs its person to `evaluate`, which reads the state it needs."""
    body = row(time.time() - 5, distinct_id="u_jane", seats=4)

    async def go() -> Decision:
        config = example_config()
        config = config.model_copy(update={"signals": [*config.signals, SIGNAL]})
        async with httpx.AsyncClient() as client:
            api = PostHogApi(posthog.url, PROJECT_ID, PERSONAL_KEY, client)
            enricher = Enricher(config.enrichment, module_store, client, Metrics())
            pipeline = Pipeline(
                config, module_store, enricher, posthog.url, PROJECT_ID, persons=PersonLookup(api)
            )
            claimed = ClaimedEvent(body.event.uuid, body.stored(), 1, time.time(), "query:1")
            prepared = await pipeline.prepare([claimed])
            assert prepared.states == {}
            return await pipeline.decide(claimed, prepared)

    assert asyncio.run(go()).entry.account == "acme.com"
    assert len(posthog.persons_calls()) == 1


def test_what_posthog_says_of_a_person_is_bounded():
    hostile = {f"p{i}": "x" * 10_000 for i in range(3000)}
    hostile["email"] = "jane@acme.com\x00"
    person = person_from({"uuid": "u" * 500, "name": "n" * 5000, "properties": hostile})
    assert person is not None
    assert person.properties["email"] == "jane@acme.com\ufffd"  # kept first, however many there are
    assert len(person.properties) <= MAX_PROPERTIES
    assert all(len(v) <= 2000 for v in person.properties.values() if isinstance(v, str))
    assert len(orjson.dumps(person.properties)) <= 300 * 1024
    assert len(person.id or "") <= 200 and len(person.name or "") <= 2000
    assert bounded_properties({1: "one", "": "empty"}) == {"1": "one"}
    assert person_from({"properties": "not a dict"}).properties == {}
