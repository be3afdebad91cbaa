"""`python -m bot stats [--days N]`: per signal, what it saw and sent over the last N days and what
people did with its alerts, with precision and a hint for rules people keep dismissing. Reads the
database only (after bringing its schema up to date, as every command does), so it is safe to run
next to `serve`."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.commands.stats_report import failing_queries, hint, precision_text
from bot.config.settings import Settings
from bot.config.signals_file import SignalsFileError, load_signals
from bot.slack.ids import FeedbackReason
from bot.store import Store
from bot.store.stats import SignalStats
from bot.tools.migrate import bring_up_to_date

DAY_S = 86_400.0


def _reasons(stats: SignalStats) -> str:
    """ "wrong fit 2, bad data 1", in the modal's order; "0" when none."""
    known = {r.value: r.label for r in FeedbackReason}
    order = [r.value for r in FeedbackReason] + sorted(set(stats.not_relevant) - set(known))
    parts = [f"{known.get(k, k)} {stats.not_relevant[k]}" for k in order if stats.not_relevant.get(k)]
    return ", ".join(parts) or "0"


def stats_table(found: list[SignalStats], days: int) -> Table:
    table = Table(title=f"Signals, last {days} day{'s' if days != 1 else ''}")
    for heading in ("signal", "events", "alerts", "tasks (clicked / auto)", "snoozed"):
        table.add_column(heading, justify="left" if heading == "signal" else "right")
    table.add_column("not relevant")
    for heading in ("no action", "precision"):
        table.add_column(heading, justify="right")
    for s in found:
        table.add_row(
            Text(s.signal),  # Text: a name with "[" is not read as markup
            str(s.events),
            str(s.alerts),
            f"{s.tasks_clicked} / {s.tasks_auto}",
            str(s.snoozed),
            Text(_reasons(s)),
            str(s.no_action),
            precision_text(s),
        )
    return table


def run_stats(days: int = 7) -> int:
    if days < 1:
        print("stats: --days must be at least 1", file=sys.stderr)
        return 2
    settings = Settings()
    if not bring_up_to_date(settings, "stats"):
        return 2
    store = Store.from_url(settings.database_url)
    try:
        found = store.signal_stats(time.time() - days * DAY_S)
        runs = store.last_query_runs()
    finally:
        store.dispose()
    console = Console()
    try:  # only to tell which query signals' latest runs failed; the numbers need no signals file
        failing = failing_queries(runs, load_signals(settings.signals_config))
    except SignalsFileError:
        failing = []
    if found:
        console.print(stats_table(found, days))
    else:
        console.print(f"No signal saw an event or sent an alert in the last {days} days.", markup=False)
    for said in filter(None, map(hint, found)):
        console.print(said, markup=False)
    for run in failing:
        console.print(f"Query signal {run.signal}: the latest run failed: {run.error}", markup=False)
    return 0
