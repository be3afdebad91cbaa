"""What `stats` says beyond the numbers: a hint when people keep dismissing a rule's alerts, with a
`min_score` that would have kept the alerts they acted on. Pure, so its edges are tested alone and
the terminal table, the slash command and the weekly report all say the same."""

from __future__ import annotations

import math
from collections.abc import Mapping

from bot.config.signals_file import SignalsConfig
from bot.store.query_runs import QueryRun
from bot.store.stats import SignalStats

MIN_JUDGED = 5  # fewer judged alerts than this say too little about a rule to suggest anything
SCORE_STEP = 5  # suggested thresholds are round numbers


def suggested_min_score(acted_median: float) -> int:
    """The median score of acted-on alerts, rounded down to a multiple of SCORE_STEP: at most about
    half of what people acted on would fall below it."""
    return int(math.floor(acted_median / SCORE_STEP) * SCORE_STEP)


def precision_text(stats: SignalStats) -> str:
    """Precision as a whole percentage, or "–" before anything was judged."""
    return "–" if stats.precision is None else f"{round(stats.precision * 100)}%"


def hint(stats: SignalStats) -> str | None:
    """A suggestion for a rule with at least MIN_JUDGED judged alerts, more than half dismissed;
    None otherwise (exactly half is not "more than half")."""
    if stats.judged < MIN_JUDGED or stats.dismissed * 2 <= stats.judged:
        return None
    said = f"{stats.signal}: {stats.dismissed} of {stats.judged} judged alerts were marked not relevant"
    if stats.dismissed_median is not None:
        said += f" (median score {stats.dismissed_median:g}"
        if stats.acted_median is not None:
            said += f", {stats.acted_median:g} for those with a task"
        said += ")"
    if stats.acted_median is None:
        return said + "; consider a narrower `where` or a higher `min_score`."
    return said + f"; consider `min_score: {suggested_min_score(stats.acted_median)}`."


def failing_queries(runs: Mapping[str, QueryRun], config: SignalsConfig) -> list[QueryRun]:
    """The query signals of the signals file whose latest run failed, in the file's order (a run of
    a signal since removed or turned into an event signal says nothing any more)."""
    found = [runs.get(signal.name) for signal in config.query_signals]
    return [run for run in found if run is not None and run.result == "error"]
