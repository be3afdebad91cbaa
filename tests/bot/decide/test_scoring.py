"""ICP scoring: every criterion is met, missed or unknown, says why, and adds up to a 0-100 score."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config.signals_file import Criterion
from bot.decide.scoring import evaluate, score
from tests.support.factories import company, example_config


def criterion(weight: float = 10, field: str = "company.x", **test: Any) -> Criterion:
    return Criterion.model_validate({"name": "Test", "field": field, "weight": weight, **test})


def result_for(value: Any, **test: Any):
    return evaluate(criterion(**test), {"company": {"x": value}})


# --- the SPEC example ------------------------------------------------------------------------------


def test_spec_icp_on_acme_corp_scores_100_with_reasons():
    acme = company("acme.com")
    result = score(example_config().icp, {"company": acme, "person": {"email": "jane@acme.com"}})

    assert result.value == 100
    assert (result.points, result.total) == (100, 100)
    assert result.met == 5
    assert [(r.name, r.status, r.points, r.detail) for r in result.breakdown] == [
        ("Company size", "met", 30, "240, wanted 50–2,000"),
        ("Target industry", "met", 25, "fintech"),
        ("Funded", "met", 20, "series_b"),
        ("Modern data stack", "met", 15, "has segment, snowflake"),
        ("Work email", "met", 10, "jane@acme.com"),
    ]


def test_spec_icp_on_acme_corp_with_a_gmail_address():
    acme = company("acme.com")
    result = score(example_config().icp, {"company": acme, "person": {"email": "jane@gmail.com"}})
    assert result.value == 90
    email = result.breakdown[-1]
    assert (email.status, email.points, email.weight) == ("missed", 0, 10)
    assert email.detail.startswith("jane@gmail.com matches ")


def test_spec_icp_on_a_small_seed_consumer_company():
    result = score(example_config().icp, {"company": company("hooli.io"), "person": {}})
    assert [r.status for r in result.breakdown] == ["missed", "missed", "missed", "missed", "unknown"]
    assert result.value == 0


def test_spec_icp_with_nothing_known_is_all_unknown():
    result = score(example_config().icp, {"company": {}, "person": {}})
    assert result.value == 0
    assert [r.status for r in result.breakdown] == ["unknown"] * 5
    assert result.breakdown[0].detail == "no company.employees"


def test_no_icp_configured_scores_100():
    result = score([], {"company": {}})
    assert result.value == 100
    assert result.breakdown == ()


# --- weights and rounding --------------------------------------------------------------------------


def test_score_is_met_weight_over_total_weight():
    criteria = [
        criterion(30, "company.a", between=[0, 10]),
        criterion(25, "company.b", between=[0, 10]),
        criterion(45, "company.c", between=[0, 10]),
    ]
    assert score(criteria, {"company": {"a": 5, "b": 50}}).value == 30
    assert score(criteria, {"company": {"a": 5, "c": 5}}).value == 75


@pytest.mark.parametrize(
    ("met_weight", "other_weight", "expected"),
    [
        (1, 2, 33),  # 33.3
        (2, 1, 67),  # 66.7
        (1, 7, 13),  # 12.5 rounds half up
        (7, 1, 88),  # 87.5
        (1, 1, 50),
        (1, 199, 1),  # 0.5
        (0.5, 1.5, 25),
    ],
)
def test_rounding(met_weight, other_weight, expected):
    criteria = [
        criterion(met_weight, "company.a", between=[0, 1]),
        criterion(other_weight, "company.b", between=[0, 1]),
    ]
    assert score(criteria, {"company": {"a": 1, "b": 5}}).value == expected


def test_unknown_counts_as_not_met():
    criteria = [criterion(50, "company.a", between=[0, 1]), criterion(50, "company.b", between=[0, 1])]
    result = score(criteria, {"company": {"a": 1}})
    assert result.value == 50
    assert [r.status for r in result.breakdown] == ["met", "unknown"]


# --- each kind of criterion ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status", "detail"),
    [
        (240, "met", "240, wanted 50–2,000"),
        (50, "met", "50, wanted 50–2,000"),
        (2000, "met", "2,000, wanted 50–2,000"),
        ("1,200", "met", "1,200, wanted 50–2,000"),
        ("240", "met", "240, wanted 50–2,000"),
        (49.5, "missed", "49.50, wanted 50–2,000"),
        (12, "missed", "12, wanted 50–2,000"),
        (3400, "missed", "3,400, wanted 50–2,000"),
        ("51-200", "unknown", "51-200 is not a number"),
        (True, "unknown", "True is not a number"),
        (None, "unknown", "no company.x"),
        ("", "unknown", "no company.x"),
    ],
)
def test_between(value, status, detail):
    result = result_for(value, between=[50, 2000])
    assert (result.status, result.detail) == (status, detail)
    assert result.points == (10 if status == "met" else 0)


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("fintech", "met"),
        ("FinTech", "met"),
        (" saas ", "met"),
        ("saas, crypto", "met"),  # comma-separated text is a list
        (["crypto", "ecommerce"], "met"),
        ("consumer", "missed"),
        (["consumer"], "missed"),
        ([], "unknown"),
    ],
)
def test_in(value, status):
    assert result_for(value, **{"in": ["fintech", "saas", "ecommerce"]}).status == status


def test_in_with_numbers_sent_as_text():
    assert result_for("2", **{"in": [1, 2, 3]}).status == "met"
    assert result_for(2, **{"in": ["2"]}).status == "met"


@pytest.mark.parametrize(
    ("value", "status", "detail"),
    [
        (["segment", "snowflake", "react"], "met", "has segment, snowflake"),
        (["DBT"], "met", "has DBT"),
        ("dbt, looker", "met", "has dbt"),
        (["shopify"], "missed", "none of segment, snowflake, dbt"),
        ("firebase", "missed", "none of segment, snowflake, dbt"),
        ([], "unknown", "no company.x"),
    ],
)
def test_contains_any(value, status, detail):
    result = result_for(value, contains_any=["segment", "snowflake", "dbt"])
    assert (result.status, result.detail) == (status, detail)


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("jane@acme.com", "met"),
        ("jane@gmail.com", "missed"),
        ("JANE@GMAIL.COM", "missed"),
        ("jane@hotmail.co.uk", "missed"),
        ("jane@gmailer.com", "met"),
        (None, "unknown"),
    ],
)
def test_not_matches(value, status):
    result = evaluate(
        criterion(field="person.email", not_matches=r"@(gmail|yahoo|hotmail|outlook)\."),
        {"person": {"email": value}},
    )
    assert result.status == status


def test_long_values_are_shortened_in_the_detail():
    result = result_for("x" * 500, **{"in": ["y"]})
    assert len(result.detail) == 60
    assert result.detail.endswith("…")


def test_missing_field_is_unknown_for_every_kind():
    for test in ({"between": [1, 2]}, {"in": ["a"]}, {"contains_any": ["a"]}, {"not_matches": "a"}):
        assert evaluate(criterion(**test), {}).status == "unknown"
