"""The CRM task's contents: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.actions import task_content as crm
from bot.alerts.model import AlertDetails
from bot.config.signals_file import Crm
from bot.decide.routing import RouteDecision
from bot.decide.scoring import CriterionResult, Score


def details(owner: str | None = "U0OWNER1", **overrides: Any) -> AlertDetails:
    values: dict[str, Any] = {
        "alert_id": "a1b2",
        "signal": "Trial finished onboarding",
        "priority": "high",
        "account_key": "acme.com",
        "account_label": "Acme <Corp>",
        "account_source": "company_domain property",
        "company": {"domain": "acme.com"},
        "summary": "Trial user from Acme & co finished onboarding. <script>alert(1)</script>",
        "score": Score(
            value=80,
            points=30,
            total=50,
            breakdown=(
                CriterionResult("Company size", "met", 30, 30, "240, wanted 50–2,000"),
                CriterionResult("Funded", "unknown", 20, 0, "no company.funding_stage"),
            ),
        ),
        "route": RouteDecision("C0AE1", owner, "company.domain is acme.com", 0),
        "event_name": "onboarding_completed",
        "event_uuid": "e1",
        "person_url": "https://us.posthog.com/person/u_1",
        "event_url": "javascript:alert(1)",
    }
    return AlertDetails(**{**values, **overrides})


DETAILS = details()


def test_business_days_skip_weekends():
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert crm.add_business_days(friday, 2) == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # Tuesday
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert crm.add_business_days(saturday, 0).weekday() == 0  # never due on a weekend
    assert crm.add_business_days(saturday, 1) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_due_date_follows_the_signals_file():
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC).timestamp()  # a Monday
    assert crm.due_date(now, Crm(due_in_business_days=3)) == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_owner_mapping_then_company_owner_then_nobody():
    config = Crm(owners={"U0OWNER1": "111"})
    assert crm.owner(DETAILS, config, company_owner="222") == "111"
    assert crm.owner(details(owner="U0OTHER"), config, company_owner="222") == "222"
    assert crm.owner(details(owner=None), config, company_owner=None) is None


def test_the_hubspot_owner_an_owner_crm_route_found_gets_the_task():
    config = Crm(owners={"U0OLIVE": "111"})
    route = RouteDecision("C0AE1", "U0OLIVE", "default route", 0, True, "owner from HubSpot: Olive", "333")
    assert crm.owner(details(route=route), config, company_owner="222") == "333"
    no_slack_user = RouteDecision("C0AE1", None, "default route", 0, True, "no Slack user", "333")
    assert crm.owner(details(route=no_slack_user), config, company_owner="222") == "333"
    failed = RouteDecision("C0AE1", None, "default route", 0, True, "no HubSpot owner for acme.com")
    assert crm.owner(details(route=failed), config, company_owner="222") == "222"


def test_priority_from_the_signal():
    assert crm.priority(DETAILS) == "HIGH"
    assert crm.priority(details(priority="low")) == "LOW"
    assert crm.priority(details(priority="medium")) == "MEDIUM"


def test_body_is_html_escaped_with_safe_links_and_the_marker():
    body = crm.body(DETAILS)
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert "Acme &amp; co" in body
    assert "✓ Company size" in body and "? Funded" in body
    assert 'href="https://us.posthog.com/person/u_1"' in body
    assert "javascript:" not in body
    assert crm.marker("a1b2") in body


def test_subject_names_account_and_signal_and_is_bounded():
    assert crm.subject(DETAILS) == "Follow up: Acme <Corp> — Trial finished onboarding"
    assert len(crm.subject(details(account_label="x" * 1000))) <= crm.SUBJECT_LIMIT
