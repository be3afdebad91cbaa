"""Webhook to Slack under a steady stream: N alerting events at R per second spread over C channels,
against the app as `serve` runs it (web process + worker process, production timings, per-channel
pacing included), with a local fake Slack; prints how long each alert took from the webhook to
`chat.postMessage`, the webhook's ack times, and each process's RSS.

Run from the project root: `python bench/webhook_to_slack.py [--events 500] [--rate 50] [--channels 50]
[--postgres]`. Every event is for a new account (no cooldown holds one back) and routes by its
company's country to one of the channels, round robin, so each channel gets R/C alerts a second.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.load import webhook_to_slack  # noqa: E402
from bench.measure import percentile, proc_rss_mb  # noqa: E402
from bench.servers import app_spec, run_server  # noqa: E402
from testkit.examples import EXAMPLE_SIGNALS  # noqa: E402
from testkit.postgres import postgres_schema  # noqa: E402


def signals_file(folder: Path, channels: int, owner_crm: bool = False) -> Path:
    """The example signals, routed by company country to `channels` channels (C0BENCH00, …), each
    route's owner looked up in HubSpot with `owner_crm`."""
    signals = yaml.safe_load(EXAMPLE_SIGNALS.read_text())
    owner = {"owner": "crm"} if owner_crm else {}
    signals["routing"] = [
        {"when": {"company.country": [f"B{n:02d}"]}, "channel": f"C0BENCH{n:02d}", **owner}
        for n in range(channels)
    ] + [{"channel": "C0SIGNALS"}]
    companies = signals["enrichment"]["file"]
    signals["enrichment"]["file"] = str((EXAMPLE_SIGNALS.parent / companies).resolve())
    path = folder / "signals.yml"
    path.write_text(yaml.safe_dump(signals, sort_keys=False))
    return path


async def run(args: argparse.Namespace, url: str, folder: Path, console: Console) -> dict[str, Any]:
    from testkit.hubspot import TOKEN as HUBSPOT_TOKEN
    from testkit.hubspot import FakeHubSpot
    from testkit.posthog import FakePostHog
    from testkit.slack import FakeSlack

    run_id = uuid.uuid4().hex[:6]
    with FakeSlack() as slack, FakePostHog() as posthog, FakeHubSpot() as hubspot:
        spec = {
            **app_spec(url, "WARNING", slack.api_url, posthog.url),
            "signals": str(signals_file(folder, args.channels, args.owner_crm)),
        }
        if args.owner_crm:  # every account a new HubSpot company, owned by one of ten AEs in Slack
            spec["settings"].update(hubspot_access_token=HUBSPOT_TOKEN, hubspot_api_url=hubspot.api_url)
            for k in range(10):
                hubspot.add_owner(str(500 + k), email=f"ae{k}@bench.example.com", first_name=f"AE {k}")
                slack.add_user(f"U0AE{k:04d}", f"ae{k}@bench.example.com", f"AE {k}")
            for i in range(args.events):
                key = f"bench-{run_id}-{i}"
                hubspot.add_company(
                    str(10_000 + i), name=key, domain=f"{key}.example.com", owner=str(500 + i % 10)
                )
        with run_server("app", spec, folder) as server:
            worker_pid = server_children(server.pid)
            database = url.split(":")[0]
            console.print(
                f"{args.events} alerting events at {args.rate:g}/s over {args.channels} channels ({database})"
            )
            by_sample: dict[int, float] = {}
            latencies, acks, missing = await webhook_to_slack(
                server,
                slack,
                args.events,
                1.0 / args.rate,
                run_id,
                # with --replies, every odd sample is another signal of the previous sample's account
                # (same channel), so it goes in that alert's thread
                country=lambda i: f"B{(i // 2 if args.replies else i) % args.channels:02d}",
                reply_to=lambda i: i - 1 if args.replies and i % 2 else None,
                by_sample=by_sample,
                domain=args.owner_crm,
            )
            rss = {"web": proc_rss_mb(server.pid)[1]}
            for n, pid in enumerate(worker_pid, 1):
                rss[f"worker {n}"] = proc_rss_mb(pid)[1]
        ratelimited = sum(1 for r in slack.requests if r.path == "/api/chat.postMessage") - len(latencies)
    replies = [ms for i, ms in by_sample.items() if args.replies and i % 2]
    firsts = [ms for i, ms in by_sample.items() if not (args.replies and i % 2)]
    return {
        "latencies": latencies,
        "acks": acks,
        "missing": missing,
        "rss": rss,
        "extra_posts": ratelimited,
        "parts": {"first alerts": firsts, "thread replies": replies} if args.replies else {},
        "updates": sum(1 for r in slack.requests if r.path == "/api/chat.update"),
        "owners": sum(1 for m in slack.posted() if "owner from HubSpot" in str(m.get("blocks"))),
    }


def server_children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def report(result: dict[str, Any], args: argparse.Namespace, console: Console) -> None:
    lat, acks = result["latencies"], result["acks"]
    table = Table(title="Webhook to Slack (fake Slack receives chat.postMessage)")
    for column in ("alerts", "p50", "p95", "p99", "max", "goal p95", "ack p50 / p99", "missing", "peak RSS"):
        table.add_column(column, justify="right")
    rss = ", ".join(f"{name} {mb:.0f} MiB" for name, mb in result["rss"].items())
    table.add_row(
        str(len(lat)),
        f"{percentile(lat, 50):.1f} ms",
        f"{percentile(lat, 95):.1f} ms",
        f"{percentile(lat, 99):.1f} ms",
        f"{max(lat, default=float('nan')):.1f} ms",
        "< 100 ms",
        f"{percentile(acks, 50):.1f} / {percentile(acks, 99):.1f} ms",
        str(result["missing"]),
        rss,
    )
    for name, part in result["parts"].items():
        table.add_row(
            f"{name}: {len(part)}",
            f"{percentile(part, 50):.1f} ms",
            f"{percentile(part, 95):.1f} ms",
            f"{percentile(part, 99):.1f} ms",
            f"{max(part, default=float('nan')):.1f} ms",
            "",
            "",
            "",
            "",
        )
    console.print(table)
    console.print(
        f"{args.rate:g} alerting events/s over {args.channels} channels for {args.events / args.rate:.0f} s; "
        "each channel paced by the app to about a message a second with short bursts."
        + (
            f" Every second event is another signal of the previous one's account: a reply in its thread "
            f"({result['updates']} first alerts updated in place)."
            if args.replies
            else ""
        )
        + (
            f" Every route says `owner: crm` and every account is new: {result['owners']} alerts name the "
            "owner found in HubSpot and Slack (two HubSpot calls and one Slack call each, nothing cached)."
            if args.owner_crm
            else ""
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="alerting events per second")
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--replies", action="store_true", help="every second event replies in the previous one's thread"
    )
    parser.add_argument(
        "--owner-crm", action="store_true", help="routes say `owner: crm`: each alert looks its owner up"
    )
    args = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 150)
    with tempfile.TemporaryDirectory(prefix="webhook-to-slack-") as tmp:
        folder = Path(tmp)
        if args.postgres:
            with postgres_schema() as url:
                result = asyncio.run(run(args, url, folder, console))
        else:
            result = asyncio.run(run(args, f"sqlite:///{folder / 'bench.db'}", folder, console))
    report(result, args, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
