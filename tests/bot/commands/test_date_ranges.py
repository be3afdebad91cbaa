"""The funnel date ranges: one table for the words people type, PostHog's `date_from` and the answer's
label, so the parser, the query and the answer say the same thing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from bot.clients.posthog_api import PostHogApi
from bot.commands.date_ranges import DEFAULT_RANGE, DateRange
from bot.commands.parser import CommandError, Funnel, parse
from bot.commands.run import USAGE, PostHogCommands
from testkit.posthog_api import PERSONAL_KEY, PROJECT_ID, FakePostHogApi


def test_date_range_spellings():
    assert {r.value: r.date_from for r in DateRange} == {
        "24h": "-24h",
        "7d": "-7d",
        "14d": "-14d",
        "30d": "-30d",
        "90d": "-90d",
        "mtd": "mStart",
        "ytd": "yStart",
    }


def test_date_range_labels():
    assert {r.value: r.label for r in DateRange} == {
        "24h": "last 24 hours",
        "7d": "last 7 days",
        "14d": "last 14 days",
        "30d": "last 30 days",
        "90d": "last 90 days",
        "mtd": "month to date",
        "ytd": "year to date",
    }


def test_a_range_is_the_word_people_type():
    assert DEFAULT_RANGE == "7d" and DateRange("30d") is DateRange.LAST_30_DAYS
    assert DateRange.named("YTD") is DateRange.YEAR_TO_DATE and DateRange.named("45d") is None


@pytest.mark.parametrize("date_range", list(DateRange))
def test_the_parser_accepts_every_range_in_the_table(date_range):
    command = parse(f"funnel a > b {date_range.value.upper()}")
    assert isinstance(command, Funnel) and command.date_range is date_range
    assert command.date_from == date_range.date_from and command.range_label == date_range.label


def test_the_parser_and_the_help_list_the_table_in_order():
    with pytest.raises(CommandError) as caught:
        parse("funnel a > b 45d")
    assert (
        str(caught.value)
        == "`45d` is neither a date range (24h, 7d, 14d, 30d, 90d, mtd, ytd) nor `by <property>`"
    )
    assert "(ranges 24h, 7d, 14d, 30d, 90d, mtd, ytd; default 7d;" in USAGE


@pytest.mark.parametrize("date_range", list(DateRange))
def test_the_funnel_answer_queries_and_labels_the_same_range(example_config, date_range):
    with FakePostHogApi() as fake:

        async def go() -> Any:
            async with httpx.AsyncClient() as client:
                api = PostHogApi(fake.url, PROJECT_ID, PERSONAL_KEY, client, timeout_s=5.0)
                commands = PostHogCommands(example_config, api, None, None)
                return await commands.answer(f"funnel $pageview > signup_started {date_range}", "U1", "C1")

        reply = asyncio.run(go())
        sent = fake.queries()[0]["query"]
    assert sent["dateRange"] == {"date_from": date_range.date_from, "date_to": None}
    context = reply.blocks[-1]
    assert context["type"] == "context" and date_range.label in context["elements"][0]["text"].split(" · ")
