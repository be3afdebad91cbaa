"""Funnel figures and their Slack rendering."""

from __future__ import annotations

import json

from bot.slack.blocks.funnel import (
    StepRow,
    bar,
    biggest_drop,
    breakdown_blocks,
    duration,
    figures,
    funnel_blocks,
)

ROWS = [
    StepRow("signup_started", 1843, None),
    StepRow("onboarding_completed", 412, 96.0),
    StepRow("invite_sent", 251, 640.0),
]


def test_conversion_from_previous_and_first_step():
    steps = figures(ROWS)
    assert steps[0].from_previous is None and steps[0].from_first == 1.0
    assert round(steps[1].from_previous, 3) == round(412 / 1843, 3)
    assert round(steps[2].from_previous, 3) == round(251 / 412, 3)
    assert round(steps[2].from_first, 3) == round(251 / 1843, 3)


def test_biggest_drop_is_the_lowest_step_to_step_conversion():
    assert biggest_drop(figures(ROWS)) == 1
    assert biggest_drop(figures([StepRow("a", 10, None), StepRow("b", 10, 1.0)])) is None


def test_zero_counts_do_not_divide_by_zero():
    steps = figures([StepRow("a", 0, None), StepRow("b", 0, None)])
    assert steps[1].from_previous == 0.0 and steps[1].from_first == 0.0


def test_durations_and_bars():
    assert duration(None) == "–" and duration(42) == "42s" and duration(200) == "3m 20s"
    assert duration(7200) == "2.0h" and duration(3 * 86400) == "3.0d"
    assert bar(0.5) == "█" * 10 + "░" * 10 and bar(2) == "█" * 20


def test_blocks_show_counts_rates_medians_drop_and_link_escaped():
    rows = [StepRow("<!channel> sign", 100, None), StepRow("a&b", 40, 95.0)]
    blocks = funnel_blocks("Funnel", rows, "last 30 days", "https://us.posthog.com/project/1/insights/new")
    text = json.dumps(blocks)
    assert "&lt;!channel&gt; sign" in text and "<!channel>" not in text and "a&amp;b" in text
    assert "40% of step 1" in text and "median 1m 35s" in text and "biggest drop" in text
    assert "Open in PostHog" in text and "40% converted overall" in text


def test_breakdown_lists_largest_groups_first():
    series = [
        ("free", [StepRow("a", 10, None), StepRow("b", 1, 5.0)]),
        ("team", [StepRow("a", 50, None), StepRow("b", 25, 5.0)]),
    ]
    section = breakdown_blocks("Funnel by plan", series, None, None)[1]["text"]["text"]
    assert section.index("team") < section.index("free")
    assert "50 → 25 (50%)" in section


# -- the Block Kit, exactly -----------------------------------------------------------------------
POSTHOG_URL = "https://us.posthog.com/project/1/insights/new"


def test_funnel_blocks_are_exactly_as_designed():
    actual = funnel_blocks(
        "Signup funnel", ROWS, "last 30 days", POSTHOG_URL, note="Saved insight <abc> & co"
    )
    expected = [
        {"type": "header", "text": {"type": "plain_text", "text": "Signup funnel", "emoji": True}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*1. signup_started*  1,843\n"
                "`████████████████████`\n"
                "*2. onboarding_completed*  412 · 22% of step 1 · 22% of step 1 · median 1m 36s"
                "  :warning: *biggest drop*\n"
                "`████░░░░░░░░░░░░░░░░`\n"
                "*3. invite_sent*  251 · 61% of step 2 · 14% of step 1 · median 10m\n"
                "`███░░░░░░░░░░░░░░░░░`",
                "verbatim": True,
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "14% converted overall · last 30 days · "
                    "<https://us.posthog.com/project/1/insights/new|Open in PostHog> · "
                    "Saved insight &lt;abc&gt; &amp; co",
                    "verbatim": True,
                }
            ],
        },
    ]
    assert json.dumps(actual, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_a_funnel_without_steps_says_so_and_has_no_context():
    actual = funnel_blocks("Empty funnel", [], None, None)
    expected = [
        {"type": "header", "text": {"type": "plain_text", "text": "Empty funnel", "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "No steps.", "verbatim": True}},
    ]
    assert json.dumps(actual, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_breakdown_blocks_are_exactly_as_designed():
    series = [
        ("free", [StepRow("a", 10, None), StepRow("b", 1, 5.0)]),
        ("team", [StepRow("a", 50, None), StepRow("b", 25, 5.0)]),
        ("", [StepRow("a", 4, None), StepRow("b", 4, 5.0)]),
    ]
    actual = breakdown_blocks("Funnel by plan", series, "last 7 days", POSTHOG_URL)
    expected = [
        {"type": "header", "text": {"type": "plain_text", "text": "Funnel by plan", "emoji": True}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*team*: 50 → 25 (50%) · biggest drop at step 2\n"
                "`██████████░░░░░░░░░░`\n"
                "*free*: 10 → 1 (10%) · biggest drop at step 2\n"
                "`██░░░░░░░░░░░░░░░░░░`\n"
                "*(none)*: 4 → 4 (100%)\n"
                "`████████████████████`",
                "verbatim": True,
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "last 7 days · <https://us.posthog.com/project/1/insights/new|Open in PostHog>",
                    "verbatim": True,
                }
            ],
        },
    ]
    assert json.dumps(actual, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_a_breakdown_lists_eight_values_and_counts_the_rest():
    series = [(f"plan {i}", [StepRow("a", 100 - i, None), StepRow("b", 50, 5.0)]) for i in range(11)]
    section = breakdown_blocks("Funnel by plan", series, None, None)[1]["text"]["text"]
    assert section.count("→") == 8 and "*plan 7*" in section and "*plan 8*" not in section
    assert section.endswith("\n…and 3 more values")


def test_a_breakdown_value_or_step_name_cannot_fake_a_line():
    """Values any event sender chooses (a breakdown's property) and names PostHog keeps (a saved
    insight's steps) stay on their own line."""
    fake = "Free\n:rotating_light: *Your account is locked — DM @it-help*"
    series = [(fake, [StepRow(fake, 10, None), StepRow("b", 1, 5.0)])]
    breakdown = breakdown_blocks("Funnel by plan", series, None, None)[1]["text"]["text"]
    steps = funnel_blocks("Funnel", [StepRow(fake, 10, None)], None, None)[1]["text"]["text"]
    for text in (breakdown, steps):
        assert not any(line.startswith(":rotating_light:") for line in text.split("\n"))


def test_long_names_keep_the_context_within_slacks_limit_and_the_link_whole():
    """Three unknown 330-character steps, a long PostHog link and a note: the context stays within
    3,000 characters, with the link whole or not at all, and the section's lines are never cut."""
    rows = [StepRow("s" * 330 + str(i), 10 * (3 - i), 5.0 if i else None) for i in range(3)]
    url = "https://us.posthog.com/project/1/insights/new#q=" + "x" * 2900
    blocks = funnel_blocks("Funnel", rows, "last 30 days", url, note="did you mean " + "y" * 600)
    context = blocks[-1]["elements"][0]["text"]
    assert len(context) <= 3000 and "<https://" not in context  # the link did not fit: left out
    many = [StepRow(f"step {'z' * 70} {i}", 1000 - i, 5.0) for i in range(60)]
    section = funnel_blocks("Funnel", many, None, None)[1]["text"]["text"]
    assert len(section) <= 3000 and section.endswith(" more_") and section.count("`") % 2 == 0
