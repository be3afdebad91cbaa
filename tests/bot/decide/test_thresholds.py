"""What a threshold counts and how it is said, as pure functions: each measure at its edge, the
ledger's progress reason and the alert's phrase."""

from __future__ import annotations

import pytest

from bot.config.signals_file import Threshold
from bot.decide.thresholds import Tally, contribution, measure, progress, reached, reached_phrase

COUNT = Threshold(count=5, within="7d")
PEOPLE = Threshold(people=3, within="7d")
SEATS = Threshold(sum="properties.seats", at_least=20, within="30d")


@pytest.mark.parametrize(
    ("threshold", "tally", "is_reached"),
    [
        (COUNT, Tally(count=4, people=1, total=4), False),
        (COUNT, Tally(count=5, people=1, total=5), True),
        (PEOPLE, Tally(count=9, people=2, total=9), False),
        (PEOPLE, Tally(count=3, people=3, total=3), True),
        (SEATS, Tally(count=2, people=1, total=19.5), False),
        (SEATS, Tally(count=2, people=1, total=20), True),
    ],
)
def test_a_threshold_is_reached_exactly_at_its_target(threshold, tally, is_reached):
    assert reached(threshold, tally) is is_reached


def test_the_ledger_says_how_far_the_account_got():
    assert progress(COUNT, Tally(3, 2, 3), "invite_sent") == "3 of 5 invite_sent in 7d"
    assert progress(PEOPLE, Tally(4, 2, 4), "invite_sent") == "2 of 3 people doing invite_sent in 7d"
    assert (
        progress(SEATS, Tally(2, 1, 12.5), "seats_added")
        == "12.50 of 20 properties.seats from seats_added in 30d"
    )


def test_the_alert_says_what_was_reached():
    assert reached_phrase(COUNT, Tally(5, 3, 5), "invite_sent") == "5 invite_sent in 7 days by 3 people"
    assert reached_phrase(PEOPLE, Tally(3, 3, 3), "login") == "3 login in 7 days by 3 people"
    assert reached_phrase(COUNT, Tally(5, 1, 5), "x") == "5 x in 7 days by 1 person"
    one_hour = Threshold(count=2, within="1h")
    assert reached_phrase(one_hour, Tally(2, 2, 2), "x") == "2 x in 1 hour by 2 people"
    assert reached_phrase(SEATS, Tally(3, 2, 21), "seats_added") == (
        "21 properties.seats from 3 seats_added in 30 days by 2 people"
    )


@pytest.mark.parametrize(
    ("properties", "value"),
    [({"seats": 7}, 7.0), ({"seats": 2.5}, 2.5), ({}, 0.0), ({"seats": "7"}, 0.0), ({"seats": True}, 0.0)],
)
def test_a_sum_adds_the_number_at_its_path_and_nothing_else(properties, value):
    context = {"properties": properties}
    assert contribution(SEATS, "u1", 10.0, "d1", context).value == value
    assert contribution(COUNT, "u1", 10.0, "d1", context).value == 1.0
    assert measure(SEATS, Tally(1, 1, value)) == value
