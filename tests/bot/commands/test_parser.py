"""`/posthog` text to commands, including the edge cases people type."""

from __future__ import annotations

import pytest

from bot.commands.parser import (
    Alias,
    CommandError,
    Funnel,
    Help,
    Identify,
    Lint,
    ListSnoozes,
    SavedFunnel,
    SendTestEvent,
    Stats,
    Why,
    parse,
)


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "?"])
def test_help(text):
    assert isinstance(parse(text), Help)


def test_funnel_with_range_and_breakdown():
    command = parse("funnel signup_started > onboarding_completed > invite_sent 30d by plan")
    assert command == Funnel(
        steps=("signup_started", "onboarding_completed", "invite_sent"), date_range="30d", breakdown="plan"
    )
    assert command.date_from == "-30d"


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("funnel a>b>c", ("a", "b", "c")),
        ("funnel a &gt; b", ("a", "b")),  # Slack escapes > in command text
        ('funnel "sign up" > "onboarding done"', ("sign up", "onboarding done")),
        ("funnel “sign up” > ‘done’", ("sign up", "done")),  # curly quotes from Slack clients
        ("funnel $pageview > 注册完成 > 🚀launch", ("$pageview", "注册完成", "🚀launch")),
        ('funnel "30d" > by', ("30d", "by")),
    ],
)
def test_funnel_steps(text, steps):
    assert parse(text).steps == steps


@pytest.mark.parametrize(
    ("word", "value"), [("24h", "-24h"), ("mtd", "mStart"), ("YTD", "yStart"), ("90d", "-90d")]
)
def test_date_ranges(word, value):
    assert parse(f"funnel a > b {word}").date_from == value


def test_default_range_is_seven_days():
    assert parse("funnel a > b").date_range == "7d"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("funnel", "needs steps"),
        ("funnel a", "at least two steps"),
        ("funnel a >", "step 2 is empty"),
        ("funnel > b", "step 1 is empty"),
        ("funnel a > > b", "step 2 is empty"),
        ("funnel sign up > done", "quote it"),
        ('funnel "sign up > done', "quote is not closed"),
        ("funnel a > b 45d", "neither a date range"),
        ("funnel a > b by", "needs a property"),
        ("funnel a > b --loud", "unknown flag --loud"),
        ("frobnicate", "unknown command"),
        ("identify u1", "at least one key=value"),
        ("identify u1 plan", "not key=value"),
        ("alias u1", "exactly two ids"),
        ("alias u1 u1", "its own alias"),
        ("test", "needs an event name"),
        ("test a=b", "needs an event name"),
        ("test e u1 > x", "only separates funnel steps"),
    ],
)
def test_bad_input_says_what_to_change(text, message):
    with pytest.raises(CommandError, match=message):
        parse(text)


def test_saved_funnel_by_short_id_or_url():
    assert parse("funnel AbCd1234") == SavedFunnel(short_id="AbCd1234")
    assert parse("funnel https://us.posthog.com/project/12345/insights/AbCd1234/edit").short_id == "AbCd1234"
    assert parse("funnel <https://eu.posthog.com/insights/Zz9Yy8Xx>").short_id == "Zz9Yy8Xx"


def test_share_flag_anywhere():
    assert parse("--share funnel a > b").share
    assert parse("funnel a > b --share 30d").date_range == "30d"
    assert parse("snoozes --share") == ListSnoozes(share=True)


def test_test_event_with_typed_values():
    command = parse(
        'test signup_completed u_42 seats=12 ratio=0.5 trial=true plan=team note="hi there" x=null'
    )
    assert command == SendTestEvent(
        event="signup_completed",
        distinct_id="u_42",
        properties={"seats": 12, "ratio": 0.5, "trial": True, "plan": "team", "note": "hi there", "x": None},
    )


def test_test_event_without_distinct_id():
    command = parse("test signup_completed plan=team")
    assert command.distinct_id is None and command.properties == {"plan": "team"}


def test_quotes_inside_a_value_group_words_as_in_a_shell():
    assert parse('test e v={"a":1} w="x y"').properties == {"v": "{a:1}", "w": "x y"}


def test_identify_and_alias():
    assert parse("identify u_42 plan=team seats=3") == Identify(
        distinct_id="u_42", properties={"plan": "team", "seats": 3}
    )
    assert parse("alias anon-123 u_42") == Alias(distinct_id="anon-123", alias="u_42")


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("why acme.com", "acme.com"),
        ("why <mailto:jane@acme.com|jane@acme.com>", "jane@acme.com"),  # as Slack links a typed email
        ("why <https://acme.com|acme.com>", "https://acme.com"),
        ("WHY u_42 --share", "u_42"),
    ],
)
def test_why_takes_one_domain_email_or_distinct_id(text, target):
    command = parse(text)
    assert isinstance(command, Why) and command.target == target


@pytest.mark.parametrize("text", ["why", "why acme.com globex.com", "why a=b"])
def test_why_needs_exactly_one_target(text):
    with pytest.raises(CommandError):
        parse(text)


def test_stats_takes_7d_or_30d():
    assert parse("stats") == Stats(days=7) and parse("stats 30d --share") == Stats(share=True, days=30)
    with pytest.raises(CommandError):
        parse("stats 90d")


def test_lint_takes_no_arguments_but_may_be_shared():
    assert parse("lint") == Lint() and parse("LINT --share") == Lint(share=True)
    with pytest.raises(CommandError, match="lint takes no arguments"):
        parse("lint everything")
