"""`/posthog stats` Block Kit: a section per signal with its numbers and precision, the hint for rules
people keep dismissing, the query signals whose latest run failed, and escaping throughout."""

from __future__ import annotations

from bot.slack.blocks.stats import MAX_SIGNALS, signal_line, stats_blocks, stats_message
from bot.store.query_runs import QueryRun
from bot.store.stats import SignalStats

ONBOARDING = SignalStats(
    signal="Trial finished onboarding",
    events=1234,
    alerts=10,
    tasks_clicked=2,
    tasks_auto=1,
    snoozed=1,
    not_relevant={"wrong_fit": 4, "bad_data": 1},
    no_action=1,
    dismissed_median=40.0,
    acted_median=82.0,
)


def test_a_signals_line_has_every_number_a_revops_lead_reads():
    assert signal_line(ONBOARDING) == (
        "*Trial finished onboarding* · precision 38%\n"
        "1,234 events · 10 alerts · 3 tasks (2 clicked, 1 automatic) · 1 snoozed · "
        "5 not relevant (bad data 1, wrong fit 4) · 1 no action yet"
    )


def test_the_hint_follows_the_signals_and_the_precision_note_ends_the_message():
    blocks = [b.to_dict() for b in stats_blocks([ONBOARDING], 7)]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Signal stats, last 7 days", "emoji": True},
    }
    hint = blocks[2]["elements"][0]["text"]
    assert hint.startswith(":bulb: Trial finished onboarding: 5 of 8 judged alerts were marked not relevant")
    assert hint.endswith("consider `min_score: 80`.")
    assert blocks[-1]["elements"][0]["text"].startswith("Precision: alerts with a task")


def test_failing_query_signals_are_named_with_posthogs_message_escaped():
    run = QueryRun("Heavy <users>", 1_790_000_000.0, 1_790_000_001.0, "w1", "error", None, "bad <!here>")
    blocks = [b.to_dict() for b in stats_blocks([], 30, [run])]
    assert blocks[1]["elements"][0]["text"] == "No signal saw an event in the last 30 days."
    failure = blocks[2]["text"]["text"]
    assert failure.startswith(
        ":warning: *Heavy &lt;users&gt;*: the latest query run failed (<!date^1790000001^"
    )
    assert failure.endswith("): bad &lt;!here&gt;")


def test_names_are_escaped_and_many_signals_stay_within_slacks_50_blocks():
    many = [SignalStats(signal=f"<!channel> {i}", alerts=1, no_action=1) for i in range(60)]
    text, blocks = stats_message(many, 7)
    assert len(blocks) <= 50 and text == "Signal stats, last 7 days: 60 signals"
    assert "<!channel>" not in str(blocks) and "&lt;!channel&gt; 0" in str(blocks)
    assert {"type": "mrkdwn", "text": f"and {60 - MAX_SIGNALS} more signals", "verbatim": True} in [
        e for b in blocks if b["type"] == "context" for e in b["elements"]
    ]
