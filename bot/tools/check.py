"""`python -m bot check`: say exactly what is wrong with the settings and the signals file, and, with
`--online`, whether each configured credential works. Exit 0 only when nothing is wrong.

Here: the offline checks (settings, the signals file, the database and its schema, the recorded
query runs), the table they are printed as, and `run_check`. The checks that reach other services
are in `check_online`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.config.settings import Settings, secret
from bot.config.signals_file import SignalsConfig, SignalsFileError, load_signals

Status = Literal["ok", "error", "note"]
_MARKS = {"ok": "[green]ok[/]", "error": "[red]error[/]", "note": "[yellow]note[/]"}


@dataclass(frozen=True)
class Finding:
    status: Status
    subject: str
    detail: str


def settings_findings() -> tuple[Settings | None, list[Finding]]:
    try:
        settings = Settings()
    except ValidationError as exc:
        findings = [
            Finding("error", str(err["loc"][0]).upper(), err["msg"].removeprefix("Value error, "))
            for err in exc.errors()
        ]
        return None, findings
    findings = [
        Finding("error", name, "required by `serve` but not set") for name in settings.missing_for_serve()
    ]
    signing = secret(settings.posthog_webhook_signing_secret)
    if signing:
        from bot.ingest.credentials import signing_key

        try:
            signing_key(signing)
        except ValueError as exc:
            findings.append(Finding("error", "POSTHOG_WEBHOOK_SIGNING_SECRET", str(exc).split(": ", 1)[-1]))
    if not secret(settings.posthog_project_api_key):
        findings.append(Finding("note", "POSTHOG_PROJECT_API_KEY", "not set: enrichment is not written back"))
    if not secret(settings.posthog_personal_api_key):
        findings.append(
            Finding("note", "POSTHOG_PERSONAL_API_KEY", "not set: /posthog funnels are unavailable")
        )
    if not secret(settings.anthropic_api_key):
        findings.append(Finding("note", "ANTHROPIC_API_KEY", "not set: alerts use template summaries"))
    elif settings.summary_timeout_s > 20:
        findings.append(
            Finding("note", "SUMMARY_TIMEOUT_S", "alerts wait this long for Claude before the template")
        )
    if not secret(settings.hubspot_access_token):
        findings.append(Finding("note", "HUBSPOT_ACCESS_TOKEN", "not set: CRM tasks stay in the bot's store"))
    if not findings or all(f.status == "note" for f in findings):
        findings.insert(0, Finding("ok", "settings", "all required settings are present"))
    return settings, findings


def signals_findings(path: str) -> tuple[SignalsConfig | None, list[Finding]]:
    try:
        config = load_signals(path)
    except SignalsFileError as exc:
        return None, [
            Finding("error", f"{exc.file}: {where}" if where else str(exc.file), reason)
            for where, reason in exc.problems
        ]
    findings = [
        Finding(
            "ok",
            path,
            f"{len(config.signals)} signals, {len(config.icp)} ICP criteria, {len(config.routing)} routes",
        )
    ]
    if config.digest_signals:
        names = ", ".join(s.name for s in config.digest_signals)
        digest = config.digest
        findings.append(
            Finding(
                "ok", "digest", f"daily at {digest.at} {digest.timezone}, for {names}; `digest` sends one now"
            )
        )
    if config.reports is not None:
        from bot.config.durations import format_duration

        every = format_duration(config.reports.every)
        findings.append(
            Finding(
                "ok",
                "reports",
                f"every {every} to {config.reports.channel}, the first one {every} after `serve` first "
                "starts; `report` sends one now",
            )
        )
    if config.enrichment.file is not None:
        from bot.decide.enrich import load_companies_file

        try:
            companies = load_companies_file(config.enrichment.file)
            findings.append(Finding("ok", str(config.enrichment.file), f"{len(companies)} companies"))
        except ValueError as exc:
            findings.append(Finding("error", "enrichment.file", str(exc)))
    http = config.enrichment.http
    if http is not None and http.auth_env and not os.environ.get(http.auth_env, "").strip():
        findings.append(
            Finding("error", "enrichment.http.auth_env", f"environment variable {http.auth_env} is not set")
        )
    return config, findings


def database_findings(settings: Settings) -> list[Finding]:
    from bot.store import Store
    from bot.store.migrate import HEAD, SchemaTooNew

    try:
        store = Store.from_url(settings.database_url, busy_timeout_s=2, connect_timeout_s=3)
        try:
            store.ping()
            schema = store.schema_status()
        finally:
            store.dispose()
    except SchemaTooNew as exc:
        return [Finding("error", "DATABASE_URL", str(exc))]
    except Exception as exc:
        return [Finding("error", "DATABASE_URL", f"cannot connect: {type(exc).__name__}: {str(exc)[:200]}")]
    if schema.up_to_date:
        return [Finding("ok", "DATABASE_URL", f"the database answers; its schema is current ({HEAD})")]
    if schema.current is None:
        detail = f"the database is empty: `serve` or `python -m bot migrate` creates the schema ({HEAD})"
    else:
        detail = (
            f"at revision {schema.current}, {len(schema.pending)} migration(s) behind {HEAD}: "
            "`serve` upgrades it as it starts, or run `python -m bot migrate`"
        )
    return [Finding("ok", "DATABASE_URL", "the database answers"), Finding("note", "schema", detail)]


def query_run_findings(settings: Settings, config: SignalsConfig | None) -> list[Finding]:
    """The last recorded run of each query signal, when the database answers. Each time is named, as
    a run in progress and the last outcome are two runs: the one in progress by its start, the one
    that finished by its finish alone (the lease keeps only the latest start)."""
    from bot.store import Store

    signals = config.query_signals if config else []
    if not signals:
        return []
    try:
        store = Store.from_url(settings.database_url, busy_timeout_s=2, connect_timeout_s=3)
        try:
            runs = store.last_query_runs()
        finally:
            store.dispose()
    except Exception:  # no database, or one without the table yet: `database_findings` says so
        return []
    findings = []
    for signal in signals:
        subject = f"last run: {signal.name}"
        run = runs.get(signal.name)
        if run is None:
            findings.append(Finding("note", subject, "has not run yet"))
            continue
        if run.running:
            since = f"running since {_utc(run.started_at)}, started by {run.claimed_by}"
            findings.append(Finding("note", subject, since))
        if run.result is None or run.finished_at is None:
            continue
        if run.running:
            when = f"the run before finished {_utc(run.finished_at)}"
        else:
            when = f"started {_utc(run.started_at)}, finished {_utc(run.finished_at)}"
        if run.result == "ok":
            findings.append(Finding("ok", subject, f"{when}: ok, {run.rows} row(s)"))
        else:
            findings.append(Finding("note", subject, f"{when}: failed: {run.error}"))
    return findings


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def run_check(online: bool = False, console: Console | None = None, owner_of: str | None = None) -> int:
    console = console or Console()
    settings, findings = settings_findings()
    config = None
    if settings is not None:
        config, signal_results = signals_findings(settings.signals_config)
        findings += signal_results
        runnable = secret(settings.posthog_personal_api_key) and settings.posthog_project_id
        if config is not None and config.query_signals and not online and not runnable:
            # Offline, only whether they can run at all; --online runs each (query_signal_findings).
            from bot.schedule.queries import NOT_CONFIGURED

            findings.append(Finding("error", "query signals", NOT_CONFIGURED))
        findings += database_findings(settings)
        if online:
            from bot.tools import check_online

            findings += check_online.online_findings(settings, config)
            if config is not None:
                findings += check_online.query_signal_findings(settings, config)
                findings += query_run_findings(settings, config)
                findings += check_online.signal_event_findings(settings, config)
                findings += check_online.channel_name_findings(settings, config)
            if owner_of:
                findings += check_online.owner_findings(settings, owner_of)
    table = Table(title="posthog-slack-signals check", show_lines=False)
    table.add_column("", no_wrap=True)
    table.add_column("what")
    table.add_column("detail")
    for finding in findings:
        # Subjects and details may quote what an API answered: shown as text, never as markup.
        table.add_row(_MARKS[finding.status], Text(finding.subject), Text(finding.detail))
    console.print(table)
    errors = [f for f in findings if f.status == "error"]
    if errors:
        console.print(f"[red]{len(errors)} problem(s) to fix:[/]")
        for finding in errors:  # unwrapped, one per line, for logs and scripts
            console.print(
                f"error: {finding.subject}: {finding.detail}", soft_wrap=True, markup=False, highlight=False
            )
        return 1
    console.print("[green]All good.[/]")
    return 0
