"""A threaded HTTP server on 127.0.0.1 with a random port that records every request.

Subclasses implement `respond(request) -> Reply`. Servers stop when their context exits, and so do
replies still being delayed or trickled.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON, bytes -> raw
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before the status line
    trickle_s: float = 0.0  # between the body's bytes, sent one at a time: slow, never quite silent


class _Server(ThreadingHTTPServer):
    """A listen backlog like a real service's: socketserver's default of 5 makes the kernel drop the
    connections of a burst, which then wait a second to retry, as no real API would make them."""

    request_queue_size = 256


class FakeServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.closed = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive connections

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                parts = urlsplit(self.path)
                recorded = Recorded(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                reply = fake.respond(recorded)
                with fake.lock:
                    fake.requests.append(recorded)
                    fake.changed.notify_all()
                if reply.delay_s:
                    fake.closed.wait(reply.delay_s)
                payload = reply.body
                if isinstance(payload, bytes):
                    data = payload
                    content_type = reply.headers.get("Content-Type", "application/octet-stream")
                else:
                    data = json.dumps(payload if payload is not None else {}).encode()
                    content_type = "application/json; charset=utf-8"
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in reply.headers.items():
                        if key.lower() != "content-type":
                            self.send_header(key, value)
                    self.end_headers()
                    if not reply.trickle_s:
                        self.wfile.write(data)
                    else:
                        for i in range(len(data)):
                            self.wfile.write(data[i : i + 1])
                            if fake.closed.wait(reply.trickle_s):
                                break
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def respond(self, request: Recorded) -> Reply:  # pragma: no cover - overridden
        return Reply(404, {"error": "not found"})

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.closed.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> Any:
        """Block until predicate(self) is truthy; returns its value or raises AssertionError."""
        deadline = time.time() + timeout
        with self.changed:
            while True:
                value = predicate(self)
                if value:
                    return value
                remaining = deadline - time.time()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting on {predicate}")
                self.changed.wait(min(remaining, 0.05))
