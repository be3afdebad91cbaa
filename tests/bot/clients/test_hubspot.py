"""The real HubSpot client over HTTP against a fake HubSpot speaking HubSpot's wire format."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from bot.clients.hubspot import HubSpot, HubSpotCompany, HubSpotError, HubSpotTask
from testkit.base import Reply
from testkit.hubspot import (
    PORTAL_ID,
    TOKEN,
    FakeHubSpot,
    missing_scopes,
    rate_limited,
    server_error,
    validation_error,
)

DUE = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
MARKER = "alert7f3a9c21"
TASK_URL = f"https://app.hubspot.com/tasks/{PORTAL_ID}/view/all/task/"


@pytest.fixture
def fake() -> Any:
    with FakeHubSpot() as server:
        yield server


def run(
    base_url: str, call: Callable[[HubSpot], Awaitable[Any]], *, token: str = TOKEN, timeout_s: float = 5.0
) -> Any:
    async def go() -> Any:
        async with httpx.AsyncClient() as client:
            return await call(HubSpot(base_url, token, client, timeout_s=timeout_s))

    return asyncio.run(go())


def create(hubspot: HubSpot, **overrides: Any) -> Awaitable[HubSpotTask]:
    args: dict[str, Any] = {
        "subject": "Acme Corp finished onboarding",
        "body": "Trial user from Acme Corp finished onboarding.\nICP 100/100",
        "due": DUE,
        "priority": "high",
        "owner_id": "111",
        "company_id": "101",
        "marker": MARKER,
    }
    return hubspot.create_task(**{**args, **overrides})


def error_of(base_url: str, call: Callable[[HubSpot], Awaitable[Any]], **kwargs: Any) -> HubSpotError:
    with pytest.raises(HubSpotError) as caught:
        run(base_url, call, **kwargs)
    return caught.value


# -- companies -----------------------------------------------------------------------------------
def test_company_found_with_its_owner(fake):
    company = run(fake.url, lambda h: h.find_company("acme.com"))
    assert company == HubSpotCompany(id="101", name="Acme Corp", domain="acme.com", owner_id="111")
    (request,) = fake.calls("/crm/v3/objects/companies/search")
    assert request.method == "POST"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    sent = request.json()
    assert sent["filterGroups"] == [
        {"filters": [{"propertyName": "domain", "operator": "EQ", "value": "acme.com"}]}
    ]
    assert "hubspot_owner_id" in sent["properties"]


def test_company_without_owner_and_unknown_domain(fake):
    initech = run(fake.url, lambda h: h.find_company("https://WWW.Initech.com/about"))
    assert initech == HubSpotCompany(id="102", name="Initech", domain="initech.com", owner_id=None)
    assert run(fake.url, lambda h: h.find_company("nobody.example")) is None
    assert run(fake.url, lambda h: h.find_company("  ")) is None
    assert len(fake.calls("/crm/v3/objects/companies/search")) == 2  # a blank domain asks nothing


def test_duplicate_companies_resolve_to_the_oldest(fake):
    fake.add_company("150", name="Acme (duplicate)", domain="acme.com")
    assert run(fake.url, lambda h: h.find_company("acme.com")).id == "101"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.com", "acme.com"),
        ("WWW.ACME.COM.", "acme.com"),
        ("http://acme.com:8080/x", "acme.com"),
        ("jane@acme.com", "acme.com"),
        ("", None),
        ("localhost", None),
        ("Acme Corp", None),
    ],
)
def test_the_company_search_sends_the_bare_domain(fake, raw, expected):
    company = run(fake.url, lambda h: h.find_company(raw))
    searches = fake.calls("/crm/v3/objects/companies/search")
    if expected is None:  # not a domain: HubSpot is not asked
        assert company is None and searches == []
    else:
        (request,) = searches
        assert request.json()["filterGroups"][0]["filters"][0]["value"] == expected
        assert company is not None and company.id == "101"


# -- tasks ---------------------------------------------------------------------------------------
def test_task_created_with_owner_and_company(fake):
    task = run(fake.url, create)
    (stored,) = fake.tasks()
    assert task == HubSpotTask(id=stored.id, url=TASK_URL + stored.id)
    (request,) = fake.calls("/crm/v3/objects/tasks")
    sent = request.json()
    assert sent["associations"] == [
        {"to": {"id": "101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}]}
    ]
    props = sent["properties"]
    assert all(isinstance(v, str) for v in props.values())
    assert props["hs_timestamp"] == "2026-12-01T17:00:00.000Z"
    assert props["hs_task_subject"] == "Acme Corp finished onboarding"
    assert props["hs_task_body"].startswith("Trial user from Acme Corp finished onboarding.\nICP 100/100")
    assert MARKER in props["hs_task_body"]
    assert (props["hs_task_priority"], props["hs_task_status"], props["hs_task_type"]) == (
        "HIGH",
        "NOT_STARTED",
        "TODO",
    )
    assert props["hubspot_owner_id"] == "111"
    assert stored.associations == [{"to": "101", "category": "HUBSPOT_DEFINED", "typeId": 192}]


def test_task_without_owner_company_or_priority(fake):
    run(fake.url, lambda h: create(h, owner_id=None, company_id=None, priority="none"))
    sent = fake.calls("/crm/v3/objects/tasks")[0].json()
    assert "associations" not in sent
    assert "hubspot_owner_id" not in sent["properties"]
    assert "hs_task_priority" not in sent["properties"]
    assert fake.tasks()[0].associations == []


def test_due_date_is_sent_in_utc(fake):
    paris = timezone(timedelta(hours=1))
    run(fake.url, lambda h: create(h, due=datetime(2026, 12, 1, 18, 0, tzinfo=paris)))
    assert fake.tasks()[0].properties["hs_timestamp"] == "2026-12-01T17:00:00.000Z"


def test_bad_arguments_fail_before_any_request(fake):
    bad = (
        {"marker": "pss-a-b-c-d-e"},
        {"marker": "has space1234"},
        {"priority": "urgent"},
        {"due": datetime(2026, 12, 1)},
    )
    for overrides in bad:
        with pytest.raises(ValueError):
            run(fake.url, lambda h, o=overrides: create(h, **o))
    with pytest.raises(ValueError):
        run(fake.url, lambda h: h.find_task("short"))
    assert fake.requests == []


def test_hubspot_rejection_of_a_task_is_explained(fake):
    error = error_of(fake.url, lambda h: create(h, company_id="999"))
    assert (error.status, error.category, error.retryable) == (400, "VALIDATION_ERROR", False)
    assert error.explain().startswith("HubSpot rejected the request (400): No company with id '999'")
    assert fake.tasks() == []


def test_fake_enforces_hubspot_rules():
    """The fake answers like HubSpot when a client gets the wire format wrong."""
    good = {"hs_timestamp": "2026-12-01T17:00:00.000Z", "hs_task_subject": "s"}
    association = {
        "to": {"id": "101"},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}],
    }
    cases = [
        ({"properties": {"hs_task_subject": "no due date"}}, "hs_timestamp"),
        ({"properties": {**good, "hs_timestamp": "tomorrow"}}, "hs_timestamp"),
        ({"properties": {**good, "hs_task_priority": "URGENT"}}, "hs_task_priority"),
        ({"properties": {**good, "hubspot_owner_id": 111}}, "strings"),
        ({"properties": {**good, "hubspot_owner_id": "999"}}, "owner"),
        ({"properties": {**good, "colour": "red"}}, "does not exist"),
        ({"properties": good, "associations": [association]}, "association type 204"),
    ]
    with FakeHubSpot() as server, httpx.Client(base_url=server.url) as client:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for payload, words in cases:
            answer = client.post("/crm/v3/objects/tasks", json=payload, headers=headers)
            body = answer.json()
            assert answer.status_code == 400, payload
            assert (body["status"], body["category"]) == ("error", "VALIDATION_ERROR")
            assert words in body["message"] and body["correlationId"]
        created = client.post("/crm/v3/objects/tasks", json={"properties": good}, headers=headers)
        assert created.status_code == 201
        assert set(created.json()) == {"id", "properties", "createdAt", "updatedAt", "archived"}
        assert client.post("/crm/v3/objects/tasks", json={"properties": good}).status_code == 401


# -- finding a task again ------------------------------------------------------------------------
def test_find_task_by_marker(fake):
    created = run(fake.url, create)
    run(fake.url, lambda h: create(h, marker="other0000marker"))

    found = run(fake.url, lambda h: h.find_task(MARKER))
    assert found == created
    sent = fake.calls("/crm/v3/objects/tasks/search")[0].json()
    assert sent["filterGroups"] == [
        {"filters": [{"propertyName": "hs_task_body", "operator": "CONTAINS_TOKEN", "value": MARKER}]}
    ]
    assert run(fake.url, lambda h: h.find_task("alert7f3a9c2")) is None  # a prefix is another token
    assert run(fake.url, lambda h: h.find_task("neverCreated1")) is None


def test_find_task_with_the_controls_marker_and_html_body(fake):
    """`bot.actions.task_content` writes `pss-alert-<hex>` into an HTML body itself: kept once, found
    by its hex token."""
    marker = "pss-alert-0123456789abcdef0123456789abcdef"
    html = f"<p>Summary &amp; score</p><p>Created from Slack by posthog-slack-signals ({marker})</p>"
    created = run(fake.url, lambda h: create(h, body=html, marker=marker))
    assert fake.tasks()[0].properties["hs_task_body"] == html
    assert run(fake.url, lambda h: h.find_task(marker)) == created
    sent = fake.calls("/crm/v3/objects/tasks/search")[0].json()
    assert sent["filterGroups"][0]["filters"][0]["value"] == "0123456789abcdef0123456789abcdef"
    assert run(fake.url, lambda h: h.find_task("pss-alert-0123456789abcdef0123456789abcdee")) is None


def test_html_body_gets_the_marker_as_a_paragraph(fake):
    run(fake.url, lambda h: create(h, body="<p>Summary</p>"))
    assert (
        fake.tasks()[0].properties["hs_task_body"]
        == f"<p>Summary</p><p>posthog-slack-signals ref {MARKER}</p>"
    )


def test_find_task_by_subject_when_the_body_is_not_token_searchable(fake):
    created = run(fake.url, create)
    run(fake.url, lambda h: create(h, marker="other0000marker"))  # same subject, other alert
    fake.token_search_properties = {"hs_task_subject"}
    assert run(fake.url, lambda h: h.find_task(MARKER)) is None
    found = run(fake.url, lambda h: h.find_task(MARKER, subject="Acme Corp finished onboarding"))
    assert found == created
    groups = fake.calls("/crm/v3/objects/tasks/search")[-1].json()["filterGroups"]
    assert groups[1] == {
        "filters": [
            {"propertyName": "hs_task_subject", "operator": "EQ", "value": "Acme Corp finished onboarding"}
        ]
    }


def test_find_task_ignores_token_matches_without_the_marker(fake):
    fake.script(
        Reply(200, {"total": 1, "results": [{"id": "5", "properties": {"hs_task_body": "something else"}}]}),
        path="/crm/v3/objects/tasks/search",
    )
    assert run(fake.url, lambda h: h.find_task(MARKER)) is None


def test_find_task_right_after_creation_may_miss_it(fake):
    """HubSpot's search index lags writes: None just after a timeout means "not yet", not "never"."""
    fake.index_delay_s = 60
    run(fake.url, create)
    assert run(fake.url, lambda h: h.find_task(MARKER)) is None
    fake.index_delay_s = 0
    assert run(fake.url, lambda h: h.find_task(MARKER)) is not None


# -- portal and links ----------------------------------------------------------------------------
def test_portal_id_is_asked_once(fake):
    async def twice(h: HubSpot) -> tuple[Any, ...]:
        return await h.portal_id(), await h.portal_id(), h.company_url("101"), h.task_url("7")

    portal, again, company_url, task_url = run(fake.url, twice)
    assert portal == again == PORTAL_ID
    assert company_url == f"https://app.hubspot.com/contacts/{PORTAL_ID}/record/0-2/101"
    assert task_url == TASK_URL + "7"
    assert len(fake.calls("/account-info/v3/details")) == 1


def test_links_use_the_accounts_own_domain():
    with FakeHubSpot(ui_domain="app-eu1.hubspot.com") as server:
        task = run(server.url, create)
    assert task.url == f"https://app-eu1.hubspot.com/tasks/{PORTAL_ID}/view/all/task/{task.id}"


def test_task_is_returned_without_link_when_account_info_fails(fake):
    fake.script(missing_scopes("oauth"), path="/account-info/v3/details")
    task = run(fake.url, create)
    assert task.url is None and len(fake.tasks()) == 1


# -- errors --------------------------------------------------------------------------------------
def test_wrong_token_is_explained_without_the_token(fake):
    error = error_of(fake.url, lambda h: h.find_company("acme.com"), token="pat-na1-wrong")
    assert (error.status, error.category) == (401, "INVALID_AUTHENTICATION")
    assert error.explain() == "HubSpot rejected the access token (401): check HUBSPOT_ACCESS_TOKEN"
    assert "pat-na1-wrong" not in error.explain() + str(error)


@pytest.mark.parametrize(
    ("reply", "status", "category", "explained", "retry_after"),
    [
        (
            missing_scopes("crm.objects.companies.read"),
            403,
            "MISSING_SCOPES",
            "HubSpot refused the call (403): the private app is missing the scope crm.objects.companies.read",
            None,
        ),
        (rate_limited(10), 429, "RATE_LIMITS", "HubSpot is rate limiting; try again in 10 s", 10.0),
        (
            rate_limited(None),
            429,
            "RATE_LIMITS",
            "HubSpot is rate limiting; try again in a few seconds",
            None,
        ),
        (
            server_error(502),
            502,
            "INTERNAL_ERROR",
            "HubSpot had a problem on its side (502); try again in a minute",
            None,
        ),
        (
            Reply(503, b"<html>upstream connect error</html>", {"Content-Type": "text/html"}),
            503,
            None,
            "HubSpot had a problem on its side (503); try again in a minute",
            None,
        ),
    ],
)
def test_errors_are_mapped_and_explained(fake, reply, status, category, explained, retry_after):
    fake.script(reply)
    error = error_of(fake.url, lambda h: h.find_company("acme.com"))
    assert (error.status, error.category, error.retry_after) == (status, category, retry_after)
    assert error.explain() == explained
    assert error.retryable == (status != 403)


def test_an_echoed_token_is_scrubbed(fake):
    fake.script(validation_error(f"bad header Bearer {TOKEN}"))
    error = error_of(fake.url, lambda h: h.find_company("acme.com"))
    assert TOKEN not in error.explain() and "***" in error.explain()


def test_a_success_that_is_not_json_is_an_error(fake):
    fake.script(Reply(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}))
    error = error_of(fake.url, lambda h: h.find_company("acme.com"))
    assert (error.status, error.category) == (200, "BAD_RESPONSE")


def test_timeout_is_bounded_and_explained(fake):
    fake.script(Reply(201, {"id": "1"}, delay_s=3))
    started = time.perf_counter()
    error = error_of(fake.url, create, timeout_s=0.3)
    assert time.perf_counter() - started < 2
    assert (error.status, error.category, error.retryable) == (None, "TIMEOUT", True)
    assert error.explain() == "HubSpot did not answer within 0.3 s"


def test_unreachable_hubspot_is_explained():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    error = error_of(f"http://127.0.0.1:{port}", lambda h: h.find_company("acme.com"))
    assert (error.status, error.category) == (None, "UNREACHABLE")
    assert error.explain().startswith(f"Could not reach HubSpot at 127.0.0.1:{port}")


# -- owners --------------------------------------------------------------------------------------
def test_get_owner_reads_hubspots_owner_and_404_is_none(fake):
    from bot.clients.hubspot import HubSpotOwner

    fake.add_owner("333", email="olive@acme.io", first_name="Olive", last_name="Owner")
    owner = run(fake.api_url, lambda h: h.get_owner("333"))
    assert owner == HubSpotOwner("333", "olive@acme.io", "Olive", "Owner") and owner.name == "Olive Owner"
    assert run(fake.api_url, lambda h: h.get_owner("999")) is None
    assert run(fake.api_url, lambda h: h.get_owner("../tasks")) is None  # not an owner id: nothing asked
    assert [r.path for r in fake.requests] == ["/crm/v3/owners/333", "/crm/v3/owners/999"]


def test_get_owner_raises_on_rate_limits_with_retry_after(fake):
    fake.script(rate_limited(retry_after_s=7), path="/crm/v3/owners/111")
    with pytest.raises(HubSpotError) as caught:
        run(fake.api_url, lambda h: h.get_owner("111"))
    assert caught.value.status == 429 and caught.value.retry_after == 7 and caught.value.retryable
