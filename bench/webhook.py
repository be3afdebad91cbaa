"""Webhook benchmark: throughput, ack latency and webhook-to-Slack latency of `POST /posthog/webhook`.

Run from the project root:  python bench/webhook.py            (about 85 s)
                            python bench/webhook.py --quick    (about 35 s)
                            python bench/webhook.py --postgres (adds PostgreSQL rows, about 130 s)

Every server (a bare Starlette endpoint as the machine's baseline, and the real app) runs in its own
process under uvicorn with the app's options (httptools, uvloop, no access log; the app also with the
connection bounds `serve` runs it with); load comes from this
process (raw asyncio keep-alive connections) or from `wrk` when it is installed. The script prints
figures and never asserts: see bench/README.md for what each one means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/webhook.py` puts bench/ first, not the project
    sys.path.insert(0, str(ROOT))

from bench.deliveries import filtered_bodies, matching_bodies, mixed_bodies  # noqa: E402
from bench.load import closed_loop, open_loop, webhook_to_slack, wrk_closed_loop  # noqa: E402
from bench.measure import LoadResult, proc_rss_mb  # noqa: E402
from bench.report import report  # noqa: E402
from bench.servers import Server, app_spec, run_server  # noqa: E402
from testkit.postgres import POSTGRES_URL, postgres_schema  # noqa: E402

MIXES = ("match", "filtered", "half", "mixed")
THROUGHPUT_MIXES = ("match", "filtered", "mixed")  # each gets a throughput row, per database


@dataclass
class Options:
    quick: bool
    duration: float
    warmup: float
    connections: int
    latency_rate: float
    latency_duration: float
    latency_mixes: list[str]
    phases: list[str]
    slack_samples: int
    channel_interval: float | None
    postgres: bool
    postgres_url: str
    loadgen: str
    log_level: str
    json_path: str | None
    keep: bool
    workdir: str | None
    py_spy: str | None


def _choices(text: str, allowed: tuple[str, ...], parser: argparse.ArgumentParser) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    for item in items:
        if item not in allowed:
            parser.error(f"{item!r} is not one of {', '.join(allowed)}")
    return items


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short windows (about 35 s in all)")
    p.add_argument("--duration", type=float, help="seconds per throughput window (default 8, quick 3)")
    p.add_argument("--warmup", type=float, help="seconds of load before each window (default 1)")
    p.add_argument("--connections", type=int, default=50, help="keep-alive connections (default 50)")
    p.add_argument("--latency-rate", type=float, default=1000.0, help="open-loop requests/s (default 1000)")
    p.add_argument("--latency-duration", type=float, help="seconds at that rate (default 10, quick 4)")
    p.add_argument(
        "--latency-mix",
        default="filtered,match",
        help="comma-separated event mixes for the latency run, one run each: match (every event matches "
        "a signal; 1,000 accounts), filtered (none does), half (half and half), mixed (95%% $pageview, "
        "5%% matching events for 20 accounts); default filtered,match",
    )
    p.add_argument(
        "--phases",
        default="throughput,latency,slack",
        help="comma-separated subset of throughput,latency,slack (default: all)",
    )
    p.add_argument("--slack-samples", type=int, help="alerts timed webhook->Slack (default 30, quick 10)")
    p.add_argument(
        "--channel-interval",
        type=float,
        help="override Tuning.channel_interval_s (per-channel pacing) for the Slack run; "
        "default: the app's own (1 s), with events spaced so that it never delays one",
    )
    p.add_argument("--postgres", action="store_true", help="also run the app on PostgreSQL")
    p.add_argument("--postgres-url", default=POSTGRES_URL)
    p.add_argument(
        "--loadgen",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="throughput load generator: wrk when installed (auto), or the built-in asyncio one",
    )
    p.add_argument("--log-level", default="INFO", help="the app's LOG_LEVEL (default INFO, as in production)")
    p.add_argument("--json", dest="json_path", help="also write the figures to this JSON file")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (databases, server logs)")
    p.add_argument("--workdir", help="where the SQLite files go (default: a new temporary folder)")
    p.add_argument(
        "--py-spy",
        metavar="DIR",
        help="record a py-spy flame graph (GIL holders, all threads) of the app in each throughput window",
    )
    a = p.parse_args(argv)
    quick = a.quick
    return Options(
        quick=quick,
        duration=a.duration or (3.0 if quick else 8.0),
        warmup=a.warmup if a.warmup is not None else (0.5 if quick else 1.0),
        connections=a.connections,
        latency_rate=a.latency_rate,
        latency_duration=a.latency_duration or (4.0 if quick else 10.0),
        latency_mixes=_choices(a.latency_mix, tuple(MIXES), p),
        phases=_choices(a.phases, ("throughput", "latency", "slack"), p),
        slack_samples=a.slack_samples or (10 if quick else 30),
        channel_interval=a.channel_interval,
        postgres=a.postgres,
        postgres_url=a.postgres_url,
        loadgen=a.loadgen,
        log_level=a.log_level,
        json_path=a.json_path,
        keep=a.keep,
        workdir=a.workdir,
        py_spy=a.py_spy,
    )


class Bench:
    def __init__(self, opts: Options, workdir: Path, console: Any):
        self.opts = opts
        self.workdir = workdir
        self.console = console
        self.results: dict[str, Any] = {}
        wrk = shutil.which("wrk")
        if opts.loadgen == "wrk" and not wrk:
            raise SystemExit("--loadgen wrk: wrk is not installed (apt-get install wrk)")
        self.use_wrk = bool(wrk) and opts.loadgen != "python"

    def say(self, text: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')} {text}[/dim]")

    async def throughput(self, server: Server, bodies: list[bytes], label: str) -> LoadResult:
        o = self.opts
        spy = None
        if o.py_spy and server.kind == "app":
            spy = self.start_py_spy(server, label)
        if self.use_wrk:
            result = await wrk_closed_loop(server, bodies, o.connections, o.warmup, o.duration, self.workdir)
        else:
            result = await closed_loop(server, bodies, o.connections, o.warmup, o.duration)
        if spy is not None:
            await spy
        return result

    def start_py_spy(self, server: Server, label: str) -> asyncio.Task[None] | None:
        """Samples the app (threads holding the GIL) through the measured window."""
        if not self.opts.py_spy:
            return None
        if not shutil.which("py-spy"):
            self.say("py-spy is not installed (pip install py-spy): no profile")
            return None
        out = Path(self.opts.py_spy) / f"{label}.svg"
        out.parent.mkdir(parents=True, exist_ok=True)
        args = ["record", "-p", str(server.pid), "--gil", "--threads", "-r", "100"]
        args += ["-d", str(max(1, int(self.opts.duration))), "-o", str(out)]
        self.say(f"py-spy: {out}")

        async def record() -> None:
            await asyncio.sleep(self.opts.warmup)
            proc = await asyncio.create_subprocess_exec(
                "py-spy", *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            await proc.wait()

        return asyncio.create_task(record())

    def app(self, label: str, database: str, fakes: tuple[Any, Any], **tuning: Any) -> Any:
        slack, posthog = fakes
        if database == "sqlite":
            url = f"sqlite:///{self.workdir / f'{label}.db'}"
            spec = app_spec(url, self.opts.log_level, slack.api_url, posthog.url, **tuning)
            return run_server("app", spec, self.workdir)

        @contextlib.contextmanager
        def pg() -> Iterator[Server]:
            with postgres_schema(self.opts.postgres_url) as url:
                spec = app_spec(url, self.opts.log_level, slack.api_url, posthog.url, **tuning)
                with run_server("app", spec, self.workdir) as server:
                    yield server

        return pg()

    async def run(self) -> None:
        from testkit.posthog import FakePostHog
        from testkit.slack import FakeSlack

        o = self.opts
        match, filtered = matching_bodies(), filtered_bodies()
        self.results["body_bytes"] = round(statistics.mean(len(b) for b in match + filtered))
        mixes = {
            "match": match,
            "filtered": filtered,
            "half": [*match[:10], *filtered[:10]],
            "mixed": mixed_bodies(),
        }
        gen = "wrk" if self.use_wrk else "python"
        databases = ["sqlite"] + (["postgres"] if o.postgres else [])

        if "throughput" in o.phases:
            await self.bare("before")

        with FakeSlack() as slack, FakePostHog() as posthog:
            fakes = (slack, posthog)
            if "throughput" in o.phases:
                for db in databases:
                    for mix in THROUGHPUT_MIXES:
                        self.say(
                            f"throughput: app on {db}, {mix} events ({gen}, {o.connections} connections)"
                        )
                        with self.app(f"thr-{db}-{mix}", db, fakes) as server:
                            result = await self.throughput(server, mixes[mix], f"app-{db}-{mix}")
                            result.extra["backlog_after"] = server.health().get("queue_depth")
                            self.results[("throughput", db, mix)] = result
                await self.bare("after")

            if "latency" in o.phases:
                for db in databases:
                    for mix in o.latency_mixes:
                        self.say(
                            f"latency: app on {db}, {mix} events, {o.latency_rate:.0f} req/s open loop "
                            f"for {o.latency_duration:g}s"
                        )
                        with self.app(f"lat-{db}-{mix}", db, fakes) as server:
                            result = await open_loop(
                                server, mixes[mix], o.latency_rate, o.warmup, o.latency_duration
                            )
                            result.extra["backlog_after"] = server.health().get("queue_depth")
                            self.results[("latency", db, mix)] = result

            if "slack" in o.phases:
                await self.slack_phase(slack, fakes)

    async def bare(self, when: str) -> None:
        """The machine's baseline, measured before and after the app so that drift shows."""
        gen = "wrk" if self.use_wrk else "python"
        self.say(
            f"baseline ({when} the app): bare Starlette endpoint ({gen}, {self.opts.connections} connections)"
        )
        with run_server("bare", {}, self.workdir) as server:
            self.results[("bare", when)] = await self.throughput(server, matching_bodies(), f"bare-{when}")

    async def slack_phase(self, slack: Any, fakes: tuple[Any, Any]) -> None:
        o = self.opts
        tuning: dict[str, Any] = {}
        channels = 2  # alert_body alternates C0SIGNALS and C0EMEA
        interval = 1.0  # Tuning.channel_interval_s default
        if o.channel_interval is not None:
            tuning["channel_interval_s"] = interval = o.channel_interval
        # Each channel sees one alert every 1.2 x its pacing interval, so pacing never delays one.
        per_channel_gap = interval * 1.2 if interval > 0 else 0.2
        spacing = max(0.05, per_channel_gap / channels)
        self.say(
            f"webhook->Slack: {o.slack_samples} alerts, one every {spacing:.2f}s "
            f"over {channels} channels (channel_interval_s={interval:g})"
        )
        with self.app("slack", "sqlite", fakes, **tuning) as server:
            run = uuid.uuid4().hex[:6]
            lat, acks, missing = await webhook_to_slack(server, slack, o.slack_samples, spacing, run)
            rss, _ = proc_rss_mb(server.pid)
        self.results["slack"] = {
            "latencies_ms": lat,
            "acks_ms": acks,
            "missing": missing,
            "spacing_s": spacing,
            "channel_interval_s": interval,
            "channels": channels,
            "rss_mb": rss,
        }


async def amain(bench: Bench) -> None:
    await bench.run()


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    opts = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    parent = Path(opts.workdir) if opts.workdir else None
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="webhook-bench-", dir=parent))
    started = time.perf_counter()
    bench = Bench(opts, workdir, console)
    try:
        try:
            import uvloop

            uvloop.run(amain(bench))
        except ImportError:
            asyncio.run(amain(bench))
        out = report(bench, time.perf_counter() - started)
        if opts.json_path:
            Path(opts.json_path).write_text(json.dumps(out, indent=2))
    finally:
        if opts.keep:
            console.print(f"[dim]kept {workdir}[/dim]")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
