"""Which account an event belongs to, in the SPEC's order."""

from __future__ import annotations

import pytest

from bot.decide.accounts import resolve_account
from bot.ingest.webhook_body import WebhookBody
from tests.support.factories import body

# --- resolution order -------------------------------------------------------------------------------

EVERYTHING = {
    "properties": {"company_domain": "https://www.Acme.com", "$groups": {"company": "globex.de"}},
    "groups": {"company": {"id": "initech.com", "properties": {"name": "Initech"}}},
    "person": {"properties": {"email": "jane@hooli.io"}},
}


def test_company_domain_property_comes_first():
    account = resolve_account(body(**EVERYTHING))
    assert (account.key, account.domain, account.source) == (
        "acme.com",
        "acme.com",
        "company_domain property",
    )
    assert not account.is_person


def test_then_the_company_group_from_the_body():
    account = resolve_account(body(**{**EVERYTHING, "properties": {"$groups": {"company": "globex.de"}}}))
    assert (account.key, account.domain, account.source) == (
        "initech.com",
        "initech.com",
        "PostHog company group",
    )
    assert account.group_key == "initech.com"
    assert account.group_properties == {"name": "Initech"}


def test_then_the_company_group_from_event_properties():
    account = resolve_account(
        body(
            properties={"$groups": {"company": "globex.de"}},
            person={"properties": {"email": "jane@hooli.io"}},
        )
    )
    assert (account.key, account.source, account.group_key) == (
        "globex.de",
        "PostHog company group",
        "globex.de",
    )


def test_a_group_keyed_by_id_uses_its_domain_property():
    account = resolve_account(
        body(groups={"company": {"id": "org_8812", "properties": {"domain": "https://www.initech.com/"}}})
    )
    assert (account.key, account.domain, account.group_key) == ("initech.com", "initech.com", "org_8812")


def test_a_group_without_a_domain_is_still_the_account():
    account = resolve_account(body(properties={"$groups": {"company": "org_8812"}}))
    assert (account.key, account.domain, account.group_key) == ("group:org_8812", None, "org_8812")


def test_numeric_group_key():
    account = resolve_account(body(properties={"$groups": {"company": 8812}}))
    assert account.group_key == "8812"


def test_other_group_types_are_ignored():
    account = resolve_account(
        body(properties={"$groups": {"project": "p1"}}, groups={"organization": {"id": "org_1"}})
    )
    assert account.source == "person"


def test_then_the_persons_email_domain():
    account = resolve_account(body(person={"properties": {"email": "Jane@Hooli.IO"}}))
    assert (account.key, account.domain, account.source) == ("hooli.io", "hooli.io", "email domain")


def test_email_in_event_properties_counts_when_the_person_has_none():
    account = resolve_account(body(properties={"$email": "jane@initech.com"}, person=None))
    assert (account.key, account.source) == ("initech.com", "email domain")


@pytest.mark.parametrize(
    "email", ["jane@gmail.com", "JANE@GMAIL.COM", "jane@yahoo.com", "jane@hotmail.co.uk"]
)
def test_free_mail_is_skipped_and_the_account_is_the_person(email):
    account = resolve_account(body(person={"properties": {"email": email}}, distinct_id="user_42"))
    assert (account.key, account.domain, account.source) == ("person:user_42", None, "person")
    assert account.is_person


def test_junk_company_domain_falls_through_to_the_next_source():
    account = resolve_account(
        body(properties={"company_domain": "Acme Corp"}, person={"properties": {"email": "jane@hooli.io"}})
    )
    assert (account.key, account.source) == ("hooli.io", "email domain")


def test_nothing_known_keeps_the_event_at_person_level():
    account = resolve_account(body(distinct_id="anon-7"))
    assert (account.key, account.domain, account.source) == ("person:anon-7", None, "person")


def test_numeric_distinct_id_person_account():
    account = resolve_account(body(distinct_id=12345))  # type: ignore[arg-type]
    assert account.key == "person:12345"


# --- rows of a query signal ------------------------------------------------------------------------


def _query_body(row: dict, event: str = "$query:API usage dropped") -> WebhookBody:
    data = {"event": {"uuid": "q-1", "event": event, "properties": {}}, "query": row}
    return WebhookBody.model_validate(data)


def test_a_query_rows_account_column_is_its_account():
    account = resolve_account(_query_body({"account": "https://www.Acme.com/", "email": "jane@hooli.io"}))
    assert (account.key, account.domain, account.source) == ("acme.com", "acme.com", "query")
    other = resolve_account(_query_body({"account": "acme-inc"}))  # not a domain: kept, not looked up
    assert (other.key, other.domain, other.source) == ("query:acme-inc", None, "query")


def test_a_forwarded_event_cannot_pass_itself_off_as_a_query_row():
    forwarded = _query_body({"account": "evil.example"}, event="onboarding_completed")
    assert forwarded.query_row is None
    assert resolve_account(forwarded) is None  # no distinct_id, no email: nothing to hold on to
