"""`Retry-After` as the APIs send it: seconds or an HTTP date, never a negative or endless wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.clients.retry_after import retry_after_seconds


@pytest.mark.parametrize(("value", "seconds"), [("7", 7.0), ("0.5", 0.5), ("0", 0.0), ("-3", 0.0)])
def test_delay_seconds(value, seconds):
    assert retry_after_seconds(value) == seconds


def test_an_http_date_is_the_time_until_then_and_a_past_one_is_now():
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 85 <= retry_after_seconds(soon) <= 90
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "inf", "nan", "Someday, 99 Foo 20xx"])
def test_absent_or_unreadable_is_none(value):
    assert retry_after_seconds(value) is None
