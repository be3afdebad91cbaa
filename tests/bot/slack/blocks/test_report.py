"""The scheduled report's Block Kit: the period, each signal's stats, failing queries, the tracking
plan (or why it could not be read) and the next report's time, within Slack's limits, escaped."""

from __future__ import annotations

from bot.slack.blocks.report import MAX_PLAN_LINES, Report, report_message
from bot.store.stats import SignalStats

START, END = 1_790_000_000.0, 1_790_604_800.0
ACTED = SignalStats(
    signal="Team is inviting",
    events=50,
    alerts=6,
    tasks_clicked=4,
    not_relevant={"wrong_fit": 1},
    no_action=1,
)


def _report(**overrides) -> Report:
    fields = {"start": START, "end": END, "days": 7, "stats": [ACTED], "plan": ["3 names break snake_case"]}
    return Report(**{**fields, **overrides})


def _texts(message: dict) -> list[str]:
    found = []
    for block in message["blocks"]:
        if "text" in block and block["type"] != "header":
            found.append(block["text"]["text"])
        found += [e["text"] for e in block.get("elements", [])]
    return found


def test_a_report_has_the_period_the_stats_and_the_plan():
    message = report_message("r1", _report(next_at=END + 7 * 86400))
    assert message["metadata"]["event_payload"] == {"alert_id": "r1", "signal": "$report", "days": 7}
    assert message["text"] == "Signals report, last 7 days: precision Team is inviting 80%"
    assert message["blocks"][0]["text"]["text"] == "Signals report, last 7 days"
    texts = _texts(message)
    assert texts[0].startswith(f"<!date^{int(START)}^") and texts[0].endswith(" · 6 alerts · 4 with a task")
    assert texts[1].startswith("*Team is inviting* · precision 80%")
    assert "*Tracking plan*\n• 3 names break snake_case\n_`/posthog lint` shows the whole report._" in texts
    assert texts[-1].startswith(f"Next report <!date^{int(END + 7 * 86400)}^")


def test_a_plan_that_could_not_be_read_says_why_and_a_clean_plan_says_so():
    problem = _texts(report_message("r1", _report(plan=None, plan_problem="PostHog <refused> (403)")))
    assert "*Tracking plan*\nPostHog &lt;refused&gt; (403)" in problem
    clean = _texts(report_message("r1", _report(plan=[])))
    assert "*Tracking plan*\n• No problems found." in clean


def test_a_quiet_period_and_a_one_day_report():
    texts = _texts(report_message("r1", _report(stats=[], days=1)))
    assert "No signal saw an event in the last day." in texts


def test_many_signals_and_plan_lines_stay_within_slacks_limits_and_are_escaped():
    stats = [SignalStats(signal=f"<!channel> {i}", alerts=2, tasks_auto=1, no_action=1) for i in range(80)]
    plan = [f"<@U{i}> breaks snake_case" for i in range(30)]
    message = report_message("r1", _report(stats=stats, plan=plan))
    assert len(message["blocks"]) <= 50 and len(message["text"]) <= 3000
    assert "<!channel>" not in str(message) and "<@U" not in str(message)
    plan_text = next(t for t in _texts(message) if t.startswith("*Tracking plan*"))
    assert plan_text.count("•") == MAX_PLAN_LINES


def test_an_event_name_cannot_fake_lines_or_reverse_text_in_the_plan():
    plan = [
        "1 signal listens to an event PostHog never received: S (did you mean click\n• 0 problems "
        "\u202egnp.exe?)"
    ]
    [text] = [t for t in _texts(report_message("r1", _report(plan=plan))) if t.startswith("*Tracking plan*")]
    assert text.count("\n• ") == 1 and "\u202e" not in text
