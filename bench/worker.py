"""Worker throughput: how many stored events a second the worker decides (match, account, enrich, score,
compose, commit, hand the alert to delivery) when every event is one a signal wants.

Run from the project root: `python bench/worker.py [--events 20000] [--accounts 1000] [--postgres]
[--workers 1,2]`. Each row fills a new database's inbox with `--events` `feature_activated` events
(min_score 0, so each account alerts once and its cooldown holds the rest) spread over `--accounts`
companies, then starts the worker processes `serve` starts, as `serve` starts them (production timings,
a local fake Slack, per-channel pacing), and reads the ledger until every event is decided. The baseline
of the same run is the store alone: one process claiming the same events and committing a fixed
decision for each, with no pipeline, which is what the database allows.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.deliveries import PLACEHOLDER, alert_body  # noqa: E402
from bench.measure import proc_cpu_s, proc_rss_mb  # noqa: E402
from bench.servers import app_spec  # noqa: E402
from testkit.examples import EXAMPLE_SIGNALS  # noqa: E402
from testkit.postgres import POSTGRES_URL, postgres_schema  # noqa: E402


def fill_inbox(url: str, events: int, accounts: int) -> None:
    """`events` stored events over `accounts` companies, as the webhook stores them."""
    from bot.store import InboxRow, Store

    store = Store.from_url(url)
    try:
        store.upgrade()
        run = uuid.uuid4().hex[:6]
        templates = [alert_body(i, run) for i in range(accounts)]
        now = time.time()
        rows = []
        for n in range(events):
            event_uuid = str(uuid.uuid4())
            payload = templates[n % accounts].replace(PLACEHOLDER.encode(), event_uuid.encode())
            rows.append(InboxRow(event_uuid, "feature_activated", payload, now, f"bench-{n // 100}"))
            if len(rows) == 1000:
                store.ingest(rows)
                rows = []
        if rows:
            store.ingest(rows)
    finally:
        store.dispose()


def decided(store: Any) -> int:
    counts = store.outcome_counts()
    return sum(n for outcome, n in counts.items() if outcome != "filtered")


def store_only(url: str, events: int) -> float:
    """The baseline: claim and commit a fixed `below_threshold` decision per event, no pipeline."""
    from bot.decide.outcomes import Outcome, SignalDecision
    from bot.store import Finish, LedgerEntry, Store

    store = Store.from_url(url)
    worker = f"baseline-{os.getpid()}"
    done = 0
    started = time.perf_counter()
    try:
        while done < events:
            claimed = store.claim_events(worker, 64, 120.0)
            if not claimed:
                break
            finishes = [
                Finish(
                    c.uuid,
                    LedgerEntry.of(
                        [SignalDecision(outcome=Outcome.BELOW_THRESHOLD, reason="baseline")],
                        event_uuid=c.uuid,
                        event_name="feature_activated",
                        distinct_id=None,
                        account=None,
                        event_time=None,
                        request_id=c.request_id,
                    ),
                    [],
                    c.received_at,
                )
                for c in claimed
            ]
            store.finish_events(worker, finishes)
            done += len(claimed)
    finally:
        store.dispose()
    return done / (time.perf_counter() - started)


def run_workers(url: str, count: int, events: int, slack_url: str, posthog_url: str) -> dict[str, Any]:
    """Start `count` worker processes as `serve` does and time them through the backlog."""
    from bot.app.processes import WorkerPool
    from bot.app.tuning import Tuning
    from bot.config.settings import Settings
    from bot.config.signals_file import load_signals
    from bot.store import Store

    spec = app_spec(url, "WARNING", slack_url, posthog_url)
    settings = Settings(_env_file=None, **spec["settings"])
    workers = WorkerPool(settings, load_signals(EXAMPLE_SIGNALS), Tuning(), count=count)
    samples: list[tuple[float, int]] = []
    peak_rss: dict[int, float] = {}
    started = time.perf_counter()
    store = Store.from_url(url)
    workers.start()
    pids = [pid for pid in workers.pids if pid is not None]
    cpu0 = {pid: proc_cpu_s(pid) for pid in pids}
    try:
        deadline = started + 600
        while time.perf_counter() < deadline:
            time.sleep(0.25)
            n = decided(store)
            samples.append((time.perf_counter(), n))
            for pid in pids:
                with contextlib.suppress(OSError):
                    peak_rss[pid] = max(peak_rss.get(pid, 0.0), proc_rss_mb(pid)[0])
            if n >= events:
                break
        cpu = sum(proc_cpu_s(pid) - cpu0[pid] for pid in pids)
    finally:
        workers.stop()
        store.dispose()
    return {
        "rate": steady_rate(samples, events),
        "seconds": samples[-1][0] - started,
        "decided": samples[-1][1],
        "cpu_s": cpu,
        "peak_rss_mb": max(peak_rss.values(), default=0.0),
    }


def steady_rate(samples: list[tuple[float, int]], events: int) -> float:
    """Decisions a second between 10% and 90% of the backlog: start-up (imports, first claims) and
    the last stragglers are not the worker's pace."""
    low = next((s for s in samples if s[1] >= events * 0.1), None)
    high = next((s for s in samples if s[1] >= events * 0.9), None)
    if low is None or high is None or high[0] <= low[0]:
        return 0.0
    return (high[1] - low[1]) / (high[0] - low[0])


@contextlib.contextmanager
def database(kind: str, folder: Path, label: str, pg_url: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{label}.db'}"
        return
    with postgres_schema(pg_url) as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--accounts", type=int, default=1000)
    p.add_argument("--workers", default="1", help="comma-separated worker process counts (default 1)")
    p.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    p.add_argument("--postgres-url", default=POSTGRES_URL)
    p.add_argument("--no-baseline", action="store_true")
    a = p.parse_args(argv)
    counts = [int(c) for c in a.workers.split(",")]
    console = Console(width=None if sys.stdout.isatty() else 140)
    databases = ["sqlite"] + (["postgres"] if a.postgres else [])

    from testkit.posthog import FakePostHog
    from testkit.slack import FakeSlack

    table = Table(title=f"worker: {a.events:,} stored events over {a.accounts:,} accounts, every one wanted")
    for col in ("database", "run", "decided/s", "x baseline", "CPU s", "peak RSS", "wall s"):
        table.add_column(col, justify="right" if col not in ("database", "run") else "left")
    with (
        tempfile.TemporaryDirectory(prefix="worker-bench-") as tmp,
        FakeSlack() as slack,
        FakePostHog() as ph,
    ):
        folder = Path(tmp)
        for db in databases:
            baseline = None
            if not a.no_baseline:
                with database(db, folder, "baseline", a.postgres_url) as url:
                    fill_inbox(url, a.events, a.accounts)
                    baseline = store_only(url, a.events)
                table.add_row(db, "store alone (baseline)", f"{baseline:,.0f}", "1.00x", "", "", "")
                console.print(f"[dim]{db}: store alone {baseline:,.0f}/s[/dim]")
            for count in counts:
                with database(db, folder, f"workers-{count}", a.postgres_url) as url:
                    fill_inbox(url, a.events, a.accounts)
                    r = run_workers(url, count, a.events, slack.api_url, ph.url)
                ratio = f"{r['rate'] / baseline:.2f}x" if baseline else ""
                table.add_row(
                    db,
                    f"{count} worker process{'es' if count > 1 else ''}",
                    f"{r['rate']:,.0f}",
                    ratio,
                    f"{r['cpu_s']:.1f}",
                    f"{r['peak_rss_mb']:.0f} MB",
                    f"{r['seconds']:.1f}",
                )
                console.print(
                    f"[dim]{db}: {count} worker(s) {r['rate']:,.0f}/s, decided {r['decided']:,}[/dim]"
                )
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
