"""What a threshold counts and how it is said, as pure functions: each measure at its edge, the
ledger's progress reason and the alert's phrase."""

from __future__ import annotations

import pytest

from bot.config.signals_file import Threshold
from bot.decide.thresholds import (
    Contribution,
    Tally,
    best_window,
    contribution,
    measure,
    progress,
    reached,
    reached_phrase,
)

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


def test_a_sum_too_large_to_write_as_a_whole_number_is_still_said():
    assert progress(SEATS, Tally(2, 1, 1e308 * 10), "x") == "inf of 20 properties.seats from x in 30d"


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
    [
        ({"seats": 7}, 7.0),
        ({"seats": 2.5}, 2.5),
        ({}, 0.0),
        ({"seats": "7"}, 0.0),
        ({"seats": True}, 0.0),
        ({"seats": float("inf")}, 0.0),
    ],
)
def test_a_sum_adds_the_number_at_its_path_and_nothing_else(properties, value):
    context = {"properties": properties}
    assert contribution(SEATS, "u1", 10.0, "d1", context).value == value
    assert contribution(COUNT, "u1", 10.0, "d1", context).value == 1.0
    assert measure(SEATS, Tally(1, 1, value)) == value


DAY = 86400.0


def c(uuid: str, day: float, person: str | None = "u1", value: float = 1.0) -> Contribution:
    return Contribution(uuid, day * DAY, person, value)


def test_in_event_time_order_the_window_is_the_one_ending_at_the_event():
    counted = [c("a", 0), c("b", 3), c("now", 6)]
    assert best_window(COUNT, counted, counted[-1]).count == 3
    assert best_window(COUNT, counted[:1] + counted[2:], counted[2]).count == 2


def test_events_counted_out_of_order_still_reach_the_threshold_on_the_one_that_completes_it():
    """Three events 1 hour apart, counted newest first (a batch decided concurrently, or a late
    delivery): the last one counted completes the window of all three, so it reaches a `count: 3`."""
    three = Threshold(count=3, within="7d")
    first, second, third = c("1", 0), c("2", 1 / 24), c("3", 2 / 24)
    assert best_window(three, [third], third).count == 1
    assert best_window(three, [second, third], second).count == 2
    tally = best_window(three, [first, second, third], first)
    assert reached(three, tally) and tally.count == 3
    assert [at for _, at in tally.latest] == [third.event_time, second.event_time, first.event_time]


def test_a_window_holds_both_ends_and_nothing_further():
    edge, event, later = c("edge", 0), c("event", 7), c("later", 7 + 1 / DAY)
    assert best_window(COUNT, [edge, event], event).count == 2  # exactly `within` apart: inside
    assert best_window(COUNT, [c("gone", -1 / DAY), event], event).count == 1  # one second more: out
    assert best_window(COUNT, [edge, event, later], event).count == 2  # later windows hold less


def test_people_and_sums_pick_the_window_where_they_are_highest():
    counted = [c("a", 0, "ann", 5), c("b", 1, "ann", 5), c("e", 6, "bob", 1), c("f", 12, "cy", 1)]
    people = best_window(PEOPLE, counted, counted[2])
    assert (people.people, people.count) == (2, 3)  # ann and bob in the week ending on day 6
    seats = best_window(SEATS, counted, counted[2])
    assert (seats.total, seats.count) == (12, 4)  # a 30-day window holds all four
    assert best_window(PEOPLE, [c("x", 0, None)], c("x", 0, None)).people == 0  # nobody named
