"""What a measured window records: server and load generator CPU, the server's memory, the worker's
progress read from /metrics, and the latencies and statuses of the answers."""

from __future__ import annotations

import contextlib
import math
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.servers import Server

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    """User+system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MiB."""
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class LoadResult:
    requests: int = 0  # completed inside the measured window
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0  # connection errors, timeouts, requests never answered
    server_cpu: float = 0.0  # cores, averaged over the window
    client_cpu: float = 0.0
    rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    offered_rps: float = 0.0
    generator: str = "python"
    extra: dict[str, Any] = field(default_factory=dict)
    probes: tuple[Probe, Probe] | None = None

    @property
    def worker_rate(self) -> float | None:
        return worker_rate(self.probes)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def pct(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN when there is nothing to rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


def worker_decided(server: Server) -> int:
    """Events the worker has decided so far: the ledger's outcomes less `filtered` (counted at
    ingest), read from /metrics."""
    total = 0
    _, text = server.get("/metrics", timeout=30)
    for line in text.decode().splitlines():
        if line.startswith("signals_outcomes_total{") and 'outcome="filtered"' not in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


class Probe(threading.Thread):
    """Reads `worker_decided` off the load generator's event loop."""

    def __init__(self, server: Server):
        super().__init__(daemon=True)
        self.server = server
        self.value: int | None = None
        self.at = 0.0
        self.start()

    def run(self) -> None:
        with contextlib.suppress(Exception):
            self.value = worker_decided(self.server)
        self.at = time.perf_counter()


def worker_rate(probes: tuple[Probe, Probe] | None) -> float | None:
    """Events decided per second by the worker between two probes."""
    if probes is None:
        return None
    first, last = probes
    first.join(30)
    last.join(30)
    if first.value is None or last.value is None or last.at <= first.at:
        return None
    return (last.value - first.value) / (last.at - first.at)


class Meter:
    """Server and client CPU, server RSS and the worker's progress over a measured window."""

    def __init__(self, server: Server, client: Callable[[], float] = self_cpu_s):
        self.server = server
        self.pid = server.pid
        self.client = client
        self.t0 = time.perf_counter()
        self.server0 = proc_cpu_s(self.pid)
        self.client0 = self.client()
        self.probe = Probe(server) if server.kind == "app" else None

    def stop(self, result: LoadResult) -> None:
        wall = time.perf_counter() - self.t0
        result.server_cpu = (proc_cpu_s(self.pid) - self.server0) / wall
        result.client_cpu = (self.client() - self.client0) / wall
        result.rss_mb, result.peak_rss_mb = proc_rss_mb(self.pid)
        if self.probe is not None:
            result.probes = (self.probe, Probe(self.server))
