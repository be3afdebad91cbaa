"""Routing: the first matching route wins, the last is the default, and the reason is written out."""

from __future__ import annotations

import pytest

from bot.config.signals_file import Route
from bot.decide.routing import route
from tests.support.factories import company, example_config


def context_for(domain: str) -> dict:
    return {"company": company(domain), "properties": {}, "person": {}}


@pytest.mark.parametrize(
    ("domain", "channel", "owner", "reason", "index"),
    [
        ("acme.com", "C0AE1", "U0OWNER1", "company.domain is one of acme.com, initech.com", 0),
        ("initech.com", "C0AE1", "U0OWNER1", "company.domain is one of acme.com, initech.com", 0),
        ("globex.de", "C0EMEA", None, "company.country is one of DE, FR, GB", 1),
        ("umbrella.co.uk", "C0EMEA", None, "company.country is one of DE, FR, GB", 1),
        ("hooli.io", "C0SIGNALS", None, "default route", 2),
    ],
)
def test_example_routing(domain, channel, owner, reason, index):
    decision = route(example_config().routing, context_for(domain))
    assert (decision.channel, decision.owner, decision.reason, decision.index) == (
        channel,
        owner,
        reason,
        index,
    )


def test_first_match_wins_even_when_a_later_route_also_matches():
    # Acme, moved to Germany: the named-account route comes first.
    context = {"company": {**company("acme.com"), "country": "DE"}}
    assert route(example_config().routing, context).channel == "C0AE1"


def test_unknown_company_goes_to_the_default_route():
    decision = route(example_config().routing, {"company": {}})
    assert (decision.channel, decision.reason) == ("C0SIGNALS", "default route")


def test_every_condition_of_a_route_must_hold_and_the_reason_names_them_all():
    routes = [
        Route.model_validate(
            {"when": {"company.country": ["DE"], "properties.plan": "trial"}, "channel": "C0DE"}
        ),
        Route.model_validate({"channel": "C0ALL"}),
    ]
    german_trial = {"company": {"country": "de"}, "properties": {"plan": "Trial"}}
    german_team = {"company": {"country": "DE"}, "properties": {"plan": "team"}}
    decision = route(routes, german_trial)
    assert (decision.channel, decision.reason) == (
        "C0DE",
        "company.country is DE and properties.plan is trial",
    )
    assert route(routes, german_team).channel == "C0ALL"


def test_without_any_matching_route_it_says_so():
    routes = [Route.model_validate({"when": {"company.country": ["DE"]}, "channel": "C0DE"})]
    with pytest.raises(ValueError, match="no route matched"):
        route(routes, {"company": {"country": "US"}})
