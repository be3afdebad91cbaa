"""The `stats` hint at its edges: at least 5 judged alerts (a task or not relevant) and more than half
dismissed; the suggested `min_score` is the acted-on median rounded down to a multiple of 5."""

from __future__ import annotations

import pytest

from bot.commands.stats_report import failing_queries, hint, precision_text, suggested_min_score
from bot.config.signals_file import SignalsConfig
from bot.store.query_runs import QueryRun
from bot.store.stats import SignalStats


def judged(
    tasks: int, dismissed: int, acted: float | None = 72.0, dropped: float | None = 35.0
) -> SignalStats:
    return SignalStats(
        signal="Trial finished onboarding",
        alerts=tasks + dismissed,
        tasks_clicked=tasks,
        not_relevant={"wrong_fit": dismissed} if dismissed else {},
        acted_median=acted if tasks else None,
        dismissed_median=dropped if dismissed else None,
    )


def test_five_judged_with_three_dismissed_suggests_the_acted_median_rounded_down():
    said = hint(judged(tasks=2, dismissed=3))
    assert said == (
        "Trial finished onboarding: 3 of 5 judged alerts were marked not relevant "
        "(median score 35, 72 for those with a task); consider `min_score: 70`."
    )


@pytest.mark.parametrize(
    ("tasks", "dismissed"),
    [(1, 3), (2, 2), (3, 3), (0, 4)],  # 4 judged; exactly half (of 4 and of 6); 4 judged, all dismissed
)
def test_no_hint_below_five_judged_or_at_exactly_half(tasks, dismissed):
    assert hint(judged(tasks, dismissed)) is None


def test_all_dismissed_has_no_score_to_suggest():
    said = hint(judged(tasks=0, dismissed=5))
    assert said is not None and "5 of 5" in said and "higher `min_score`" in said


def test_rounding_and_precision_text():
    assert [suggested_min_score(x) for x in (70.0, 74.9, 4.5, 0.0)] == [70, 70, 0, 0]
    assert precision_text(judged(2, 3)) == "40%" and precision_text(SignalStats("S")) == "–"


def test_a_failing_query_stays_failing_while_its_next_run_is_in_progress():
    """Only the signals file's query signals count, and a run in progress (or one whose process died)
    leaves the last finished outcome in place: the failure shows until a run succeeds."""
    config = SignalsConfig.model_validate(
        {
            "signals": [
                {"name": "Heavy users", "query": "SELECT 'a.com' AS account", "every": "1h"},
                {"name": "Churn risk", "query": "SELECT 'b.com' AS account", "every": "1h"},
                {"name": "Event signal", "event": "e"},
            ],
            "routing": [{"channel": "C0AE1"}],
        }
    )
    running_after_failure = QueryRun("Heavy users", 200.0, 150.0, "w2", "error", None, "Unknown table")
    fine = QueryRun("Churn risk", 100.0, 101.0, "w1", "ok", 3, None)
    removed = QueryRun("Old signal", 100.0, 101.0, "w1", "error", None, "gone")
    runs = {r.signal: r for r in (running_after_failure, fine, removed)}
    assert running_after_failure.running and not fine.running
    assert failing_queries(runs, config) == [running_after_failure]
