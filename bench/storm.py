"""Alert storm: 10,000 matching events for 50 accounts in 10 s against `serve` as it runs in production
(web process + worker process, production timings), with a fake Slack that enforces ~1 message per
second per channel by answering 429 with Retry-After.

Prints: events accepted and accounted for in the ledger, alerts per account (at most one per cooldown),
Slack 429s answered and whether any alert was left unposted, time to drain, and the peak RSS of each
process. Run from the project root: `python bench/storm.py [--events N] [--accounts N] [--seconds S]
[--postgres]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench.deliveries import json_bytes, request_bytes  # noqa: E402
from bench.load import Connection, open_connections  # noqa: E402
from bench.measure import proc_rss_mb  # noqa: E402
from testkit.base import Reply  # noqa: E402
from testkit.examples import EXAMPLE_SIGNALS  # noqa: E402
from testkit.postgres import postgres_schema  # noqa: E402
from testkit.processes import ServerProcess, process_spec  # noqa: E402
from testkit.slack import FakeSlack  # noqa: E402
from testkit.webhook_bodies import activation  # noqa: E402


class RateLimitedSlack(FakeSlack):
    """chat.postMessage at most once per `interval_s` per channel; 429 with Retry-After: 1 otherwise.

    Slack allows about one message per second per channel; the default here is stricter than the bot's
    own pacing, so that 429s happen and their handling is measured."""

    def __init__(self, interval_s: float) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.last_post: dict[str, float] = {}
        self.limited = 0

    def api_chat_postMessage(self, args: dict[str, Any]) -> Reply:
        channel = str(args.get("channel"))
        now = time.monotonic()
        with self.lock:
            if now - self.last_post.get(channel, -10.0) < self.interval_s:
                self.limited += 1
                return Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
            self.last_post[channel] = now
        return super().api_chat_postMessage(args)


def serve_processes(pid: int) -> dict[str, int]:
    """The web process and its worker processes (not multiprocessing's resource tracker)."""
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        children = []
    workers = [c for c in children if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]
    return {"web": pid, **{f"worker {n}": c for n, c in enumerate(workers, 1)}}


async def send(server: ServerProcess, events: int, accounts: int, seconds: float) -> tuple[int, int]:
    """Open loop: event i is due at i * seconds / events whatever the server does, on raw keep-alive
    connections (a Python HTTP client could not keep 1,000 requests/s on this machine). A 503 is
    retried after 0.5 s, as PostHog retries; returns (accepted, given up)."""
    requests = [
        request_bytes(
            json_bytes(activation(f"storm{i % accounts}.example.com", distinct_id=f"u{i}")), server.port
        )
        for i in range(events)
    ]
    loop = asyncio.get_running_loop()
    pending: deque[tuple[int, int]] = deque()  # (event index, attempt)
    in_flight: dict[Connection, tuple[int, int]] = {}
    idle: list[Connection] = []
    tally = {"accepted": 0, "failed": 0, "done": 0}
    reconnecting: set[asyncio.Task[None]] = set()

    def dispatch(conn: Connection) -> None:
        if pending:
            in_flight[conn] = pending.popleft()
            conn.send(requests[in_flight[conn][0]])
        else:
            idle.append(conn)

    def on_response(conn: Connection, status: int) -> None:
        index, attempt = in_flight.pop(conn)
        if status == 202:
            tally["accepted"] += 1
            tally["done"] += 1
        elif attempt < 5:
            loop.call_later(0.5, retry, index, attempt + 1)
        else:
            tally["failed"] += 1
            tally["done"] += 1
        dispatch(conn)

    def retry(index: int, attempt: int) -> None:
        pending.append((index, attempt))
        if idle:
            dispatch(idle.pop())

    def on_lost(conn: Connection) -> None:
        """uvicorn closes keep-alive connections idle for 5 s: resend what was in flight, reconnect."""
        if conn in idle:
            idle.remove(conn)
        if conn in in_flight:
            pending.appendleft(in_flight.pop(conn))
        task = loop.create_task(reconnect())
        reconnecting.add(task)
        task.add_done_callback(reconnecting.discard)

    async def reconnect() -> None:
        (conn,) = await open_connections(server.port, 1, on_response, on_lost)
        conns.append(conn)
        dispatch(conn)

    conns = await open_connections(server.port, 64, on_response, on_lost)
    idle.extend(conns)
    start = time.monotonic()
    for index in range(events):
        await asyncio.sleep(max(0.0, start + index * seconds / events - time.monotonic()))
        pending.append((index, 1))
        if idle:
            dispatch(idle.pop())
    while tally["done"] < events:
        await asyncio.sleep(0.01)
    for conn in conns:
        conn.close()  # also stops reconnecting
    return tally["accepted"], tally["failed"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--postgres", action="store_true", help="PostgreSQL at 127.0.0.1:5432 instead of SQLite"
    )
    parser.add_argument(
        "--slack-interval",
        type=float,
        default=1.5,
        help="seconds the fake Slack wants between two messages in a channel (default 1.5)",
    )
    args = parser.parse_args()
    console = Console(width=120)
    with tempfile.TemporaryDirectory(prefix="storm-") as tmp, RateLimitedSlack(args.slack_interval) as slack:
        context = postgres_schema() if args.postgres else None
        url = context.__enter__() if context else f"sqlite:///{tmp}/storm.db"
        spec = process_spec(url, slack.api_url, EXAMPLE_SIGNALS)
        spec["tuning"] = {"heartbeat_s": 1.0, "stale_after_s": 10.0}  # otherwise production timings
        server = ServerProcess(spec, Path(tmp) / "metrics")
        server.start()
        try:
            assert server.proc is not None
            processes = serve_processes(server.proc.pid)
            idle_rss = {name: proc_rss_mb(pid)[0] for name, pid in processes.items()}
            started = time.monotonic()
            accepted, failed = asyncio.run(send(server, args.events, args.accounts, args.seconds))
            sent_in = time.monotonic() - started
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                health = httpx.get(server.url + "/healthz", timeout=5).json()
                if health.get("queue_depth") == 0:
                    break
                time.sleep(0.5)
            drained_in = time.monotonic() - started
            peak_rss = {name: proc_rss_mb(pid)[1] for name, pid in processes.items()}
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            with engine.connect() as conn:
                outcomes = dict(
                    conn.execute(text("SELECT outcome, count(*) FROM ledger GROUP BY outcome")).all()
                )
                alerts = dict(conn.execute(text("SELECT status, count(*) FROM alerts GROUP BY status")).all())
            engine.dispose()
        finally:
            server.kill()
            if context:
                context.__exit__(None, None, None)
        per_account = Counter(m["metadata"]["event_payload"]["account"] for m in slack.posted())
    decided = sum(outcomes.values())
    table = Table(
        title=f"Alert storm: {args.events:,} events for {args.accounts} accounts in {args.seconds:g} s "
        f"({'PostgreSQL' if args.postgres else 'SQLite'}; "
        f"Slack: 1 message per {args.slack_interval:g} s per channel)"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("goal")
    rows = [
        ("events sent / accepted / refused", f"{args.events:,} / {accepted:,} / {failed:,}", "all accepted"),
        ("sending took", f"{sent_in:.1f} s", f"{args.seconds:g} s"),
        ("events in the ledger", f"{decided:,}", "= accepted"),
        ("outcomes", ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items())), ""),
        ("alerts posted / accounts alerted", f"{sum(per_account.values())} / {len(per_account)}", ""),
        ("most alerts for one account", str(max(per_account.values(), default=0)), "1 (24 h cooldown)"),
        ("alerts by status", json.dumps(alerts), "all posted"),
        ("Slack 429 answered (then retried)", str(slack.limited), "none left unposted"),
        ("drained after", f"{drained_in:.1f} s", f"one channel: {args.slack_interval:g} s per alert"),
        *(
            (f"RSS idle before → peak, {name}", f"{idle_rss[name]:.0f} → {mb:.0f} MiB", "peak < 200 MiB")
            for name, mb in peak_rss.items()
        ),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    ok = decided == accepted and max(per_account.values(), default=0) <= 1 and set(alerts) <= {"posted"}
    console.print("[green]every event accounted for, one alert per account[/]" if ok else "[red]see above[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
