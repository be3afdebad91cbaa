"""Forgetting old ledger entries (`LEDGER_RETENTION_DAYS`) on a month of ledger, and what it does to the
webhook's commits meanwhile.

Run from the project root: `python bench/ledger_retention.py [--entries 300000] [--postgres]`. Each
database is new and filled by `bench/why_stats.py`'s `fill`: `--entries` ledger entries over 30 days,
with their alerts, tasks, snoozes and totals. Then `Store.forget_ledger_entries(before)` runs once, as
housekeeping runs it, with `before` 15 days ago, so it deletes the older half: the total time, the
entries deleted, its transactions (one per batch) and each one's time. Meanwhile another thread
commits one new inbox row at a time through `Store.ingest`, as the webhook does, on a store of its
own (the web process's) at `--rate` commits a second; the same commits are timed beforehand, with no
deletion running, as the baseline. `outcome_counts()` (the events by outcome `/metrics` reports) must
be the same before and after, since a forgotten entry joins `ledger_totals` in the transaction that
deletes it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.measure import percentile  # noqa: E402
from bench.why_stats import DAY, SPAN_DAYS, database, fill  # noqa: E402
from bot.store.retention import LEDGER_BATCH  # noqa: E402
from testkit.postgres import POSTGRES_URL  # noqa: E402
from testkit.webhook_bodies import activation  # noqa: E402

KEEP_DAYS = 15  # `before` is this long ago: half of the month goes


@dataclass
class Result:
    entries: int = 0
    older: int = 0  # entries decided before `before`
    deleted: int = 0
    held_back: int = 0  # still older than `before` afterwards: a snooze not yet reported holds them
    seconds: float = 0.0
    transactions: list[float] = field(default_factory=list)  # ms, from BEGIN to COMMIT's return
    waits: list[float] = field(default_factory=list)  # ms, queued for the write lock before BEGIN
    during: list[float] = field(default_factory=list)  # ms of each ingest commit during the deletion
    baseline: list[float] = field(default_factory=list)  # ms of the same commits, nothing else running
    counts_before: dict[str, int] = field(default_factory=dict)
    counts_after: dict[str, int] = field(default_factory=dict)


def timed_store_class() -> type:
    """`Store`, with every write transaction timed: how long it waited for the write lock (SQLite's
    `SqliteWriteLock`; nothing on PostgreSQL) and how long it then took until its commit returned.
    Only `forget_ledger_entries` writes through the store it is used for."""
    from bot.store import Store

    class TimedStore(Store):
        transactions: list[tuple[float, float]]

        @contextlib.contextmanager
        def _write(self) -> Iterator[Any]:
            asked = time.perf_counter()
            with super()._write() as conn:
                began = time.perf_counter()
                yield conn
            done = time.perf_counter()
            self.transactions.append(((began - asked) * 1000, (done - began) * 1000))

    return TimedStore


class Ingester(threading.Thread):
    """One new inbox row per commit through `Store.ingest`, every `1 / rate` seconds (at once when a
    commit overran its slot); each commit's time from the call to its return."""

    def __init__(self, store: Any, rate: float):
        super().__init__(name="ingest", daemon=True)
        self.store = store
        self.every_s = 1 / rate
        self.stopping = threading.Event()
        self.samples: list[tuple[float, float]] = []  # (start, ms)
        self.error: BaseException | None = None

    def commit_one(self) -> tuple[float, float]:
        from bot.ingest.webhook_body import WebhookBody
        from bot.store.records import InboxRow

        body = WebhookBody.model_validate(activation(f"co{uuid.uuid4().hex[:8]}.example"))
        row = InboxRow(body.event.uuid, body.event.event, body.stored(), time.time(), uuid.uuid4().hex[:16])
        started = time.perf_counter()
        self.store.ingest([row])
        return started, (time.perf_counter() - started) * 1000

    def run(self) -> None:
        due = time.perf_counter()
        try:
            while not self.stopping.is_set():
                self.samples.append(self.commit_one())
                due += self.every_s
                delay = due - time.perf_counter()
                if delay > 0:
                    self.stopping.wait(delay)
                else:
                    due = time.perf_counter()
        except BaseException as exc:  # reported by the main thread
            self.error = exc

    def stop(self) -> None:
        self.stopping.set()
        self.join()
        if self.error is not None:
            raise self.error


class Checkpointer(threading.Thread):
    """SQLite's write-ahead log copied back every second (PASSIVE), as the worker's heartbeat thread
    does in production (bot/app/heartbeat.py); writers never checkpoint (`wal_autocheckpoint=0`)."""

    def __init__(self, store: Any):
        super().__init__(name="checkpoint", daemon=True)
        self.store = store
        self.stopping = threading.Event()

    def run(self) -> None:
        from bot.app.heartbeat import CHECKPOINT_EVERY_S

        while not self.stopping.wait(CHECKPOINT_EVERY_S):
            self.store.checkpoint()

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def older_than(store: Any, before: float) -> int:
    from sqlalchemy import func, select

    from bot.store.tables import ledger

    with store._read() as conn:
        return int(conn.execute(select(func.count()).where(ledger.c.decided_at < before)).scalar_one())


def measure(url: str, rate: float, baseline_s: float, batch: int, pause_s: float) -> Result:
    from bot.store import Store

    result = Result()
    housekeeper = timed_store_class().from_url(url)  # the worker process's store
    housekeeper.transactions = []
    webhook = Store.from_url(url)  # the web process's
    checkpointer = Checkpointer(housekeeper) if housekeeper.sqlite else None
    try:
        if housekeeper.sqlite:  # from the fill's write-ahead log to a steady state, as VACUUM on PostgreSQL
            conn = housekeeper.engine.raw_connection()
            try:
                conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                conn.close()
            checkpointer.start()
        warm = Ingester(webhook, rate)
        for _ in range(20):  # the connection, the statements, the pages the inbox insert touches
            warm.commit_one()

        ingester = Ingester(webhook, rate)
        ingester.start()
        time.sleep(baseline_s)
        ingester.stop()
        result.baseline = [ms for _, ms in ingester.samples]

        before = time.time() - KEEP_DAYS * DAY
        result.counts_before = housekeeper.outcome_counts()
        result.older = older_than(housekeeper, before)
        ingester = Ingester(webhook, rate)
        ingester.start()
        time.sleep(0.2)
        started = time.perf_counter()
        result.deleted = housekeeper.forget_ledger_entries(before, batch=batch, pause_s=pause_s)
        ended = time.perf_counter()
        time.sleep(0.05)
        ingester.stop()
        result.seconds = ended - started
        result.during = [ms for at, ms in ingester.samples if started <= at < ended]
        if housekeeper.sqlite:  # PostgreSQL has no write lock (what it waited for is a pool checkout)
            result.waits = [w for w, _ in housekeeper.transactions]
        result.transactions = [t for _, t in housekeeper.transactions]
        result.counts_after = housekeeper.outcome_counts()
        result.held_back = older_than(housekeeper, before)
    finally:
        if checkpointer is not None and checkpointer.is_alive():
            checkpointer.stop()
        webhook.dispose()
        housekeeper.dispose()
    return result


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q):.2f}" if values else "-"


def rows_of(r: Result, rate: float) -> list[tuple[str, str, str]]:
    """(metric, value, baseline) for one database."""
    same = r.counts_before == r.counts_after
    check = "identical" if same else f"DIFFER: {r.counts_before} -> {r.counts_after}"
    return [
        ("ledger entries before", f"{r.entries:,}", ""),
        (f"decided over {KEEP_DAYS} days ago", f"{r.older:,}", ""),
        ("entries deleted", f"{r.deleted:,}", ""),
        ("left, held back by an unreported snooze", f"{r.held_back:,}", ""),
        ("forget_ledger_entries total s", f"{r.seconds:.2f}", ""),
        ("deleted / s", f"{r.deleted / r.seconds:,.0f}" if r.seconds else "-", ""),
        ("transactions (batches)", f"{len(r.transactions):,}", ""),
        ("per transaction p50 ms", ms(r.transactions, 50), ""),
        ("per transaction p99 ms", ms(r.transactions, 99), ""),
        ("per transaction max ms", ms(r.transactions, 100), ""),
        ("write lock wait per transaction p99 ms", ms(r.waits, 99) if r.waits else "n/a", ""),
        (f"ingest commits timed (at {rate:g}/s)", f"{len(r.during):,}", f"{len(r.baseline):,}"),
        ("ingest commit p50 ms", ms(r.during, 50), ms(r.baseline, 50)),
        ("ingest commit p95 ms", ms(r.during, 95), ms(r.baseline, 95)),
        ("ingest commit p99 ms", ms(r.during, 99), ms(r.baseline, 99)),
        ("ingest commit max ms", ms(r.during, 100), ms(r.baseline, 100)),
        ("outcome_counts() before = after", check, ""),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entries", type=int, default=300_000, help="ledger entries (default 300,000)")
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--alerts", type=int, default=1_000)
    p.add_argument(
        "--batch", type=int, default=LEDGER_BATCH, help=f"entries per transaction (default {LEDGER_BATCH:,})"
    )
    p.add_argument("--pause", type=float, default=0.01, help="seconds between transactions (default 0.01)")
    p.add_argument("--rate", type=float, default=100.0, help="ingest commits a second (default 100)")
    p.add_argument("--baseline-s", type=float, default=5.0, help="seconds of baseline commits (default 5)")
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    p.add_argument("--postgres-url", default=POSTGRES_URL)
    a = p.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 140)
    databases = ["sqlite"] + (["postgres"] if a.postgres else [])
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    results: dict[str, list[tuple[str, str, str]]] = {}
    same: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="ledger-retention-bench-") as tmp:
        for db in databases:
            with database(db, Path(tmp), a.postgres_url) as url:
                filled = fill(url, a.entries, a.accounts, a.alerts, a.seed)
                console.print(
                    f"[dim]{db}: filled in {filled.seconds:.0f} s: {filled.entries:,} entries, "
                    f"{filled.alerts:,} alerts, {filled.counts}[/dim]"
                )
                result = measure(url, a.rate, a.baseline_s, a.batch, a.pause)
            result.entries = filled.entries
            results[db] = rows_of(result, a.rate)
            same[db] = result.counts_before == result.counts_after
            console.print(
                f"[dim]{db}: deleted {result.deleted:,} in {result.seconds:.1f} s, "
                f"{len(result.transactions)} transactions; ingest p99 {ms(result.during, 99)} ms "
                f"(baseline {ms(result.baseline, 99)} ms)[/dim]"
            )
    table = Table(
        title=f"forget_ledger_entries on {a.entries:,} ledger entries over {SPAN_DAYS} days",
        caption=f"before = {KEEP_DAYS} days ago; batch {a.batch:,}; pause {a.pause * 1000:g} ms",
    )
    table.add_column("metric")
    for db in databases:
        table.add_column(names[db], justify="right")
        table.add_column(f"{names[db]} baseline", justify="right")
    for n, (metric, *_) in enumerate(results[databases[0]]):
        cells = [metric]
        for db in databases:
            cells += list(results[db][n][1:])
        table.add_row(*cells)
    console.print(table)
    console.print(
        "Baseline: the same one-row ingest commits, timed in the same run on the same database with no "
        "deletion running."
    )
    if not all(same.values()):
        console.print("[red]outcome_counts() changed: forgotten entries went missing from the totals[/red]")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
