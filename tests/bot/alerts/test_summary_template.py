"""The template summary, in the words an SDR would use."""

from __future__ import annotations

import json

import pytest

from bot.alerts.model import AlertDetails, PastSignal
from bot.alerts.summary_template import (
    employees_label,
    firmographics,
    funding_label,
    query_found,
    recent_activity,
    relative_time,
    template_summary,
)
from bot.slack.blocks.alert import alert_message
from tests.support.factories import DAY, NOW, acme_facts, person_facts, query_facts


def test_the_spec_summary():
    assert template_summary(acme_facts()) == (
        "Trial user from Acme Corp finished onboarding. Series B fintech, 240 people. "
        "Also activated the API integration 2 days ago."
    )


def test_without_history_there_is_no_also():
    assert template_summary(acme_facts(history=())) == (
        "Trial user from Acme Corp finished onboarding. Series B fintech, 240 people."
    )


def test_two_recent_actions_at_most_and_no_repeats():
    history = (
        PastSignal("invited teammates", NOW - 3600),
        PastSignal("invited teammates", NOW - 7200),
        PastSignal("activated the API integration", NOW - DAY),
        PastSignal("created a dashboard", NOW - 3 * DAY),
    )
    assert template_summary(acme_facts(history=history)).endswith(
        "Also invited teammates an hour ago and activated the API integration yesterday."
    )


def test_plan_wording():
    assert template_summary(acme_facts(properties={"plan": "team"}, history=())).startswith(
        "Team plan user from Acme Corp"
    )
    assert template_summary(acme_facts(properties={"plan": "Free Trial"}, history=())).startswith(
        "Trial user from Acme Corp"
    )


def test_without_a_plan_the_person_is_named():
    facts = acme_facts(properties={}, history=())
    assert template_summary(facts).startswith("Jane Doe from Acme Corp finished onboarding.")
    facts = acme_facts(properties={}, person_name=None, history=())
    assert template_summary(facts).startswith("jane@acme.com from Acme Corp finished onboarding.")


def test_missing_firmographics_for_a_known_domain():
    facts = acme_facts(
        company={"domain": "acme.com"}, properties={}, person_name=None, person_email=None, history=()
    )
    assert (
        template_summary(facts)
        == "Someone at acme.com finished onboarding. No firmographics for acme.com yet."
    )


def test_partial_firmographics():
    facts = acme_facts(company={"name": "Globex GmbH", "employees": 85}, history=())
    assert template_summary(facts) == "Trial user from Globex GmbH finished onboarding. 85 people."
    facts = acme_facts(company={"name": "Globex GmbH", "industry": "ecommerce"}, history=())
    assert template_summary(facts) == "Trial user from Globex GmbH finished onboarding. Ecommerce."


def test_person_level_account():
    assert template_summary(person_facts()) == "Someone invited teammates."
    assert template_summary(person_facts(person_name="Sam")) == "Sam invited teammates."
    assert template_summary(person_facts(person_email="sam@gmail.com")) == "sam@gmail.com invited teammates."


def test_an_action_ending_in_a_full_stop_is_not_doubled():
    assert template_summary(person_facts(action="invited teammates.")) == "Someone invited teammates."


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "just now"),
        (89, "just now"),
        (90, "a minute ago"),
        (119, "a minute ago"),
        (120, "2 minutes ago"),
        (59 * 60, "59 minutes ago"),
        (3600, "an hour ago"),
        (2 * 3600, "2 hours ago"),
        (23 * 3600 + 3599, "23 hours ago"),
        (DAY, "yesterday"),
        (2 * DAY - 1, "yesterday"),
        (2 * DAY, "2 days ago"),
        (13 * DAY, "13 days ago"),
        (14 * DAY, "2 weeks ago"),
        (60 * DAY, "8 weeks ago"),
        (-300, "just now"),  # clock skew: never "in the future"
    ],
)
def test_relative_time(seconds, text):
    assert relative_time(NOW - seconds, NOW) == text


@pytest.mark.parametrize(
    ("stage", "label"),
    [
        ("series_b", "Series B"),
        ("Series-B", "Series B"),
        ("series a", "Series A"),
        ("seed", "Seed-stage"),
        ("pre_seed", "Pre-seed"),
        ("public", "Public"),
        ("angel_round", "Angel round"),
        ("", None),
        (None, None),
        (3, None),
    ],
)
def test_funding_label(stage, label):
    assert funding_label(stage) == label


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (240, "240 people"),
        (1, "1 person"),
        (12000, "12,000 people"),
        (85.0, "85 people"),
        ("51-200", "51-200 people"),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_employees_label(value, label):
    assert employees_label(value) == label


def test_firmographics():
    assert firmographics({"funding_stage": "series_b", "industry": "fintech", "employees": 240}) == (
        "Series B fintech, 240 people"
    )
    assert firmographics({"industry": ["fintech"]}) is None  # not text: left out
    assert firmographics({}) is None


def test_recent_activity_without_history():
    assert recent_activity((), NOW) is None


# -- a query signal's row ---------------------------------------------------------------------------


def test_a_query_row_says_what_the_query_found():
    facts = query_facts({"account": "acme.com", "calls_this_week": 3, "plan": "team"})
    assert template_summary(facts) == (
        "Acme Corp triggered “Heavy users”: calls_this_week 3, plan team. Series B fintech, 240 people."
    )
    facts = query_facts({"account": "acme.com", "calls_this_week": 1}, action="stopped calling the API.")
    assert template_summary(facts).startswith("Acme Corp stopped calling the API: calls_this_week 1.")


def test_a_query_row_for_a_person_names_the_person():
    row = {"distinct_id": "user_42", "seats": 12}
    facts = query_facts(row, distinct_id="user_42", person_name="Jane Doe")
    assert template_summary(facts).startswith("Jane Doe from Acme Corp triggered “Heavy users”: seats 12.")


def test_a_query_row_with_only_its_account_reads_as_before():
    assert template_summary(query_facts({"account": "acme.com"})) == (
        "Acme Corp triggered “Heavy users”. Series B fintech, 240 people."
    )


def test_what_a_query_found_stays_short():
    row = {f"column_{i}": i * 1000 for i in range(20)}
    found = query_found(row)
    assert found is not None and len(found) <= 140 and found.endswith(" more")
    assert found.startswith("column_0 0, column_1 1000, column_2 2000")
    assert query_found({"nested": {"a": [1, None]}, "empty": None, "flag": False}) == (
        'nested {"a":[1,null]}, empty -, flag false'
    )
    assert query_found({"account": "acme.com", "distinct_id": "u"}) is None and query_found(None) is None


def test_hostile_query_columns_are_cut_short_and_escaped_in_the_alert():
    row = {
        "account": "acme.com",
        "<!channel> look\nhere" + "n" * 500: "<@U0CEO> " + "x" * 10_000,
        "nested": {"a": {"b": "<!here>" * 100}},
    }
    facts = query_facts(row)
    summary = template_summary(facts)
    assert len(summary) < 250 and "\n" not in summary and "xxxxxxxxxx…" in summary
    message = alert_message(AlertDetails.of(facts, summary))
    section = message["blocks"][1]["text"]["text"]
    assert section.startswith("Acme Corp triggered “Heavy users”: &lt;!channel&gt; look here")
    assert "&lt;@U0CEO&gt; xxx" in section and "… and 1 more. Series B fintech" in section  # no room
    nested = alert_message(AlertDetails.of(facts, template_summary(query_facts({"nested": row["nested"]}))))
    assert 'nested {"a":{"b":"&lt;!here&gt;' in nested["blocks"][1]["text"]["text"]
    for text in (json.dumps(message["blocks"]), message["text"], json.dumps(nested)):
        assert "<!channel>" not in text and "<!here>" not in text and "<@U0CEO>" not in text
