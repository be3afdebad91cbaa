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
