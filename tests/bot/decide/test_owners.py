"""`owner: crm` lookups with the real HubSpot and Slack clients against the fakes, cached in the real store
(SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.clients.hubspot import HubSpot
from bot.decide.owners import HUBSPOT_PROVIDER, SLACK_PROVIDER, OwnerLookup, OwnerResolver
from bot.decide.routing import RouteDecision
from bot.store import Store
from testkit.base import Reply
from testkit.hubspot import TOKEN as HUBSPOT_TOKEN
from testkit.hubspot import FakeHubSpot, rate_limited, server_error
from testkit.slack import TOKEN as SLACK_TOKEN
from testkit.slack import FakeSlack

OWNER_PATH = "/crm/v3/owners/333"
SEARCH_PATH = "/crm/v3/objects/companies/search"


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as server:
        server.add_owner("333", email="olive@acme.io", first_name="Olive", last_name="Owner")
        server.add_company("301", name="Acme IO", domain="acme.io", owner="333")
        yield server


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        server.add_user("U0OLIVE", "olive@acme.io", "Olive Owner")
        yield server


def resolve(
    store: Store | None,
    hubspot: FakeHubSpot | None,
    slack: FakeSlack,
    domain: str | None = "acme.io",
    *,
    timeout_s: float = 3.0,
    client_timeout_s: float = 2.0,
) -> OwnerLookup:
    async def go() -> OwnerLookup:
        async with httpx.AsyncClient() as client:
            crm = HubSpot(hubspot.api_url, HUBSPOT_TOKEN, client, client_timeout_s) if hubspot else None
            web = AsyncWebClient(token=SLACK_TOKEN, base_url=slack.api_url, timeout=2, retry_handlers=[])
            return await OwnerResolver(store, crm, web, timeout_s=timeout_s).resolve(domain)

    return asyncio.run(go())


def http_calls(hubspot: FakeHubSpot, slack: FakeSlack) -> int:
    return len(hubspot.requests) + len(slack.calls("users.lookupByEmail"))


def test_each_step_found_gives_the_slack_user_and_the_hubspot_owner(
    store: Store, hubspot: FakeHubSpot, slack: FakeSlack
) -> None:
    found = resolve(store, hubspot, slack, "https://www.Acme.io/pricing")
    assert (found.slack_user, found.note, found.hubspot_owner_id) == (
        "U0OLIVE",
        "owner from HubSpot: Olive Owner",
        "333",
    )
    assert [(s.name, s.status) for s in found.steps] == [
        ("HubSpot company", "ok"),
        ("HubSpot owner", "ok"),
        ("Slack user", "ok"),
    ]
    assert slack.calls("users.lookupByEmail") == [{"email": "olive@acme.io"}]


def test_a_second_lookup_is_answered_from_the_cache(
    store: Store, hubspot: FakeHubSpot, slack: FakeSlack
) -> None:
    first = resolve(store, hubspot, slack)
    calls = http_calls(hubspot, slack)
    second = resolve(store, hubspot, slack)
    assert http_calls(hubspot, slack) == calls  # no HTTP at all
    assert (second.slack_user, second.note, second.hubspot_owner_id) == (
        first.slack_user,
        first.note,
        first.hubspot_owner_id,
    )
    assert all(s.cached for s in second.steps)


@pytest.mark.parametrize(
    ("domain", "note"),
    [
        ("nowhere.example", "no HubSpot company for nowhere.example"),
        ("initech.com", "no HubSpot owner for initech.com"),  # a company without hubspot_owner_id
    ],
)
def test_a_missing_company_or_owner_is_cached_negatively(
    store: Store, hubspot: FakeHubSpot, slack: FakeSlack, domain: str, note: str
) -> None:
    found = resolve(store, hubspot, slack, domain)
    assert (found.slack_user, found.note, found.hubspot_owner_id) == (None, note, None)
    calls = len(hubspot.requests)
    assert resolve(store, hubspot, slack, domain).note == note
    assert len(hubspot.requests) == calls
    assert store.cache_get(HUBSPOT_PROVIDER, domain, 0)[0]


def test_an_owner_hubspot_does_not_have_404_is_said_and_cached(
    store: Store, hubspot: FakeHubSpot, slack: FakeSlack
) -> None:
    hubspot.add_company("302", name="Ghost", domain="ghost.io", owner="999")
    found = resolve(store, hubspot, slack, "ghost.io")
    assert found.note == "HubSpot owner 999 of ghost.io not found"
    assert found.slack_user is None
    assert [c.path for c in hubspot.calls("/crm/v3/owners/999")]
    calls = len(hubspot.requests)
    resolve(store, hubspot, slack, "ghost.io")
    assert len(hubspot.requests) == calls


def test_no_slack_user_keeps_the_hubspot_owner_for_the_task_and_is_cached(
    store: Store, hubspot: FakeHubSpot, slack: FakeSlack
) -> None:
    slack.users.clear()
    found = resolve(store, hubspot, slack)
    assert (found.slack_user, found.note, found.hubspot_owner_id) == (
        None,
        "HubSpot owner olive@acme.io has no Slack user",
        "333",
    )
    assert store.cache_get(SLACK_PROVIDER, "olive@acme.io", 0) == (True, None)
    resolve(store, hubspot, slack)
    assert len(slack.calls("users.lookupByEmail")) == 1


def test_a_deactivated_slack_user_is_no_owner(store: Store, hubspot: FakeHubSpot, slack: FakeSlack) -> None:
    slack.users.clear()
    slack.add_user("U0GONE", "olive@acme.io", "Olive Owner", deleted=True)
    assert resolve(store, hubspot, slack).slack_user is None


@pytest.mark.parametrize(
    ("reply", "note"),
    [
        (rate_limited(retry_after_s=7), "HubSpot is rate limiting (429)"),
        (server_error(503), "HubSpot had a problem on its side (503)"),
        (Reply(200, {"ok": True}, delay_s=3), "HubSpot did not answer (timeout)"),
    ],
    ids=["429", "503", "timeout"],
)
@pytest.mark.parametrize("path", [SEARCH_PATH, OWNER_PATH])
def test_transient_hubspot_failures_say_so_and_are_not_cached(
    store: Store, hubspot: FakeHubSpot, slack: FakeSlack, reply: Reply, note: str, path: str
) -> None:
    hubspot.script(reply, path=path)
    found = resolve(store, hubspot, slack, client_timeout_s=0.3)
    assert (found.slack_user, found.note) == (None, note)
    assert store.cache_get(HUBSPOT_PROVIDER, "acme.io", 0) == (False, None)
    assert resolve(store, hubspot, slack).slack_user == "U0OLIVE"  # asked again, and found


def test_the_whole_lookup_is_bounded_by_its_timeout(
    store: Store, hubspot: FakeHubSpot, slack: FakeSlack
) -> None:
    hubspot.script(Reply(200, {}, delay_s=3), path=OWNER_PATH)
    found = resolve(store, hubspot, slack, timeout_s=0.3, client_timeout_s=5)
    assert (found.slack_user, found.note) == (None, "HubSpot did not answer (timeout)")
    assert store.cache_get(HUBSPOT_PROVIDER, "acme.io", 0) == (False, None)


def test_slack_rate_limiting_is_not_cached(store: Store, hubspot: FakeHubSpot, slack: FakeSlack) -> None:
    slack.script(
        "users.lookupByEmail", Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
    )
    found = resolve(store, hubspot, slack)
    assert (found.slack_user, found.note, found.hubspot_owner_id) == (None, "Slack is rate limiting", "333")
    assert store.cache_get(SLACK_PROVIDER, "olive@acme.io", 0) == (False, None)
    assert resolve(store, hubspot, slack).slack_user == "U0OLIVE"


def test_a_missing_slack_scope_is_said(store: Store, hubspot: FakeHubSpot, slack: FakeSlack) -> None:
    slack.script(
        "users.lookupByEmail",
        Reply(200, {"ok": False, "error": "missing_scope", "needed": "users:read.email"}),
    )
    assert resolve(store, hubspot, slack).note == "Slack refused the lookup (missing_scope)"


def test_without_hubspot_or_a_domain_there_is_no_owner(slack: FakeSlack) -> None:
    assert resolve(None, None, slack).note == "HubSpot is not configured (HUBSPOT_ACCESS_TOKEN)"
    with FakeHubSpot() as hubspot:
        assert resolve(None, hubspot, slack, None).note == "no account domain to find a HubSpot owner by"
        assert not hubspot.requests


def test_apply_fills_the_route_only_for_owner_crm(hubspot: FakeHubSpot, slack: FakeSlack) -> None:
    async def go(decision: RouteDecision) -> RouteDecision:
        async with httpx.AsyncClient() as client:
            crm = HubSpot(hubspot.api_url, HUBSPOT_TOKEN, client)
            web = AsyncWebClient(token=SLACK_TOKEN, base_url=slack.api_url, retry_handlers=[])
            return await OwnerResolver(None, crm, web).apply(decision, "acme.io")

    static = RouteDecision("C1", "U0STATIC", "default route", 0)
    assert asyncio.run(go(static)) is static
    routed: Any = asyncio.run(go(RouteDecision("C1", None, "default route", 0, owner_from_crm=True)))
    assert (routed.owner, routed.owner_note, routed.hubspot_owner_id) == (
        "U0OLIVE",
        "owner from HubSpot: Olive Owner",
        "333",
    )


def test_events_of_one_account_decided_at_once_share_one_lookup(
    store: Store, hubspot: FakeHubSpot, slack: FakeSlack
) -> None:
    """A burst of a new account's events asks HubSpot once (its search API allows a few a second)."""

    async def go() -> list[RouteDecision]:
        async with httpx.AsyncClient() as client:
            crm = HubSpot(hubspot.api_url, HUBSPOT_TOKEN, client)
            web = AsyncWebClient(token=SLACK_TOKEN, base_url=slack.api_url, retry_handlers=[])
            resolver = OwnerResolver(store, crm, web)
            decision = RouteDecision("C1", None, "default route", 0, owner_from_crm=True)
            return await asyncio.gather(*(resolver.apply(decision, "acme.io") for _ in range(8)))

    routed = asyncio.run(go())
    assert {r.owner for r in routed} == {"U0OLIVE"}
    assert len(hubspot.calls("/crm/v3/objects/companies/search")) == 1
    assert len(slack.calls("users.lookupByEmail")) == 1
