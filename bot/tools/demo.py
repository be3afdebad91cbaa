"""`python -m bot demo`: the whole loop on bundled sample data, offline.

Sample PostHog events go over real HTTP into the real webhook route, through the inbox, worker,
enrichment (the bundled companies file), scoring, summary and routing, and out through the real
Slack and PostHog SDK clients to a local sink. Each Slack message is previewed with a Block Kit
Builder link, and a closing table says what happened to every event.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from rich.console import Console
from rich.table import Table

from bot.app.container import Services
from bot.app.lifecycle import Lifecycle
from bot.app.tuning import Tuning
from bot.app.web import create_app
from bot.config.durations import format_duration
from bot.config.settings import DEFAULT_SUMMARY_MODEL, Settings
from bot.config.signals_file import Reports, load_signals
from bot.decide.outcomes import Outcome, SignalDecision, no_signal_listens
from bot.ingest.webhook_body import parse_timestamp
from bot.store.messages import DIGEST_SIGNAL, REPORT_SIGNAL
from bot.tools.demo_sink import DemoSink
from bot.tools.preview import block_kit_builder_url, render_message

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SNOOZED_ACCOUNT = "starkindustries.com"
_OUTCOME_STYLE = {
    Outcome.ALERTED: "green",
    Outcome.DUPLICATE: "magenta",
    Outcome.FILTERED: "dim",
    Outcome.BELOW_THRESHOLD: "yellow",
    Outcome.COOLDOWN: "cyan",
    Outcome.SNOOZED: "blue",
    Outcome.ACCUMULATING: "blue",
    Outcome.FAILED: "red",
    Outcome.NO_ACCOUNT: "yellow",
}


def load_events(path: Path, now: float) -> list[dict[str, Any]]:
    """Webhook bodies from a JSONL file, shifted in time so the newest event happened just now."""
    bodies = [orjson.loads(line) for line in path.read_text().splitlines() if line.strip()]
    stamps = [parse_timestamp(b["event"].get("timestamp")) for b in bodies]
    latest = max((s for s in stamps if s is not None), default=now)
    shift = now - latest - 30
    for body, stamp in zip(bodies, stamps, strict=True):
        if stamp is not None:
            moved = datetime.fromtimestamp(stamp + shift, UTC)
            body["event"]["timestamp"] = moved.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return bodies


def _detail(entry: dict[str, Any], threads: dict[str, str]) -> str:
    parts = []
    for decision in map(SignalDecision.model_validate, entry["signals"]):
        reason = decision.reason
        if decision.outcome is Outcome.ALERTED:
            if reason.endswith(" digest"):
                where = f"in the {decision.channel} digest"
            elif decision.alert_id in threads:
                where = f"posted in the account's thread in {decision.channel}"
            else:
                where = f"posted to {decision.channel}"
            reason = f"{where}, ICP {decision.score}/100"
        parts.append(f"{decision.signal}: {reason}" if decision.signal else reason)
    return "; ".join(parts)


def _alert_ids(entries: Iterable[dict[str, Any]]) -> list[str]:
    return [d["alert_id"] for e in entries for d in e["signals"] if d.get("alert_id")]


async def _run(events: list[dict[str, Any]], signals: Path, console: Console) -> int:
    with tempfile.TemporaryDirectory(prefix="signals-demo-") as tmp, DemoSink() as sink:
        secret = secrets.token_urlsafe(16)
        settings = Settings(
            _env_file=None,
            slack_bot_token="xoxb-demo",
            slack_signing_secret="demo-signing-secret",
            slack_api_url=sink.url + "/api/",
            posthog_host=sink.url,
            posthog_app_host_setting="https://us.posthog.com",
            posthog_project_api_key="phc_demo",
            posthog_project_id="12345",
            # Offline: whatever key the environment holds, nothing reads PostHog's API from the demo
            # (the report says the tracking plan needs one).
            posthog_personal_api_key=None,
            posthog_webhook_secret=secret,
            database_url=f"sqlite:///{tmp}/demo.db",
            log_level="WARNING",
            # Claude writes the summaries when the operator's environment has a key for it.
            anthropic_api_key=os.environ.get("ANTHROPIC_API_KEY") or None,
            anthropic_base_url=os.environ.get("ANTHROPIC_BASE_URL") or None,
            summary_model=os.environ.get("SUMMARY_MODEL") or DEFAULT_SUMMARY_MODEL,
        )
        tuning = Tuning(
            worker_poll_s=0.05,
            delivery_poll_s=0.2,
            channel_interval_s=0.0,
            posthog_options={"flush_interval": 0.1},
        )
        services = Services(settings, load_signals(signals), tuning)
        lifecycle = Lifecycle(services)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(lifecycle),
                host="127.0.0.1",
                port=0,
                log_config=None,
                lifespan="on",
                access_log=False,
            )
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                return 1
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        await asyncio.to_thread(services.store.snooze, SNOOZED_ACCOUNT, time.time() + 7 * 86400, "U0ADMIN")
        rows: list[tuple[dict[str, Any], Outcome | None]] = []
        started = time.perf_counter()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for body in events:
                response = await client.post(
                    "/posthog/webhook", json=body, headers={"Authorization": f"Bearer {secret}"}
                )
                result = response.json()
                rows.append((body, Outcome.DUPLICATE if result.get("duplicates") else None))
                await lifecycle.idle()  # one at a time, so each alert knows what came before
        # The digest goes out at `digest.at`; the demo sends it now, as `python -m bot digest` does.
        digests = await services.digests.send_now()
        # So is the report, which `serve` sends every `reports.every`, as `python -m bot report` does.
        reports = [await services.reports.send_now()] if services.config.reports is not None else []
        await lifecycle.idle()
        elapsed = time.perf_counter() - started
        await asyncio.to_thread(services.writer.flush)
        ledger = {e["event_uuid"]: e for e in await asyncio.to_thread(services.store.ledger_entries)}
        threads = await asyncio.to_thread(services.store.threads_of, _alert_ids(ledger.values()))
        server.should_exit = True
        await serving

        for message, ts in zip(sink.messages, sink.message_ts, strict=True):
            note = " · a reply in the account's thread" if message.get("thread_ts") else ""
            if ts in sink.updates:  # shown as it reads now
                message = {**message, **sink.updates[ts]}
                note += " · since updated (chat.update)"
            signal = message["metadata"]["event_payload"].get("signal")
            if signal == DIGEST_SIGNAL:
                note = " · the channel's digest"
            elif signal == REPORT_SIGNAL:
                note = " · the report"
            console.print(render_message(message["channel"], message, note))
            url = block_kit_builder_url(message["blocks"])
            if console.is_terminal:
                console.print(f"[link={url}]Open in Block Kit Builder[/link]\n")
            else:
                console.print(f"Block Kit Builder: {url}\n", soft_wrap=True, markup=False, highlight=False)

        table = Table(title="What happened to each delivery")
        for column in ("#", "event", "account", "outcome", "detail"):
            table.add_column(column, overflow="fold")
        outcomes: Counter[Outcome] = Counter()
        for index, (body, override) in enumerate(rows, 1):
            event = body["event"]
            entry = ledger.get(event["uuid"], {"outcome": Outcome.PENDING, "account": "", "signals": []})
            if event["event"] not in services.config.event_names:  # counted in the ledger's totals
                entry = {"outcome": Outcome.FILTERED, "account": "", "signals": [no_signal_listens()]}
            outcome = override or Outcome(entry["outcome"])
            outcomes[outcome] += 1
            detail = "already received; counted and dropped" if override else _detail(entry, threads)
            style = _OUTCOME_STYLE.get(outcome, "")
            table.add_row(
                str(index),
                event["event"],
                entry.get("account") or "-",
                f"[{style}]{outcome}[/]" if style else str(outcome),
                detail,
            )
        console.print(table)
        captured = Counter(e.get("event") for e in sink.captured)
        replies = sum(1 for m in sink.messages if m.get("thread_ts"))
        console.print(
            f"{len(rows)} deliveries in {elapsed:.2f}s: "
            + ", ".join(f"{count} {name}" for name, count in outcomes.most_common())
            + f". {len(sink.messages)} Slack messages: {replies} of them replies in an account's thread, "
            f"{len(digests)} digest (sent now; daily at {services.config.digest.at} "
            f"{services.config.digest.timezone} when serving)"
            + (f", {_report_note(services.config.reports)}." if reports else ".")
        )
        console.print(
            f"PostHog write-back: {captured.get('$set', 0)} person $set, "
            f"{captured.get('$groupidentify', 0)} company $groupidentify. "
            f"Summaries: {_summary_note(services)} "
            f"{SNOOZED_ACCOUNT} was snoozed for 7 days before the run."
        )
        return 0 if not outcomes[Outcome.PENDING] and not outcomes[Outcome.FAILED] else 1


def _report_note(reports: Reports) -> str:
    every = format_duration(reports.every)
    return f"1 report (sent now; every {every} to {reports.channel} when serving)"


def _summary_note(services: Services) -> str:
    if services.summarizer is None:
        return "templates (set ANTHROPIC_API_KEY for Claude-written summaries)."
    claude = int(services.metrics.summaries.labels(kind="claude")._value.get())
    template = int(services.metrics.summaries.labels(kind="template")._value.get())
    return f"Claude ({services.settings.summary_model}) wrote {claude}, templates {template}."


def run_demo(events_file: str | None = None, console: Console | None = None) -> int:
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=150)
    signals = EXAMPLES / "signals.yml"
    events_path = Path(events_file) if events_file else EXAMPLES / "events.jsonl"
    if not signals.is_file() or not events_path.is_file():
        console.print(f"[red]demo needs {signals} and {events_path}; run it from the project folder.[/]")
        return 2
    events = load_events(events_path, time.time())
    if not os.environ.get("ANTHROPIC_API_KEY"):  # offline: everything the demo talks to is on 127.0.0.1
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            os.environ.pop(name, None)
    return asyncio.run(_run(events, signals, console))


__all__ = ["load_events", "run_demo"]
