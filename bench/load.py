"""The load generators: raw asyncio keep-alive connections, closed loop (each connection sends again
once answered) or open loop (a fixed rate whatever the server does); `wrk` with a generated Lua script;
and alerting events timed from the webhook to the fake Slack."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.deliveries import PLACEHOLDER, WEBHOOK_PATH, Requests, alert_body, request_bytes
from bench.measure import LoadResult, Meter, children_cpu_s
from bench.servers import Server


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
            line_end = head.find(b"\r\n", at + 2)  # -1: the header is the head's last line
            length = (
                int(head[at + 17 : line_end if line_end >= 0 else len(head)].strip() or 0) if at >= 0 else 0
            )
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


async def webhook_to_slack(
    server: Server,
    slack: Any,
    samples: int,
    spacing: float,
    run: str,
    country: Callable[[int], str | None] = lambda i: None,
    reply_to: Callable[[int], int | None] = lambda i: None,
    by_sample: dict[int, float] | None = None,
    domain: bool = False,
) -> tuple[list[float], list[float], int]:
    """Send `samples` alerting events `spacing` seconds apart on one keep-alive connection (the i-th
    from a company in `country(i)`, or, where `reply_to(i)` names an earlier sample, another signal
    of that sample's account); return (webhook->Slack ms, ack ms, missing), and fill `by_sample`
    (sample index -> webhook->Slack ms) when given."""
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
        data = request_bytes(alert_body(i, run, country(i), reply_to(i), domain), server.port).replace(
            placeholder, event_uuid.encode()
        )
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
    found = matched()
    if by_sample is not None:
        by_sample.update({i: found[u] for i, u in enumerate(sent) if u in found})
    latencies = list(found.values())
    return latencies, acks, samples - len(latencies)
