"""Restart gap under load: how long `python -m bot serve` takes to exit after SIGTERM and, started again,
to answer `/healthz`, while `wrk` keeps 32 connections busy with PostHog deliveries (95% events no
signal wants, 5% matching ones, so the worker has work in flight when the signal comes).

A bare uvicorn app (parse the JSON, answer 202) restarted the same way in the same run is the
baseline. A probe sends one delivery every 20 ms on a new connection throughout and records what
happened to it: answered, refused (nothing listening) or failed.

Run from the project root: `python bench/restart.py [--cycles 3] [--postgres]`. Needs wrk
(`apt-get install wrk`). It prints figures and never fails on a missed goal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.deliveries import filtered_bodies, matching_bodies, request_bytes  # noqa: E402
from bench.load import write_wrk_script  # noqa: E402
from testkit.examples import EXAMPLE_SIGNALS  # noqa: E402
from testkit.postgres import POSTGRES_URL, postgres_schema  # noqa: E402
from testkit.slack import SIGNING_SECRET, TOKEN, FakeSlack  # noqa: E402
from testkit.webhook_bodies import WEBHOOK_SECRET  # noqa: E402

BARE_SERVER = """
import sys
sys.path.insert(0, {root!r})
import uvicorn
from bench.servers import bare_app
uvicorn.run(bare_app(), host="127.0.0.1", port={port}, access_log=False, log_config=None)
"""


@dataclass
class Cycle:
    exit_s: float
    start_s: float


@dataclass
class Probe:
    """One delivery every `every_s` on a new connection; what happened to each, and when."""

    port: int
    body: bytes
    every_s: float = 0.02
    results: list[tuple[float, str, float]] = field(default_factory=list)  # (sent at, outcome, took)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    async def _one(self) -> None:
        sent = time.monotonic()
        outcome = "failed"
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 10)
            writer.write(request_bytes(self.body, self.port))
            line = await asyncio.wait_for(reader.readline(), 10)
            outcome = "answered" if line[9:12] in (b"202", b"200") else f"status {line[9:12].decode()}"
            writer.close()
        except ConnectionRefusedError:
            outcome = "refused"
        except (OSError, TimeoutError):
            outcome = "failed"
        self.results.append((sent, outcome, time.monotonic() - sent))

    async def _run(self) -> None:
        pending: set[asyncio.Task[None]] = set()
        while not self._stop.is_set():
            task = asyncio.create_task(self._one())
            pending.add(task)
            task.add_done_callback(pending.discard)
            await asyncio.sleep(self.every_s)
        await asyncio.gather(*pending)


def _healthy(port: int) -> bool:
    with (
        contextlib.suppress(OSError),
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=0.5) as resp,
    ):
        return bool(resp.status == 200)
    return False


class Subject:
    """A server command started and SIGTERMed as a process manager does."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log: Path):
        self.name, self.argv, self.env, self.port, self.log = name, argv, env, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start it; seconds until `/healthz` answers 200."""
        started = time.monotonic()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True
            )
        while not _healthy(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log}")
            time.sleep(0.005)
        return time.monotonic() - started

    def stop(self) -> float:
        """SIGTERM to its process group; seconds until the process is gone."""
        assert self.proc is not None
        started = time.monotonic()
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(60)
        return time.monotonic() - started


def measure(subject: Subject, cycles: int, workdir: Path) -> tuple[list[Cycle], Probe, str]:
    bodies = filtered_bodies() * 19 + matching_bodies()[:5]  # about 95% / 5%
    script = workdir / f"wrk-{subject.name}.lua"
    write_wrk_script(bodies, subject.port, script)
    subject.start()
    duration = 3 + cycles * 6
    wrk = subprocess.Popen(
        ["wrk", "-t1", "-c32", f"-d{duration}s", "--timeout", "5s", "-s", str(script),
         f"http://127.0.0.1:{subject.port}/posthog/webhook"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    probe = Probe(subject.port, bodies[0])
    probe.start()
    time.sleep(3)
    results = []
    for _ in range(cycles):
        exit_s = subject.stop()
        start_s = subject.start()
        results.append(Cycle(exit_s, start_s))
        time.sleep(3)
    wrk_out = wrk.communicate()[0].decode(errors="replace")
    probe.stop()
    subject.stop()
    return results, probe, wrk_out


def summarise(probe: Probe) -> dict[str, object]:
    outcomes = Counter(outcome for _, outcome, _ in probe.results)
    waits = [took for _, outcome, took in probe.results if outcome == "answered"]
    return {
        "probes": sum(outcomes.values()),
        "refused": outcomes["refused"],
        "other": {k: v for k, v in outcomes.items() if k not in ("answered", "refused")},
        "slowest answer": max(waits, default=0.0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="run serve on PostgreSQL instead of SQLite")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    opts = parser.parse_args()
    if not shutil.which("wrk"):
        print("bench/restart.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="restart-bench-"))
    rows = []
    with FakeSlack() as slack, contextlib.ExitStack() as stack:
        database = f"sqlite:///{workdir / 'signals.db'}"
        if opts.postgres:
            database = stack.enter_context(postgres_schema(opts.postgres_url))
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "POSTHOG_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": database,
            "SIGNALS_CONFIG": str(EXAMPLE_SIGNALS),
            "LOG_LEVEL": "WARNING",
            "TMPDIR": str(workdir),
            "PYTHONPATH": str(ROOT),
        }
        subjects = [
            Subject("bare uvicorn app", [sys.executable, "-c", BARE_SERVER.format(root=str(ROOT), port=3201)],
                    env, 3201, workdir / "bare.log"),
            Subject("serve", [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", "3202"],
                    env, 3202, workdir / "serve.log"),
        ]  # fmt: skip
        for subject in subjects:
            cycles, probe, wrk_out = measure(subject, opts.cycles, workdir)
            rows.append((subject.name, cycles, summarise(probe), wrk_out))

    table = Table(title=f"Restart under load ({'PostgreSQL' if opts.postgres else 'SQLite'}, wrk -c32)")
    columns = ("", "exit after SIGTERM", "start to /healthz", "probes refused", "other", "slowest probe")
    for column in columns:
        table.add_column(column, justify="right")
    for name, cycles, probe, _ in rows:
        exits = [c.exit_s for c in cycles]
        starts = [c.start_s for c in cycles]
        table.add_row(
            name,
            f"{statistics.median(exits):.2f} s (max {max(exits):.2f})",
            f"{statistics.median(starts):.2f} s (max {max(starts):.2f})",
            f"{probe['refused']} of {probe['probes']}",
            ", ".join(f"{n} {kind}" for kind, n in probe["other"].items()) or "none",
            f"{probe['slowest answer']:.2f} s",
        )
    console.print(table)
    console.print(f"{opts.cycles} restarts each; a probe every 20 ms on a new connection. Logs in {workdir}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
