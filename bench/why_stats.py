"""`/posthog why` and `/posthog stats` on a database holding a million ledger entries: p50 and p95 of each,
beside two reads every database answers at once (a primary-key read of the ledger, a count of the alerts)
timed in the same run.

Run from the project root: `python bench/why_stats.py [--entries 1000000] [--postgres]`. Each database
is new and filled as a month of production leaves it: `--entries` ledger entries over 30 days, every one
an event some signal listens to (events no signal wants are only counted, in `ledger_totals`), decided
by 10 signals over 7 event names, for `--accounts` companies whose activity follows Zipf's law (a few
busy accounts, a long tail), with their people, people without a company and events without an account;
a few thousand of those events alerted, and people made tasks of, snoozed and dismissed some of the
alerts. The fill writes rows as the worker's commit writes them, in large multi-row batches.

`why` is timed through `bot.commands.why.account_story` and `why_message`, as the slash command runs
them (ledger story, account state, enrichment, score), for the busiest company's domain, a typical
company's domain, an email and a distinct id; `stats` through `signal_stats` and `stats_message` for 7
and 30 days.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.measure import percentile  # noqa: E402
from testkit.examples import EXAMPLE_SIGNALS  # noqa: E402
from testkit.postgres import POSTGRES_URL, postgres_schema  # noqa: E402

DAY = 86_400.0
SPAN_DAYS = 30
# (signal, event, threshold signal): the example file's five and five more, several on one event name,
# so an entry names one to three signals.
SIGNALS = (
    ("Trial finished onboarding", "onboarding_completed", False),
    ("API integration activated", "feature_activated", False),
    ("Warehouse connected", "feature_activated", False),
    ("SSO configured", "feature_activated", False),
    ("Team invited", "invite_sent", False),
    ("Reports are spreading", "report_shared", True),
    ("Looked at pricing", "pricing_viewed", False),
    ("Dashboards built", "dashboard_created", True),
    ("Seats added", "subscription_updated", False),
    ("Plan upgraded", "subscription_updated", False),
)
EVENTS = {  # how often each event name arrives
    "onboarding_completed": 3,
    "feature_activated": 30,
    "invite_sent": 8,
    "report_shared": 15,
    "pricing_viewed": 20,
    "dashboard_created": 20,
    "subscription_updated": 4,
}
REASONS = {
    "filtered": "needs properties.plan is trial (got 'team')",
    "below_threshold": "ICP score {score} is below 50",
    "cooldown": "this account already had this alert within its 7d cooldown",
    "accumulating": "2 of 5 {event} in 7d",
    "snoozed": "account snoozed until Wed 3 Dec 10:00 UTC",
    "no_account": "no company_domain, company group, work email or distinct_id",
}
OUTCOMES = ("filtered", "below_threshold", "cooldown", "snoozed")
OUTCOME_WEIGHTS = (45, 30, 24, 1)
PRECEDENCE = ("alerted", "cooldown", "snoozed", "accumulating", "below_threshold", "no_account", "filtered")
LEDGER_COLUMNS = (
    "event_uuid",
    "event_name",
    "distinct_id",
    "account",
    "outcome",
    "signals",
    "event_time",
    "decided_at",
    "request_id",
)
FEEDBACK = ("wrong_fit", "already_working", "bad_data", "other")


@dataclass
class Filled:
    seconds: float = 0.0
    entries: int = 0
    alerts: int = 0
    busiest: str = ""
    busiest_entries: int = 0
    typical: str = ""
    typical_entries: int = 0
    email: str = ""
    distinct_id: str = ""
    sample_uuid: str = ""
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class People:
    """An account's people: distinct ids, some of them the person's email."""

    account: str | None
    ids: list[str]


def population(rng: random.Random, accounts: int) -> tuple[list[People], list[float]]:
    """Companies (the first is acme.com, which the example companies file knows, and the busiest)
    with people in proportion to their activity, then people without a company (free mail, account
    `person:<id>`); and each one's share of the events (Zipf, s = 1)."""
    found: list[People] = []
    weights: list[float] = []
    companies = accounts - accounts // 20
    for rank in range(companies):
        domain = "acme.com" if rank == 0 else f"co{rank}.example"
        size = max(1, min(300, int(3000 / (rank + 1))))
        ids = [
            f"user{rank}-{n}@{domain}" if n % 3 == 0 else str(uuid.UUID(int=rng.getrandbits(128), version=4))
            for n in range(size)
        ]
        found.append(People(domain, ids))
        weights.append(1.0 / (rank + 1))
    for n in range(accounts - companies):
        person = f"person{n}@gmail.com" if n % 2 else str(uuid.UUID(int=rng.getrandbits(128), version=4))
        found.append(People(f"person:{person}", [person]))
        weights.append(1.0 / (companies // 2 + n + 1))
    return found, weights


def decisions_of(
    rng: random.Random, event: str, account: str | None, alert_id: str | None, score: int, snoozed: bool
) -> tuple[str, list[dict[str, Any]]]:
    """What the signals on `event` decided, as the ledger's JSON holds it, and the entry's outcome;
    while the account is `snoozed`, every signal its event passed says so."""
    made: list[dict[str, Any]] = []
    for n, (name, on, threshold) in enumerate(s for s in SIGNALS if s[1] == event):
        if account is None:
            made.append({"signal": name, "outcome": "no_account", "reason": REASONS["no_account"]})
            continue
        if alert_id is not None and n == 0:
            made.append(
                {
                    "signal": name,
                    "outcome": "alerted",
                    "reason": "routed to C0SIGNALS",
                    "score": score,
                    "alert_id": alert_id,
                    "channel": "C0SIGNALS",
                }
            )
            continue
        outcome = rng.choices(OUTCOMES, OUTCOME_WEIGHTS)[0]
        if snoozed and outcome != "filtered":
            outcome = "snoozed"
        if threshold and outcome == "below_threshold" and rng.random() < 0.5:
            outcome = "accumulating"
        decision: dict[str, Any] = {
            "signal": name,
            "outcome": outcome,
            "reason": REASONS[outcome].format(score=score, event=on),
        }
        if outcome != "filtered":
            decision["score"] = score
        made.append(decision)
    present = {d["outcome"] for d in made}
    return next(o for o in PRECEDENCE if o in present), made


def fill(url: str, entries: int, accounts: int, alerts_wanted: int, seed: int) -> Filled:
    """A month of a busy project, in the tables the app keeps."""
    from sqlalchemy import insert

    from bot.store import Store
    from bot.store.stats import hour_of, stored_signal
    from bot.store.tables import alerts, feedback, ledger_totals, snoozes, tasks

    started = time.perf_counter()
    rng = random.Random(seed)
    store = Store.from_url(url)
    filled = Filled(entries=entries)
    try:
        store.upgrade()
        people, weights = population(rng, accounts)
        cumulative = _cumulative(weights)
        total = cumulative[-1]
        names, name_weights = list(EVENTS), list(EVENTS.values())
        now = time.time()
        start = now - SPAN_DAYS * DAY
        step = SPAN_DAYS * DAY / entries
        alerting = set(rng.sample(range(entries), alerts_wanted))
        snooze = (now - 7 * DAY - 2 * 3600, now - 2 * 3600)  # the busiest account's, a week long
        scores = {p.account: rng.randint(10, 95) for p in people}
        per_account: dict[str | None, int] = {}
        alert_rows: list[dict[str, Any]] = []
        batch: list[tuple[Any, ...]] = []
        counts: Counter[tuple[int, str]] = Counter()
        writer = _ledger_writer(store)
        message = orjson.dumps(
            {"text": "x" * 300, "blocks": [{"type": "section", "text": "y" * 900}]}
        ).decode()
        for n in range(entries):
            who = people[min(bisect.bisect(cumulative, rng.random() * total), len(people) - 1)]
            account = who.account if rng.random() > 0.02 else None  # no company, no email: no account
            distinct_id = rng.choice(who.ids)
            event = rng.choices(names, name_weights)[0]
            if account is None or account.startswith("person:"):
                event = "pricing_viewed" if event == "subscription_updated" else event
            decided_at = start + (n + rng.random()) * step
            event_time = decided_at - rng.uniform(0.05, 5.0)
            event_uuid = str(uuid.uuid4())
            alert_id = uuid.uuid4().hex if n in alerting and account is not None else None
            score = scores.get(account, 30) if account else 0
            snoozed = account == people[0].account and snooze[0] <= decided_at < snooze[1]
            outcome, made = decisions_of(rng, event, account, None if snoozed else alert_id, score, snoozed)
            alert_id = None if snoozed else alert_id
            batch.append(
                (
                    event_uuid,
                    event,
                    distinct_id,
                    account,
                    outcome,
                    orjson.dumps(made).decode(),
                    event_time,
                    decided_at,
                    uuid.uuid4().hex[:16],
                )
            )
            per_account[account] = per_account.get(account, 0) + 1
            counts.update({(hour_of(decided_at), stored_signal(d["signal"])) for d in made})
            if alert_id is not None:
                alert_rows.append(
                    _alert_row(alert_id, event_uuid, made[0]["signal"], account, score, decided_at, message)
                )
            if len(batch) == 20_000:
                writer(batch, counts)
                batch, counts = [], Counter()
            if n == entries // 2:
                filled.sample_uuid = event_uuid
        if batch:
            writer(batch, counts)
        with store._write() as conn:
            conn.execute(insert(alerts), alert_rows)
            task_rows, feedback_rows, snooze_rows = _reactions(rng, alert_rows, now)
            # The busiest account's snooze ended two hours ago; its next alert will say what it held
            # back, so until then `why` (and the worker) count that.
            snooze_rows.append(
                {
                    "id": uuid.uuid4().hex,
                    "account": people[0].account,
                    "until": snooze[1],
                    "snoozed_by": "U0AE1",
                    "created_at": snooze[0],
                    "alert_id": None,
                    "reported": 0,
                }
            )
            if task_rows:
                conn.execute(insert(tasks), task_rows)
            if feedback_rows:
                conn.execute(insert(feedback), feedback_rows)
            if snooze_rows:
                conn.execute(insert(snoozes), snooze_rows)
            totals = [
                {
                    "minute": int(start) // 60 * 60 + 60 * m,
                    "event_name": name,
                    "outcome": "filtered",
                    "count": 40,
                }
                for m in range(0, SPAN_DAYS * 1440, 5)
                for name in ("$pageview", "$autocapture", "$pageleave")
            ]
            conn.execute(insert(ledger_totals), totals)
        if not store.sqlite:  # autovacuum's steady state: statistics and visibility maps
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        companies = sorted(
            ((n, a) for a, n in per_account.items() if a and not a.startswith("person:")), reverse=True
        )
        filled.busiest_entries, filled.busiest = companies[0]
        filled.typical_entries, filled.typical = companies[len(companies) // 2]
        acme = people[0]
        filled.email = next(i for i in acme.ids if "@" in i)
        filled.distinct_id = next(i for i in people[1].ids if "@" not in i)
        filled.alerts = len(alert_rows)
        filled.counts = {"tasks": len(task_rows), "feedback": len(feedback_rows), "snoozes": len(snooze_rows)}
    finally:
        store.dispose()
    filled.seconds = time.perf_counter() - started
    return filled


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _ledger_writer(store: Any) -> Callable[[list[tuple[Any, ...]], Counter[tuple[int, str]]], None]:
    """Ledger rows and what they add to `signal_hours`, in one transaction per batch, as the worker
    commits them: the rows by executemany on SQLite and `unnest` over arrays on PostgreSQL
    (bot/store/bulk.py's way), the counts by the store's own upsert."""
    from bot.store.stats import add_signal_events

    columns = ", ".join(LEDGER_COLUMNS)
    if store.sqlite:
        sql = f"INSERT INTO ledger ({columns}) VALUES ({', '.join('?' * len(LEDGER_COLUMNS))})"
    else:
        types = ["text"] * 6 + ["float8", "float8", "text"]
        arrays = ", ".join(f"%s::{t}[]" for t in types)
        sql = f"INSERT INTO ledger ({columns}) SELECT * FROM unnest({arrays})"

    def write(rows: list[tuple[Any, ...]], counts: Counter[tuple[int, str]]) -> None:
        with store._write() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            if store.sqlite:
                cursor.executemany(sql, rows)
            else:
                cursor.execute(sql, [list(c) for c in zip(*rows, strict=True)])
            cursor.close()
            add_signal_events(conn, store._insert, counts)

    return write


def _alert_row(
    alert_id: str, event_uuid: str, signal: str, account: str, score: int, at: float, message: str
) -> dict[str, Any]:
    return {
        "id": alert_id,
        "event_uuid": event_uuid,
        "signal": signal,
        "account": account,
        "channel": "C0SIGNALS",
        "owner": None,
        "score": score,
        "message": message,
        "status": "posted",
        "ts": f"{at:.6f}",
        "posted_channel": "C0SIGNALS",
        "attempts": 1,
        "next_attempt_at": 0.0,
        "claimed_by": None,
        "lease_until": None,
        "sending_since": None,
        "received_at": at - 1,
        "created_at": at,
        "posted_at": at + 1,
        "request_id": "bench",
        "error": None,
        "details": message,
        "state": "{}",
        "thread_of": None,
        "digest_id": None,
        "auto_task": 0,
    }


def _reactions(
    rng: random.Random, alert_rows: list[dict[str, Any]], now: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Tasks (clicked and automatic) on a quarter of the alerts, "not relevant" on a sixth, snoozes
    on one in twenty: some from the alert's message (its state), most as snoozes rows."""
    task_rows, feedback_rows, snooze_rows = [], [], []
    for row in alert_rows:
        at = row["created_at"]
        roll = rng.random()
        if roll < 0.25:
            task_rows.append(
                {
                    "alert_id": row["id"],
                    "status": "created" if rng.random() < 0.95 else "failed",
                    "uncertain": 0,
                    "attempt_at": at + 600,
                    "requested_by": "auto" if rng.random() < 0.2 else f"U0AE{rng.randint(1, 9)}",
                    "crm": "store",
                    "crm_id": None,
                    "url": None,
                    "subject": "Follow up",
                    "body": "Follow up on the alert",
                    "due_at": at + 2 * DAY,
                    "owner": None,
                    "created_at": at + 601,
                    "error": None,
                }
            )
        elif roll < 0.42:
            feedback_rows.append(
                {
                    "alert_id": row["id"],
                    "reason": rng.choice(FEEDBACK),
                    "text": None,
                    "user_id": f"U0AE{rng.randint(1, 9)}",
                    "created_at": at + 900,
                }
            )
        elif roll < 0.47:
            if rng.random() < 0.3:
                row["state"] = orjson.dumps({"snooze": {"until": at + 7 * DAY, "by": "U0AE1"}}).decode()
            snooze_rows.append(
                {
                    "id": uuid.uuid4().hex,
                    "account": row["account"],
                    "until": at + 7 * DAY,
                    "snoozed_by": "U0AE1",
                    "created_at": at + 300,
                    "alert_id": row["id"],
                    "reported": 1 if at + 7 * DAY < now else 0,
                }
            )
    return task_rows, feedback_rows, snooze_rows


# -- measuring -----------------------------------------------------------------------------------------
def timed(fn: Callable[[], Any], repeat: int, warmup: int = 2, budget_s: float = 60.0) -> list[float]:
    """Milliseconds of `repeat` calls after `warmup` unmeasured ones; fewer when `budget_s` runs out."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
        if time.perf_counter() > deadline:
            break
    return samples


def measure(url: str, filled: Filled, repeat: int) -> list[tuple[str, list[float]]]:
    import httpx
    from sqlalchemy import func, select

    from bot.commands.why import account_story, target_of
    from bot.config.signals_file import load_signals
    from bot.decide.enrich import Enricher
    from bot.ops.metrics import Metrics
    from bot.slack.blocks.stats import stats_message
    from bot.slack.blocks.why import why_message
    from bot.store import Store
    from bot.store.tables import alerts, ledger

    config = load_signals(EXAMPLE_SIGNALS)
    store = Store.from_url(url)
    loop = asyncio.new_event_loop()
    http = httpx.AsyncClient()
    enricher = Enricher(config.enrichment, store, http, Metrics())
    results: list[tuple[str, list[float]]] = []

    def read(stmt: Any) -> Callable[[], Any]:
        def run() -> Any:
            with store._read() as conn:
                return conn.execute(stmt).all()

        return run

    def why(text: str) -> Callable[[], Any]:
        target = target_of(text)

        def run() -> Any:
            story = loop.run_until_complete(account_story(target, config, store, enricher))
            return why_message(story)

        return run

    def stats(days: int) -> Callable[[], Any]:
        def run() -> Any:
            return stats_message(store.signal_stats(time.time() - days * DAY), days)

        return run

    try:
        cases: list[tuple[str, Callable[[], Any]]] = [
            (
                "baseline: ledger row by primary key",
                read(select(ledger).where(ledger.c.event_uuid == filled.sample_uuid)),
            ),
            ("baseline: SELECT count(*) FROM alerts", read(select(func.count()).select_from(alerts))),
            (f"why {filled.busiest} (busiest, {filled.busiest_entries:,} entries)", why(filled.busiest)),
            (f"why {filled.typical} (typical, {filled.typical_entries:,} entries)", why(filled.typical)),
            (f"why {filled.email} (email)", why(filled.email)),
            (f"why {filled.distinct_id} (distinct id)", why(filled.distinct_id)),
            ("stats 7d", stats(7)),
            ("stats 30d", stats(30)),
        ]
        for label, fn in cases:
            results.append((label, timed(fn, repeat)))
    finally:
        loop.run_until_complete(http.aclose())
        loop.close()
        store.dispose()
    return results


@contextlib.contextmanager
def database(kind: str, folder: Path, pg_url: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'why-stats.db'}"
        return
    with postgres_schema(pg_url) as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entries", type=int, default=1_000_000, help="ledger entries (default 1,000,000)")
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--alerts", type=int, default=3_000)
    p.add_argument("--repeat", type=int, default=30, help="timed calls of each query (default 30)")
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    p.add_argument("--postgres-url", default=POSTGRES_URL)
    a = p.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 140)
    databases = ["sqlite"] + (["postgres"] if a.postgres else [])
    table = Table(
        title=f"why and stats: {a.entries:,} ledger entries over {SPAN_DAYS} days, {a.accounts:,} accounts"
    )
    for col in ("database", "query", "p50 ms", "p95 ms", "p50 x baseline", "runs"):
        table.add_column(col, justify="left" if col in ("database", "query") else "right")
    with tempfile.TemporaryDirectory(prefix="why-stats-bench-") as tmp:
        for db in databases:
            with database(db, Path(tmp), a.postgres_url) as url:
                filled = fill(url, a.entries, a.accounts, a.alerts, a.seed)
                console.print(
                    f"[dim]{db}: filled in {filled.seconds:.0f} s: {filled.entries:,} entries, "
                    f"{filled.alerts:,} alerts, {filled.counts}[/dim]"
                )
                results = measure(url, filled, a.repeat)
            baseline = percentile(results[0][1], 50)
            for label, samples in results:
                p50, p95 = percentile(samples, 50), percentile(samples, 95)
                table.add_row(
                    db, label, f"{p50:.2f}", f"{p95:.2f}", f"{p50 / baseline:,.0f}x", str(len(samples))
                )
                console.print(f"[dim]{db}: {label}: p50 {p50:.2f} ms, p95 {p95:.2f} ms[/dim]")
    console.print(table)
    console.print("Goal: why and stats under 100 ms at p95.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
