"""A channel's pace: about a message a second, a short burst after a quiet spell, a rest after 429."""

from __future__ import annotations

import pytest

from bot.alerts.pacing import Pace


def _send_at_once(pace: Pace, now: float, count: int) -> list[float]:
    """The waits `count` messages queued at `now` see, each sent as soon as it may."""
    waits = []
    for _ in range(count):
        wait = pace.wait(now)
        waits.append(wait)
        now += wait
        pace.sent(now)
    return waits


def test_a_short_burst_goes_at_once_then_a_message_a_second():
    assert _send_at_once(Pace(1.0, burst=3), 100.0, 5) == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_the_pace_holds_across_a_quiet_spell_and_refills_with_time():
    pace = Pace(1.0, burst=3)
    _send_at_once(pace, 100.0, 3)
    assert pace.wait(100.5) == pytest.approx(0.5)
    assert pace.wait(101.0) == 0.0
    pace.sent(101.0)
    assert pace.wait(101.0) == pytest.approx(1.0)
    assert _send_at_once(pace, 110.0, 4) == [0.0, 0.0, 0.0, 1.0]  # ten quiet seconds refill only the burst


def test_over_any_minute_a_channel_gets_at_most_its_rate_plus_the_burst():
    pace, now, sent = Pace(1.0, burst=3), 0.0, 0
    while now < 60.0:
        now += pace.wait(now)
        if now < 60.0:
            pace.sent(now)
            sent += 1
    assert sent == 60 + 3 - 1


def test_after_a_429_the_channel_rests_as_long_as_slack_said_with_no_burst():
    pace = Pace(1.0, burst=3)
    pace.sent(100.0, rest_s=30.0)
    assert pace.wait(100.0) == pytest.approx(30.0)
    assert pace.wait(129.0) == pytest.approx(1.0)
    assert _send_at_once(pace, 130.0, 3) == [0.0, 1.0, 1.0]


def test_no_interval_means_no_pacing_but_a_429_still_rests():
    pace = Pace(0.0)
    assert _send_at_once(pace, 5.0, 10) == [0.0] * 10
    pace.sent(5.0, rest_s=2.0)
    assert pace.wait(6.0) == pytest.approx(1.0)
