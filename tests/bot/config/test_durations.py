"""Durations as written in the signals file (`cooldown`, `cache_ttl`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("30d", timedelta(days=30)),
        ("90s", timedelta(seconds=90)),
        ("2w", timedelta(weeks=2)),
        ("1.5h", timedelta(minutes=90)),
        (" 24h ", timedelta(hours=24)),
        ("24 h", timedelta(hours=24)),
        ("0m", timedelta(0)),
    ],
)
def test_written_durations(text, expected):
    assert parse_duration(text) == expected


def test_numbers_are_seconds_and_timedeltas_pass_through():
    assert parse_duration(3600) == timedelta(hours=1)
    assert parse_duration(1.5) == timedelta(seconds=1.5)
    assert parse_duration(timedelta(days=2)) == timedelta(days=2)


@pytest.mark.parametrize("text", ["3 days", "24", "h", "", "1y", "24hours", "1h30m", "tomorrow", "-1h"])
def test_unreadable_durations_say_how_to_write_one(text):
    with pytest.raises(ValueError, match="write it like 30m, 24h or 7d"):
        parse_duration(text)


def test_negative_seconds_are_refused():
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_duration(-5)


def test_booleans_are_not_durations():
    # YAML turns `cooldown: yes` into True; it must not become one second.
    with pytest.raises(ValueError, match="duration"):
        parse_duration(True)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=1), "1d"),
        (timedelta(hours=24 * 7), "1w"),
        (timedelta(days=30), "30d"),
        (timedelta(hours=36), "36h"),
        (timedelta(minutes=90), "90m"),
        (timedelta(seconds=45), "45s"),
        (timedelta(0), "0s"),
    ],
)
def test_format_uses_the_shortest_exact_unit(delta, text):
    assert format_duration(delta) == text
    assert parse_duration(text) == delta
