"""`python -m bot lint`: the tracking-plan report in the terminal. Exit 1 when a signal listens to an
event PostHog never received (it can never fire), 0 when there are only warnings, 2 when the settings
or the signals file are wrong or PostHog cannot be read, saying what to fix."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.clients.posthog_api import PostHogApi, PostHogApiError
from bot.config.settings import Settings, secret
from bot.config.signals_file import SignalsConfig, SignalsFileError, load_signals
from bot.lint import LintReport, build_lint_report, explain_failure
from bot.lint.report import QUIET_AFTER_DAYS, capped_line, unknown_line

MAX_ROWS = 50  # per table; the rest is "and N more"
NOT_CONFIGURED = (
    "needs POSTHOG_PERSONAL_API_KEY (a phx_ key with the scopes event_definition:read, and query:read "
    "for volumes) and POSTHOG_PROJECT_ID to read PostHog's event definitions"
)


def _volume(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def _table(console: Console, heading: str, *columns: str) -> Table:
    """Prints the heading (our words, never a name) and returns an empty table under it."""
    console.print()
    console.print(Text(heading, style="bold"))
    table = Table()
    for column in columns:
        table.add_column(column, justify="right" if column.startswith("30-day volume") else "left")
    return table


def _more(console: Console, total: int) -> None:
    if total > MAX_ROWS:
        console.print(f"and {total - MAX_ROWS} more", markup=False, highlight=False)


def render(report: LintReport, console: Console) -> None:
    """The report as tables; every name is Text, so a `[` in an event name is not markup."""
    signals = f"{report.event_signals} event signal{'s' if report.event_signals != 1 else ''}"
    console.print(
        Text(f"Tracking plan: {report.events:,} events in PostHog, {signals} checked", style="bold")
    )
    for note in filter(None, [report.volume_note, capped_line(report) if report.capped else None]):
        console.print(Text(f"note: {note}", style="yellow"))
    if report.skipped:
        console.print(Text(f"note: {report.skipped} rows PostHog sent were not event definitions"))

    if report.unknown:
        heading = "Signals listening to an event PostHog never received"
        table = _table(console, heading, "signal", "event", "did you mean")
        for item in report.unknown:
            table.add_row(Text(item.signal), Text(item.event), Text(" or ".join(item.suggestions) or "-"))
        console.print(table)
        for item in report.unknown:  # one line each, unwrapped, for logs and scripts
            console.print(f"error: {unknown_line(item)}", soft_wrap=True, markup=False, highlight=False)
    else:
        console.print(Text("ok: PostHog has received every event the signals listen to", style="green"))

    if report.bad_names:
        heading = f"Names that break snake_case ({len(report.bad_names)})"
        table = _table(console, heading, "name", "snake_case", "30-day volume")
        for bad in report.bad_names[:MAX_ROWS]:
            table.add_row(Text(bad.name), Text(bad.suggestion or "-"), _volume(bad.volume))
        console.print(table)
        _more(console, len(report.bad_names))

    if report.duplicates:
        heading = f"Near-duplicate names ({len(report.duplicates)} groups): one event, several names"
        table = _table(console, heading, "group", "name", "30-day volume", "")
        for number, group in enumerate(report.duplicates[:MAX_ROWS], start=1):
            for index, member in enumerate(group.members):
                notes = ["keep"] if member.name == group.keep else []
                notes += [f"signal: {s}" for s in member.signals]
                table.add_row(
                    str(number) if index == 0 else "",
                    Text(member.name),
                    _volume(member.volume),
                    Text(", ".join(notes)),
                )
            if group.keep not in group.names:
                table.add_row("", Text(group.keep), "", Text("suggested name"))
            table.add_section()
        console.print(table)
        _more(console, len(report.duplicates))

    if report.quiet:
        table = _table(
            console,
            f"Gone quiet: not seen for {QUIET_AFTER_DAYS} days ({len(report.quiet)})",
            "event",
            "last seen",
            "signals",
        )
        for quiet in report.quiet[:MAX_ROWS]:
            table.add_row(Text(quiet.name), _day(quiet.last_seen), Text(", ".join(quiet.signals)))
        console.print(table)
        _more(console, len(report.quiet))

    if report.unused:
        table = _table(
            console,
            f"No action: events no signal listens to ({len(report.unused)}); when they fire, what do we do?",
            "event",
            "30-day volume",
        )
        for unused in report.unused[:MAX_ROWS]:
            table.add_row(Text(unused.name), _volume(unused.volume))
        console.print(table)
        _more(console, len(report.unused))
    elif not report.volumes_known:
        console.print(Text("No action: not checked, because volumes are unknown", style="yellow"))

    if report.failed:
        count = len(report.unknown)
        console.print(
            Text(
                f"{count} signal{'s' if count != 1 else ''} can never fire: fix the event names.", style="red"
            )
        )
    elif report.clean:
        console.print(Text("All good.", style="green"))


async def _report(settings: Settings, config: SignalsConfig, key: str, now: float) -> LintReport:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        api = PostHogApi(settings.posthog_app_host, settings.posthog_project_id or "", key, client)
        return await build_lint_report(api, config, now)


def run_lint(
    settings: Settings | None = None,
    console: Console | None = None,
    errors: Console | None = None,
    now: float | None = None,
) -> int:
    """0: only warnings; 1: a signal listens to an unknown event; 2: cannot run, with what to fix."""
    console = console or Console()
    errors = errors or Console(stderr=True)

    def fail(message: str) -> int:
        errors.print(f"lint: {message}", soft_wrap=True, markup=False, highlight=False)
        return 2

    settings = settings or Settings()  # a setting out of range: `python -m bot` names it (exit 2)
    try:
        config = load_signals(settings.signals_config)
    except SignalsFileError as exc:
        return fail("\n".join(exc.lines()))
    key = secret(settings.posthog_personal_api_key)
    if not key or not settings.posthog_project_id:
        return fail(NOT_CONFIGURED)
    try:
        report = asyncio.run(_report(settings, config, key, time.time() if now is None else now))
    except PostHogApiError as exc:
        return fail(explain_failure(exc))
    render(report, console)
    return 1 if report.failed else 0
