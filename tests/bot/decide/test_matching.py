"""`where` / `when` conditions: dotted lookup and the forgiving comparisons PostHog data needs."""

from __future__ import annotations

import pytest

from bot.decide.matching import MISSING, all_conditions_hold, condition_holds, describe_condition, lookup

CONTEXT = {
    "properties": {
        "plan": "Trial",
        "seats": 5,
        "price": 2.5,
        "is_admin": True,
        "tags": ["Beta", "api"],
        "nothing": None,
        "$feature/new-onboarding": "test",
        "utm.source": "newsletter",  # a key that itself contains a dot
        "utm": {"medium": "email"},
        "a.b": {"c": "dotted then nested"},
    },
    "company": {"domain": "acme.com", "employees": 240, "country": "DE"},
    "person": {"email": "jane@acme.com"},
}


# --- lookup -----------------------------------------------------------------------------------------


def test_lookup_follows_dotted_paths():
    assert lookup(CONTEXT, "company.domain") == "acme.com"
    assert lookup(CONTEXT, "properties.utm.medium") == "email"


def test_lookup_finds_keys_that_contain_dots():
    assert lookup(CONTEXT, "properties.utm.source") == "newsletter"
    assert lookup(CONTEXT, "properties.a.b.c") == "dotted then nested"


def test_lookup_of_odd_posthog_keys():
    assert lookup(CONTEXT, "properties.$feature/new-onboarding") == "test"


@pytest.mark.parametrize(
    "path",
    [
        "properties.missing",
        "company.domain.tld",
        "nowhere.at.all",
        "properties.plan.name",
        "properties.tags.0",
    ],
)
def test_lookup_of_what_is_not_there_is_missing(path):
    assert lookup(CONTEXT, path) is MISSING


def test_lookup_keeps_none_apart_from_missing():
    assert lookup(CONTEXT, "properties.nothing") is None


# --- conditions -------------------------------------------------------------------------------------


def test_equals_and_one_of():
    assert condition_holds("trial", "trial")
    assert condition_holds("trial", ["team", "trial"])
    assert not condition_holds("enterprise", ["team", "trial"])
    assert not condition_holds("trial", [])


@pytest.mark.parametrize(
    ("actual", "expected"), [("Trial", "trial"), ("TRIAL", ["trial"]), (" trial ", "Trial")]
)
def test_text_compares_case_insensitively_and_ignores_surrounding_spaces(actual, expected):
    assert condition_holds(actual, expected)


def test_text_is_not_a_substring_match():
    assert not condition_holds("trial_expired", "trial")


@pytest.mark.parametrize(
    ("actual", "expected"),
    [(5, "5"), ("5", 5), (5.0, 5), (5, 5.0), ("2.5", 2.5), (2.5, "2.5"), (240, [100, 240])],
)
def test_numbers_match_the_same_number_sent_as_text(actual, expected):
    assert condition_holds(actual, expected)


@pytest.mark.parametrize(("actual", "expected"), [(5, 6), ("5", 50), (2.5, 25)])
def test_different_numbers_do_not_match(actual, expected):
    assert not condition_holds(actual, expected)


@pytest.mark.parametrize(
    ("actual", "expected"), [(True, True), (True, "true"), ("true", True), ("TRUE", True), (False, "false")]
)
def test_booleans_match_as_yaml_spells_them(actual, expected):
    assert condition_holds(actual, expected)


@pytest.mark.parametrize(
    ("actual", "expected"), [(True, False), (True, 1), (1, True), ("yes", True), (0, False)]
)
def test_booleans_are_not_numbers(actual, expected):
    assert not condition_holds(actual, expected)


def test_a_list_valued_property_matches_when_any_element_does():
    assert condition_holds(["Beta", "api"], "beta")
    assert condition_holds(["Beta", "api"], ["ga", "API"])
    assert not condition_holds(["Beta", "api"], ["ga"])
    assert not condition_holds([], ["beta"])


@pytest.mark.parametrize("actual", [MISSING, None])
def test_a_missing_value_never_matches_a_value(actual):
    assert not condition_holds(actual, "trial")
    assert not condition_holds(actual, ["trial", ""])


def test_an_object_does_not_match_text():
    assert not condition_holds({"plan": "trial"}, "trial")


def test_all_conditions_must_hold():
    assert all_conditions_hold({"properties.plan": ["trial"], "company.country": ["DE", "FR"]}, CONTEXT)
    assert not all_conditions_hold({"properties.plan": ["trial"], "company.country": ["US"]}, CONTEXT)
    assert not all_conditions_hold({"properties.plan": ["trial"], "properties.missing": ["x"]}, CONTEXT)


def test_no_conditions_always_hold():
    assert all_conditions_hold({}, CONTEXT)
    assert all_conditions_hold({}, {})


def test_conditions_on_list_and_numeric_properties():
    assert all_conditions_hold({"properties.tags": "api", "properties.seats": "5"}, CONTEXT)
    assert all_conditions_hold({"properties.is_admin": True, "company.employees": [240]}, CONTEXT)


# --- wording ----------------------------------------------------------------------------------------


def test_describe_condition():
    assert describe_condition("company.country", ["DE", "FR", "GB"]) == "company.country is one of DE, FR, GB"
    assert describe_condition("company.country", ["DE"]) == "company.country is DE"
    assert describe_condition("properties.plan", "trial") == "properties.plan is trial"
    assert describe_condition("company.employees", 240) == "company.employees is 240"
