"""The figures a webhook benchmark prints: a table per phase, the notes on how they were measured, and
the same figures as a dict for `--json`."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.measure import LoadResult, percentile

if TYPE_CHECKING:
    from bench.webhook import Bench


def fmt_ms(value: float) -> str:
    return "n/a" if value != value else f"{value:.1f} ms"


def _mark(ok: bool, text: str) -> str:
    return f"[{'green' if ok else 'red'}]{text}[/]"


def _rss(res: LoadResult) -> str:
    return f"{res.rss_mb:.0f} MiB (peak {res.peak_rss_mb:.0f})"


MIX_LABELS = {
    "match": "matching",
    "filtered": "filtered",
    "half": "half/half",
    "mixed": "mixed (95% filtered)",
}
# The throughput goal of each mix against the bare endpoint. The mixed load is the one a typical project
# sends; under it the ack's p99 must also stay within STALL_FACTOR x its p50 (no stalls).
# Other mixes have no throughput goal: the matching one's is its ack latency at 1,000 req/s.
RATIO_GOALS = {"mixed": 0.5}
STALL_FACTOR = 10
SLACK_P95_GOAL_MS = 100


def report_throughput(bench: Bench, out: dict[str, Any]) -> None:
    from rich.table import Table

    r = bench.results
    bares = [res for key, res in r.items() if isinstance(key, tuple) and key[0] == "bare"]
    if not bares:
        return
    bare_rps = statistics.mean(res.rps for res in bares)
    table = Table(title="POST /posthog/webhook throughput (closed loop)", title_justify="left")
    columns = ("server", "req/s", "vs bare", "goal", "p50 / p99", "non-2xx", "server CPU", "loadgen CPU")
    for col in (*columns, "app RSS", "worker decided", "backlog after"):
        table.add_column(col, justify="left" if col == "server" else "right")

    def row(label: str, res: LoadResult, ratio: float | None, mix: str | None = None) -> None:
        if res.generator == "wrk":
            p50, p99 = res.extra["p50_ms"], res.extra["p99_ms"]
        else:
            p50, p99 = res.pct(50), res.pct(99)
        bad = res.non_2xx + res.errors
        backlog = res.extra.get("backlog_after")
        decided = res.worker_rate
        app = ratio is not None
        goal = RATIO_GOALS.get(mix or "")
        latencies = f"{p50:.1f} / {p99:.1f} ms"
        vs_bare = "" if ratio is None else f"{ratio:.2f}x"
        if goal is not None and ratio is not None:
            latencies = _mark(p99 <= STALL_FACTOR * p50, latencies)
            vs_bare = _mark(ratio >= goal, vs_bare)
        table.add_row(
            label,
            f"{res.rps:,.0f}",
            vs_bare,
            f"≥ {goal}x, p99 ≤ {STALL_FACTOR}x p50" if goal is not None and app else "",
            latencies,
            _mark(not bad, str(bad)),
            f"{res.server_cpu * 100:.0f}%",
            f"{res.client_cpu * 100:.0f}%",
            _rss(res) if app else "",
            "" if decided is None else f"{decided:,.0f}/s",
            "" if backlog is None else str(backlog),
        )
        out.setdefault("throughput", {})[label] = {
            "rps": round(res.rps, 1),
            "ratio_vs_bare": None if ratio is None else round(ratio, 3),
            "p50_ms": round(p50, 2),
            "p99_ms": round(p99, 2),
            "non_2xx_or_errors": bad,
            "server_cpu_cores": round(res.server_cpu, 2),
            "loadgen_cpu_cores": round(res.client_cpu, 2),
            "rss_mib": round(res.rss_mb, 1) if app else None,
            "peak_rss_mib": round(res.peak_rss_mb, 1) if app else None,
            "worker_decided_per_s": None if decided is None else round(decided, 1),
            "backlog_after": backlog,
        }

    for key, res in r.items():
        if isinstance(key, tuple) and key[0] == "bare":
            row(f"bare Starlette + orjson ({key[1]})", res, None)
    for key, res in r.items():
        if isinstance(key, tuple) and key[0] == "throughput":
            _, db, mix = key
            row(f"app on {db}, {MIX_LABELS[mix]} events", res, res.rps / bare_rps if bare_rps else 0.0, mix)
    out["bare_rps_mean"] = round(bare_rps, 1)
    bench.console.print(table)


def report_latency(bench: Bench, out: dict[str, Any]) -> None:
    from rich.table import Table

    o = bench.opts
    rows = [
        (key, res) for key, res in bench.results.items() if isinstance(key, tuple) and key[0] == "latency"
    ]
    if not rows:
        return
    table = Table(
        title=f"Webhook ack latency, open loop at {o.latency_rate:,.0f} req/s for {o.latency_duration:g}s",
        title_justify="left",
    )
    columns = ("server", "achieved", "p50", "p95", "p99", "max", "goal p99", "non-2xx", "server CPU")
    for col in (*columns, "app RSS", "worker decided", "backlog after"):
        table.add_column(col, justify="left" if col == "server" else "right")
    for (_, db, mix), res in rows:
        label = f"app on {db}, {MIX_LABELS[mix]} events"
        p99 = res.pct(99)
        bad = res.non_2xx + res.errors
        decided = res.worker_rate
        table.add_row(
            label,
            f"{res.rps:,.0f} req/s",
            fmt_ms(res.pct(50)),
            fmt_ms(res.pct(95)),
            _mark(p99 < 50, fmt_ms(p99)),
            fmt_ms(max(res.latencies_ms) if res.latencies_ms else float("nan")),
            "< 50 ms",
            _mark(not bad, str(bad)),
            f"{res.server_cpu * 100:.0f}%",
            _rss(res),
            "" if decided is None else f"{decided:,.0f}/s",
            str(res.extra.get("backlog_after")),
        )
        out.setdefault("latency", {})[label] = {
            "offered_rps": o.latency_rate,
            "achieved_rps": round(res.rps, 1),
            "p50_ms": round(res.pct(50), 2),
            "p95_ms": round(res.pct(95), 2),
            "p99_ms": round(p99, 2),
            "max_ms": round(max(res.latencies_ms), 2) if res.latencies_ms else None,
            "non_2xx_or_errors": bad,
            "server_cpu_cores": round(res.server_cpu, 2),
            "rss_mib": round(res.rss_mb, 1),
            "peak_rss_mib": round(res.peak_rss_mb, 1),
            "worker_decided_per_s": None if decided is None else round(decided, 1),
            "backlog_after": res.extra.get("backlog_after"),
            "max_waiting_for_connection": res.extra.get("max_waiting_for_connection"),
        }
    bench.console.print(table)


def report_slack(bench: Bench, out: dict[str, Any]) -> None:
    from rich.table import Table

    s = bench.results.get("slack")
    if s is None:
        return
    lat = s["latencies_ms"]
    table = Table(title="Webhook to Slack (fake Slack receives chat.postMessage)", title_justify="left")
    for col in ("alerts", "p50", "p95", "max", "goal p95", "ack p50", "missing", "app RSS", "pacing"):
        table.add_column(col, justify="right")
    p95 = percentile(lat, 95)
    table.add_row(
        str(len(lat)),
        fmt_ms(percentile(lat, 50)),
        _mark(p95 < SLACK_P95_GOAL_MS, fmt_ms(p95)),
        fmt_ms(max(lat) if lat else float("nan")),
        f"< {SLACK_P95_GOAL_MS} ms",
        fmt_ms(percentile(s["acks_ms"], 50)),
        _mark(not s["missing"], str(s["missing"])),
        f"{s['rss_mb']:.0f} MiB",
        f"channel_interval_s={s['channel_interval_s']:g}; one alert every {s['spacing_s']:.2f}s "
        f"over {s['channels']} channels",
    )
    bench.console.print(table)
    out["webhook_to_slack"] = {
        "samples": len(lat),
        "p50_ms": round(percentile(lat, 50), 2) if lat else None,
        "p95_ms": round(p95, 2) if lat else None,
        "max_ms": round(max(lat), 2) if lat else None,
        "ack_p50_ms": round(percentile(s["acks_ms"], 50), 2) if s["acks_ms"] else None,
        "missing": s["missing"],
        "channel_interval_s": s["channel_interval_s"],
        "spacing_s": s["spacing_s"],
        "rss_mib": round(s["rss_mb"], 1),
    }


def report(bench: Bench, elapsed: float) -> dict[str, Any]:
    o = bench.opts
    out: dict[str, Any] = {"machine": machine_info(), "elapsed_s": round(elapsed, 1)}
    report_throughput(bench, out)
    report_latency(bench, out)
    report_slack(bench, out)
    gen = (
        "wrk (1 thread, Lua script, unique uuids)"
        if bench.use_wrk
        else "python asyncio (raw keep-alive connections)"
    )
    notes = [
        f"machine: {out['machine']}",
        f"load: throughput rows by {gen}, {o.connections} connections, {o.warmup:g}s warm-up + "
        f"{o.duration:g}s window per row; latency and webhook->Slack by this script's asyncio open loop",
        f"bodies: PostHog default webhook body, ~{bench.results['body_bytes']} bytes, a new event uuid per "
        "request; matching = onboarding_completed (plan trial) over 1,000 company domains, "
        "examples/companies.json's first, "
        "filtered = events no signal in examples/signals.yml listens to (counted at ingest), "
        "mixed = 95% $pageview and 5% matching events over 20 company domains",
        "app: real create_server_app(...) as `serve` runs it (web process + worker process) under uvicorn "
        f"(httptools, uvloop, no access log), production Tuning defaults, LOG_LEVEL={o.log_level}, "
        "local fake Slack and PostHog; "
        "SQLite file in WAL mode with synchronous=FULL (the app's defaults)",
        "vs bare = the app's req/s over the mean of the two bare runs; "
        "CPU columns are in % of one core (100% = one core busy); the machine has "
        f"{os.cpu_count()} cores shared by server and load generator",
        "worker decided = events the app's worker decided per second during the window (ledger outcomes "
        "other than filtered, from /metrics); backlog after = the app's queue_depth right after the window "
        "(events and alerts not handled yet)",
        f"databases under {bench.workdir} ({filesystem(bench.workdir)})",
        f"total run time {elapsed:.0f}s",
    ]
    for note in notes:
        bench.console.print(f"[dim]- {note}[/dim]")
    out["load_generator"] = gen
    return out


def filesystem(path: Path) -> str:
    """The filesystem type holding `path` (SQLite's fsync cost depends on it)."""
    best, kind = "", "unknown filesystem"
    with contextlib.suppress(OSError), open("/proc/mounts") as mounts:
        for line in mounts:
            parts = line.split()
            if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], f"{parts[2]} on {parts[0]}"
    return kind


def machine_info() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
