"""`/posthog lint`'s Block Kit: the report as sections, names that cannot become markup, and Slack's
limits however large the tracking plan."""

from __future__ import annotations

import json

from bot.lint.report import (
    BadName,
    DuplicateGroup,
    GroupMember,
    LintReport,
    QuietEvent,
    UnknownEvent,
    UnusedEvent,
)
from bot.slack.blocks.lint import lint_message
from testkit.slack import block_problems

NOW = 1_772_452_800.0  # 2026-03-02 12:00 UTC
QUIET = 1_768_564_800.0  # 2026-01-16 12:00 UTC

REPORT = LintReport(
    NOW,
    events=14,
    event_signals=3,
    unknown=(UnknownEvent("Trial finished onboarding", "onboarding_complete", ("onboarding_completed",)),),
    bad_names=(BadName("button-click", "button_click", 80), BadName("btnClick", "btn_click", None)),
    duplicates=(
        DuplicateGroup((GroupMember("click", 1200), GroupMember("Click", 30, ("Clicked",))), keep="click"),
    ),
    quiet=(QuietEvent("legacy_export", QUIET, ("Exported a report",)),),
    unused=(UnusedEvent("report_exported", 3400),),
)


def test_the_report_as_blocks():
    text, blocks = lint_message(REPORT)
    assert text.startswith("Tracking plan: 1 signal listens to an event PostHog never received: ")
    assert blocks == [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "Tracking plan: 14 events in PostHog", "emoji": True},
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Checked against 3 event signals; volumes are events in the last 30 days",
                    "verbatim": True,
                }
            ],
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":rotating_light: *1 signal listens to an event PostHog never received*, so it can "
                "never fire\n• *Trial finished onboarding* listens to `onboarding_complete`: did you mean "
                "`onboarding_completed`?",
                "verbatim": True,
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":pencil2: *2 names break snake_case*\n• `button-click` → `button_click` (80)\n"
                "• `btnClick` → `btn_click` (volume unknown)",
                "verbatim": True,
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":busts_in_silhouette: *1 near-duplicate group*: one event under several names, with "
                "each name's volume\n• `click` 1,200 · `Click` 30 (signal *Clicked*) → keep `click`",
                "verbatim": True,
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":zzz: *1 event gone quiet*: not seen for 30 days (broken by a redesign?)\n"
                "• `legacy_export` last seen <!date^1768564800^{date_short_pretty}|Fri 16 Jan>: "
                "*Exported a report* listens to it",
                "verbatim": True,
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":question: *1 event no signal listens to*: when these fire, what do we do?\n"
                "• `report_exported` 3,400",
                "verbatim": True,
            },
        },
    ]


def test_a_clean_plan_and_the_notes():
    report = LintReport(
        NOW,
        events=1,
        event_signals=1,
        volume_note="the personal API key lacks `query:read`, so volumes are unknown",
    )
    text, blocks = lint_message(report)
    shown = json.dumps(blocks)
    assert "PostHog has received every event the signals listen to" in shown
    assert "No naming problems" in shown and "lacks `query:read`" in shown
    assert text.startswith("Tracking plan: Every signal's event is one PostHog receives (1 signal)")


def test_names_cannot_ping_link_or_break_the_code_span():
    hostile = "<!channel> & <https://evil.example|PostHog>`"
    report = LintReport(
        NOW,
        events=1,
        event_signals=1,
        unknown=(UnknownEvent("<@U0ADMIN>", hostile, (hostile,)),),
        bad_names=(BadName(hostile, "channel_https_evil_example_post_hog"),),
        duplicates=(
            DuplicateGroup((GroupMember(hostile, 1, ("<!here>",)), GroupMember("x", 1)), keep=hostile),
        ),
        quiet=(QuietEvent(hostile, QUIET, ("<!here>",)),),
        unused=(UnusedEvent(hostile, 5),),
    )
    text, blocks = lint_message(report)
    shown = json.dumps(blocks) + text
    for raw in ("<!channel>", "<!here>", "<@U0ADMIN>", "<https://evil"):
        assert raw not in shown
    assert "`&lt;!channel&gt; &amp; &lt;https://evil.example|PostHog&gt;'`" in shown
    assert block_problems(blocks) == []


def test_a_huge_plan_stays_within_slacks_limits_and_says_how_many_more():
    long = "very_long_event_name_" * 12
    report = LintReport(
        NOW,
        events=10_000,
        event_signals=40,
        unknown=tuple(
            UnknownEvent(f"Signal {n} " + "x" * 80, long + str(n), (long, long + "b")) for n in range(40)
        ),
        bad_names=tuple(BadName(f"Bad Name {n} {long}", f"bad_name_{n}", n) for n in range(500)),
        duplicates=tuple(
            DuplicateGroup(tuple(GroupMember(f"{long}{n}{m}", m) for m in range(9)), keep=f"{long}{n}")
            for n in range(200)
        ),
        quiet=tuple(QuietEvent(f"{long}{n}", QUIET - n) for n in range(300)),
        unused=tuple(UnusedEvent(f"{long}{n}", 1000 - n) for n in range(700)),
        capped=True,
        skipped=3,
    )
    text, blocks = lint_message(report)
    assert block_problems(blocks) == [] and len(blocks) <= 10
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(s) <= 3000 for s in sections)
    assert sections[-1].endswith("_and 690 more_")  # ten busiest unused events, then the count
    assert "_and 485 more_" in sections[1]  # fifteen names at most
    assert "PostHog has more" in json.dumps(blocks[1])
    assert len(text) <= 1000
