"""The date ranges `/posthog funnel` understands: the word people type, the relative `date_from` PostHog
runs the query with, and the words the answer shows. One row each, so the parser, the query and the
answer cannot disagree.

`date_from` is written as PostHog's own date picker writes it: `-24h`, `-7d`, …, `mStart` (the month so
far), `yStart` (the year so far).
"""

from __future__ import annotations

from bot.vocabulary import WordedEnum


class DateRange(WordedEnum):
    """A range, equal to the word people type (`DateRange("30d")`), carrying PostHog's form and a label."""

    date_from: str
    label: str

    LAST_24_HOURS = "24h", "-24h", "last 24 hours"
    LAST_7_DAYS = "7d", "-7d", "last 7 days"
    LAST_14_DAYS = "14d", "-14d", "last 14 days"
    LAST_30_DAYS = "30d", "-30d", "last 30 days"
    LAST_90_DAYS = "90d", "-90d", "last 90 days"
    MONTH_TO_DATE = "mtd", "mStart", "month to date"
    YEAR_TO_DATE = "ytd", "yStart", "year to date"

    @classmethod
    def named(cls, word: str) -> DateRange | None:
        """The range a typed word names, in any case; None when it names none."""
        try:
            return cls(word.lower())
        except ValueError:
            return None


DEFAULT_RANGE = DateRange.LAST_7_DAYS
