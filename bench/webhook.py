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
import itertools
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/webhook.py` puts bench/ first, not the project
    sys.path.insert(0, str(ROOT))

SIGNALS_FILE = ROOT / "examples" / "signals.yml"
COMPANIES_FILE = ROOT / "examples" / "companies.json"
WEBHOOK_SECRET = "secret"
WEBHOOK_PATH = "/posthog/webhook"
# Replaced by a fresh uuid4 in every request; as long as one, so Content-Length stays right.
PLACEHOLDER = "00000000-0000-4000-8000-00000000beef"
DEFAULT_POSTGRES_URL = os.environ.get(
    "SIGNALS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------------
# Request bodies: PostHog's default webhook body, about 1 KB, a fresh event uuid per request
# ---------------------------------------------------------------------------------------------------
def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def webhook_body(
    event: str,
    properties: dict[str, Any],
    email: str,
    distinct_id: str,
    groups: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A default-body PostHog webhook payload as the HTTP webhook destination sends it (~1 KB)."""
    timestamp = _iso_now()
    person_id = str(uuid.uuid5(uuid.NAMESPACE_URL, distinct_id))
    body: dict[str, Any] = {
        "event": {
            "uuid": PLACEHOLDER,
            "event": event,
            "distinct_id": distinct_id,
            "properties": {
                "$lib": "web",
                "$lib_version": "1.200.2",
                "$os": "Mac OS X",
                "$browser": "Chrome",
                "$browser_version": 131,
                "$device_type": "Desktop",
                "$current_url": "https://app.example.com/onboarding/done",
                "$host": "app.example.com",
                "$pathname": "/onboarding/done",
                "$session_id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
                "$geoip_country_code": "US",
                **properties,
            },
            "elements_chain": "",
            "timestamp": timestamp,
            "url": f"https://us.posthog.com/project/12345/events/{PLACEHOLDER}/{timestamp}",
        },
        "person": {
            "id": person_id,
            "name": email,
            "properties": {
                "email": email,
                "name": email.split("@")[0].title(),
                "$initial_referring_domain": "www.google.com",
                "$initial_utm_source": "newsletter",
                "signup_date": "2026-11-20",
            },
            "url": f"https://us.posthog.com/project/12345/person/{distinct_id}",
        },
        "project": {"id": 12345, "name": "Example", "url": "https://us.posthog.com/project/12345"},
        "source": {
            "name": "Signals bot",
            "url": "https://us.posthog.com/project/12345/pipeline/destinations/hog-0193a1b2",
        },
    }
    if groups is not None:
        body["groups"] = groups
    return body


def matching_bodies() -> list[bytes]:
    """`onboarding_completed` on a trial plan for each company in examples/companies.json: every one
    matches the first signal; after an account's first alert the cooldown holds the rest."""
    domains = list(json.loads(COMPANIES_FILE.read_text()))
    bodies = []
    for i in range(len(domains) * 4):
        domain = domains[i % len(domains)]
        distinct_id = f"user-{i}-{domain}"
        props = {"plan": "trial", "company_domain": domain, "onboarding_steps": 5}
        body = webhook_body("onboarding_completed", props, f"user{i}@{domain}", distinct_id)
        bodies.append(_dumps(body))
    return bodies


def filtered_bodies() -> list[bytes]:
    """Events no signal listens to: decided (`filtered`) at ingest, payload not kept."""
    names = ["$pageview", "$autocapture", "dashboard_viewed", "report_exported", "$pageleave"]
    bodies = []
    for i, name in enumerate(names * 4):
        distinct_id = f"user-{i}-acme.com"
        props = {"plan": "trial", "company_domain": "acme.com", "$referrer": "https://app.example.com/"}
        bodies.append(_dumps(webhook_body(name, props, f"user{i}@acme.com", distinct_id)))
    return bodies


def alert_body(i: int, run: str) -> bytes:
    """`feature_activated` (min_score 0, so it always alerts) for a new account each time, so no
    cooldown holds it; even samples route to C0SIGNALS (US), odd ones to C0EMEA (DE)."""
    key = f"bench-{run}-{i}"
    groups = {
        "company": {
            "id": key,
            "properties": {
                "name": f"Bench Co {i}",
                "employees": 300,
                "industry": "saas",
                "funding_stage": "series_b",
                "tech_stack": ["segment", "dbt"],
                "country": "DE" if i % 2 else "US",
            },
        }
    }
    props = {"feature_name": "api_integration", "$groups": {"company": key}}
    return _dumps(webhook_body("feature_activated", props, f"dev{i}@{key}.example.com", f"dev-{key}", groups))


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def request_bytes(body: bytes, port: int) -> bytes:
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"User-Agent: webhook-bench\r\n"
        f"Authorization: Bearer {WEBHOOK_SECRET}\r\n"
        f"Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Requests:
    """Cycles through request templates, giving each request a fresh uuid4 (same length as the
    placeholder, so Content-Length stays right)."""

    def __init__(self, bodies: list[bytes], port: int):
        self._templates = itertools.cycle([request_bytes(b, port) for b in bodies])
        self._placeholder = PLACEHOLDER.encode()

    def next(self) -> tuple[str, bytes]:
        event_uuid = str(uuid.uuid4())
        return event_uuid, next(self._templates).replace(self._placeholder, event_uuid.encode())


# ---------------------------------------------------------------------------------------------------
# Servers, each in its own process
# ---------------------------------------------------------------------------------------------------
def bare_app() -> Any:
    """The baseline: parse the JSON body with orjson, answer 202. No auth, no storage."""
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def webhook(request: Request) -> Response:
        try:
            orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return Response(b'{"error":"invalid JSON"}', status_code=400, media_type="application/json")
        return Response(
            orjson.dumps({"accepted": 1, "duplicates": 0}), status_code=202, media_type="application/json"
        )

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[Route(WEBHOOK_PATH, webhook, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])]
    )


def real_app(spec: dict[str, Any], log_path: str) -> tuple[Any, dict[str, Any]]:
    """The real app as `python -m bot serve` builds it (a web process that supervises a worker
    process), pointed at local fakes for Slack and PostHog, and the uvicorn options `serve` runs it
    with (bounded connections included); `spec["tuning"]` is empty unless a flag overrides a Tuning
    default."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="metrics-", dir=Path(log_path).parent)
    from bot.app.container import Tuning
    from bot.app.server import uvicorn_options
    from bot.app.web import create_server_app
    from bot.config.settings import Settings
    from bot.config.signals_file import load_signals
    from bot.ops import logs

    settings = Settings(_env_file=None, **spec["settings"])
    logs.configure(settings.log_level)
    tuning = Tuning(**spec["tuning"])
    return create_server_app(settings, load_signals(SIGNALS_FILE), tuning), uvicorn_options(settings, tuning)


def serve_main(kind: str, spec: dict[str, Any], log_path: str, port_pipe: Any) -> None:
    """Child process entry: bind 127.0.0.1:0, report the port, serve until SIGTERM."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    os.dup2(log_fd, 1)
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port_pipe.send(sock.getsockname()[1])
    port_pipe.close()
    options: dict[str, Any] = {
        "http": "httptools",
        "access_log": False,
        "log_config": None,
        "lifespan": "on",
        "timeout_graceful_shutdown": 15,
        "backlog": 2048,
    }
    if kind == "bare":
        app = bare_app()
    else:
        app, served_with = real_app(spec, log_path)
        options.update(served_with)
    uvicorn.Server(uvicorn.Config(app, loop="uvloop", **options)).run(sockets=[sock])


@dataclass
class Server:
    kind: str
    process: Any
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def health(self) -> dict[str, Any]:
        with contextlib.suppress(Exception):
            return dict(json.loads(self.get("/healthz", timeout=30)[1]))
        return {}


@contextlib.contextmanager
def run_server(kind: str, spec: dict[str, Any], workdir: Path) -> Iterator[Server]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    log_path = workdir / f"{kind}-{time.monotonic_ns()}.log"
    # Not a daemon: the app starts a worker process of its own.
    process = ctx.Process(target=serve_main, args=(kind, spec, str(log_path), child), daemon=False)
    process.start()
    child.close()
    try:
        if not parent.poll(30):
            raise RuntimeError(f"{kind} server did not report its port; see {log_path}")
        server = Server(kind, process, parent.recv(), log_path)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                if server.get("/healthz", timeout=2)[0] == 200:
                    break
            if not process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not start; see {log_path}:\n{_tail(log_path)}")
            time.sleep(0.05)
        yield server
    finally:
        if process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
            process.join(30)
        if process.is_alive():
            process.kill()
            process.join(5)


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


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


# ---------------------------------------------------------------------------------------------------
# Load generation: raw asyncio protocol on keep-alive connections (cheap), or wrk
# ---------------------------------------------------------------------------------------------------
class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with at most one request in flight."""

    def __init__(
        self,
        on_response: Callable[[Connection, int], None],
        on_lost: Callable[[Connection], None] | None = None,
    ):
        self.on_response = on_response
        self.on_lost = on_lost
        self.transport: Any = None  # uvloop's transports do not subclass asyncio.Transport
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.busy = False
        self.alive = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.alive = True

    def send(self, data: bytes, at: float | None = None) -> None:
        self.sent_at = time.perf_counter() if at is None else at
        self.busy = True
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            length = int(head[at + 17 : head.find(b"\r\n", at + 2)].strip() or 0) if at >= 0 else 0
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            status = int(head[9:12])
            del self.buffer[:total]
            self.busy = False
            self.on_response(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        """The server closed it (uvicorn drops keep-alive connections idle for 5 s) or it broke."""
        self.alive = False
        if self.on_lost is not None:
            self.on_lost(self)

    def close(self) -> None:
        self.on_lost = None
        if self.transport is not None:
            self.transport.close()


async def open_connections(
    port: int,
    n: int,
    on_response: Callable[[Connection, int], None],
    on_lost: Callable[[Connection], None] | None = None,
) -> list[Connection]:
    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(n):
        _, conn = await loop.create_connection(lambda: Connection(on_response, on_lost), "127.0.0.1", port)
        conns.append(conn)
    return conns


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
    """Events the worker has decided so far: the ledger's outcomes less `filtered` (decided at
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


async def closed_loop(
    server: Server, bodies: list[bytes], connections: int, warmup: float, duration: float
) -> LoadResult:
    """`connections` keep-alive connections, each sending its next request as soon as the last is
    answered. Only responses inside [warmup, warmup + duration) count."""
    requests = Requests(bodies, server.port)
    result = LoadResult(generator="python")
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    active = connections
    window = [0.0, 0.0]

    def on_response(conn: Connection, status: int) -> None:
        nonlocal active
        now = time.perf_counter()
        if window[0] <= now < window[1]:
            result.requests += 1
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.latencies_ms.append((now - conn.sent_at) * 1000)
        if now < window[1]:
            conn.send(requests.next()[1])
        else:
            active -= 1
            if active == 0 and not done.done():
                done.set_result(None)

    def on_lost(conn: Connection) -> None:
        nonlocal active
        if conn.busy:  # a request went unanswered; this connection sends no more
            result.errors += 1
            active -= 1
            if active == 0 and not done.done():
                done.set_result(None)

    conns = await open_connections(server.port, connections, on_response, on_lost)
    start = time.perf_counter()
    window[:] = [start + warmup, start + warmup + duration]
    for conn in conns:
        conn.send(requests.next()[1])
    await asyncio.sleep(warmup)
    meter = Meter(server)
    await asyncio.sleep(duration)
    meter.stop(result)
    try:
        await asyncio.wait_for(done, timeout=30)
    except TimeoutError:
        result.errors += active
    for conn in conns:
        conn.close()
    result.seconds = duration
    return result


async def open_loop(
    server: Server, bodies: list[bytes], rate: float, warmup: float, duration: float, connections: int = 200
) -> LoadResult:
    """Requests at a fixed rate whatever the server does (open loop). A request's latency runs from
    the moment it was due, so time spent waiting for a free connection counts (no coordinated
    omission)."""
    requests = Requests(bodies, server.port)
    result = LoadResult(generator="python (open loop)", offered_rps=rate)
    idle: list[Connection] = []
    backlog: deque[float] = deque()
    measure_from = [0.0]
    outstanding = [0]

    def on_response(conn: Connection, status: int) -> None:
        now = time.perf_counter()
        outstanding[0] -= 1
        if conn.sent_at >= measure_from[0]:
            result.requests += 1
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.latencies_ms.append((now - conn.sent_at) * 1000)
        on_response_free(conn)

    def dispatch(conn: Connection, due: float) -> None:
        outstanding[0] += 1
        conn.send(requests.next()[1], at=due)

    loop = asyncio.get_running_loop()
    all_conns: list[Connection] = []
    reconnecting: set[asyncio.Task[None]] = set()

    async def replace() -> None:
        with contextlib.suppress(OSError):
            (conn,) = await open_connections(server.port, 1, on_response, on_lost)
            all_conns.append(conn)
            on_response_free(conn)

    def on_response_free(conn: Connection) -> None:
        if backlog:
            dispatch(conn, backlog.popleft())
        else:
            idle.append(conn)

    def on_lost(conn: Connection) -> None:
        with contextlib.suppress(ValueError):
            idle.remove(conn)
        if conn.busy:
            outstanding[0] -= 1
            result.errors += 1
        task = loop.create_task(replace())
        reconnecting.add(task)
        task.add_done_callback(reconnecting.discard)

    all_conns.extend(await open_connections(server.port, connections, on_response, on_lost))
    idle.extend(all_conns)
    start = time.perf_counter()
    measure_from[0] = start + warmup
    end = start + warmup + duration
    interval = 1.0 / rate
    sent = 0
    meter: Meter | None = None
    max_backlog = 0
    while True:
        now = time.perf_counter()
        if meter is None and now >= measure_from[0]:
            meter = Meter(server)
        due = start + sent * interval
        if due >= end:
            break
        while due <= now and due < end:
            if idle:
                dispatch(idle.pop(), due)
            else:
                backlog.append(due)
                max_backlog = max(max_backlog, len(backlog))
            sent += 1
            due = start + sent * interval
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
    (meter or Meter(server)).stop(result)
    deadline = time.perf_counter() + 30
    while (outstanding[0] or backlog) and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    result.errors += outstanding[0] + len(backlog)
    for task in list(reconnecting):
        task.cancel()
    for conn in all_conns:
        conn.close()
    result.seconds = duration
    result.extra["max_waiting_for_connection"] = max_backlog
    return result


WRK_SCRIPT = r"""
local templates = {%(templates)s}
local counter = 0
local prefix = "00000000"
local next_tid = 1
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end
function init(args)
  math.randomseed(os.time() + (tid or 0) * 7919 + math.floor(os.clock() * 1e6))
  prefix = string.format("%%08x", math.random(0, 2147483647))
end
function request()
  counter = counter + 1
  local id = string.format("%%s-%%04x-4%%03x-8%%03x-%%012x", prefix, tid or 0,
    math.floor(counter / 4096) %% 4096, counter %% 4096, counter)
  return table.concat(templates[(counter %% #templates) + 1], id)
end
function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"status": %%d, "timeout": %%d, "p50_us": %%d, "p99_us": %%d, "mean_us": %%f}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def _lua_string(data: bytes) -> str:
    """A quoted Lua literal (long brackets would turn CRLF into LF)."""
    out = []
    for byte in data:
        char = chr(byte)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def write_wrk_script(bodies: list[bytes], port: int, path: Path) -> None:
    """Each request template is split around the uuid placeholder; Lua joins the parts with an id."""
    parts = []
    for body in bodies:
        pieces = request_bytes(body, port).split(PLACEHOLDER.encode())
        parts.append("{" + ", ".join(_lua_string(p) for p in pieces) + "}")
    path.write_text(WRK_SCRIPT % {"templates": ",\n".join(parts)})


async def wrk_closed_loop(
    server: Server, bodies: list[bytes], connections: int, warmup: float, duration: float, workdir: Path
) -> LoadResult:
    script = workdir / f"wrk-{server.port}.lua"
    write_wrk_script(bodies, server.port, script)
    url = f"http://127.0.0.1:{server.port}{WEBHOOK_PATH}"

    async def run(seconds: float) -> dict[str, Any]:
        proc = await asyncio.create_subprocess_exec(
            "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
            "-s", str(script), url,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        for line in out.decode(errors="replace").splitlines():
            if line.startswith("WRKJSON "):
                return dict(json.loads(line[8:]))
        raise RuntimeError(f"wrk failed:\n{out.decode(errors='replace')}")

    if warmup > 0:
        await run(warmup)
    result = LoadResult(generator="wrk")
    meter = Meter(server, client=children_cpu_s)
    stats = await run(duration)
    meter.stop(result)
    result.requests = stats["requests"]
    result.seconds = stats["duration_us"] / 1e6
    bad = stats["status"]
    result.statuses = {202: stats["requests"] - bad}
    if bad:
        result.statuses[0] = bad  # wrk only says "not 2xx/3xx"
    result.errors = stats["connect"] + stats["read"] + stats["write"] + stats["timeout"]
    result.extra.update(p50_ms=stats["p50_us"] / 1000, p99_ms=stats["p99_us"] / 1000)
    return result


# ---------------------------------------------------------------------------------------------------
# Webhook to Slack
# ---------------------------------------------------------------------------------------------------
async def webhook_to_slack(
    server: Server, slack: Any, samples: int, spacing: float, run: str
) -> tuple[list[float], list[float], int]:
    """Send `samples` alerting events `spacing` seconds apart on one keep-alive connection; return
    (webhook->Slack ms, ack ms, missing)."""
    loop = asyncio.get_running_loop()
    pending: asyncio.Future[int] | None = None

    def on_response(conn: Connection, status: int) -> None:
        if pending is not None and not pending.done():
            pending.set_result(status)

    (conn,) = await open_connections(server.port, 1, on_response)
    with slack.lock:
        already = len([r for r in slack.requests if r.path == "/api/chat.postMessage"])
    sent: dict[str, float] = {}
    acks: list[float] = []
    placeholder = PLACEHOLDER.encode()
    start = time.perf_counter()
    for i in range(samples):
        await asyncio.sleep(max(0.0, start + i * spacing - time.perf_counter()))
        event_uuid = str(uuid.uuid4())
        data = request_bytes(alert_body(i, run), server.port).replace(placeholder, event_uuid.encode())
        pending = loop.create_future()
        sent[event_uuid] = time.time()  # the fake Slack stamps requests with time.time() too
        t0 = time.perf_counter()
        conn.send(data)
        status = await asyncio.wait_for(pending, 10)
        acks.append((time.perf_counter() - t0) * 1000)
        if status != 202:
            raise RuntimeError(f"webhook answered {status}")
    conn.close()

    def posts() -> list[Any]:
        with slack.lock:
            return [r for r in slack.requests if r.path == "/api/chat.postMessage"]

    def matched() -> dict[str, float]:
        """event uuid -> ms from webhook to Slack; the alert's event link carries the uuid."""
        found = {}
        for request in posts()[already:]:
            body = request.body.decode(errors="replace")
            for event_uuid, at in sent.items():
                if event_uuid in body:
                    found[event_uuid] = (request.at - at) * 1000
                    break
        return found

    deadline = time.monotonic() + 15
    while len(matched()) < samples and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    latencies = list(matched().values())
    return latencies, acks, samples - len(latencies)


# ---------------------------------------------------------------------------------------------------
# Orchestration and output
# ---------------------------------------------------------------------------------------------------
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
        "a signal), filtered (none does), half (half and half); default filtered,match",
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
    p.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
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
        latency_mixes=_choices(a.latency_mix, ("match", "filtered", "half"), p),
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


def app_spec(
    database_url: str, opts: Options, slack_url: str, posthog_url: str, **tuning: Any
) -> dict[str, Any]:
    from testkit.posthog import PROJECT_KEY
    from testkit.slack import SIGNING_SECRET, TOKEN

    return {
        "settings": {
            "slack_bot_token": TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": slack_url,
            "posthog_host": posthog_url,
            "posthog_app_host_setting": "https://us.posthog.com",
            "posthog_project_api_key": PROJECT_KEY,
            "posthog_project_id": "12345",
            "posthog_webhook_secret": WEBHOOK_SECRET,
            "database_url": database_url,
            "log_level": opts.log_level,
        },
        "tuning": tuning,  # empty: the app's production defaults
    }


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A database URL whose tables live in a fresh schema, dropped afterwards (as tests do)."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{base_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


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
            spec = app_spec(url, self.opts, slack.api_url, posthog.url, **tuning)
            return run_server("app", spec, self.workdir)

        @contextlib.contextmanager
        def pg() -> Iterator[Server]:
            with postgres_schema(self.opts.postgres_url) as url:
                spec = app_spec(url, self.opts, slack.api_url, posthog.url, **tuning)
                with run_server("app", spec, self.workdir) as server:
                    yield server

        return pg()

    async def run(self) -> None:
        from testkit.posthog import FakePostHog
        from testkit.slack import FakeSlack

        o = self.opts
        match, filtered = matching_bodies(), filtered_bodies()
        self.results["body_bytes"] = round(statistics.mean(len(b) for b in match + filtered))
        mixes = {"match": match, "filtered": filtered, "half": [*match[:10], *filtered[:10]]}
        gen = "wrk" if self.use_wrk else "python"
        databases = ["sqlite"] + (["postgres"] if o.postgres else [])

        if "throughput" in o.phases:
            await self.bare("before")

        with FakeSlack() as slack, FakePostHog() as posthog:
            fakes = (slack, posthog)
            if "throughput" in o.phases:
                for db in databases:
                    for mix in ("match", "filtered"):
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


def fmt_ms(value: float) -> str:
    return "n/a" if value != value else f"{value:.1f} ms"


def _mark(ok: bool, text: str) -> str:
    return f"[{'green' if ok else 'red'}]{text}[/]"


def _rss(res: LoadResult) -> str:
    return f"{res.rss_mb:.0f} MiB (peak {res.peak_rss_mb:.0f})"


MIX_LABELS = {"match": "matching", "filtered": "filtered", "half": "half/half"}


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

    def row(label: str, res: LoadResult, ratio: float | None) -> None:
        if res.generator == "wrk":
            p50, p99 = res.extra["p50_ms"], res.extra["p99_ms"]
        else:
            p50, p99 = res.pct(50), res.pct(99)
        bad = res.non_2xx + res.errors
        backlog = res.extra.get("backlog_after")
        decided = res.worker_rate
        app = ratio is not None
        table.add_row(
            label,
            f"{res.rps:,.0f}",
            _mark(ratio >= 0.4, f"{ratio:.2f}x") if ratio is not None else "",
            "≥ 0.4x" if app else "",
            f"{p50:.1f} / {p99:.1f} ms",
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
            row(f"app on {db}, {MIX_LABELS[mix]} events", res, res.rps / bare_rps if bare_rps else 0.0)
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
        _mark(p95 < 250, fmt_ms(p95)),
        fmt_ms(max(lat) if lat else float("nan")),
        "< 250 ms",
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
        "request; matching = onboarding_completed (plan trial, company_domain from examples/companies.json), "
        "filtered = events no signal in examples/signals.yml listens to (decided at ingest)",
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
