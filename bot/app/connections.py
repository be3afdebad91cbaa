"""Bounds on the HTTP server's connections, so sockets from anyone on the internet cannot exhaust
memory or file descriptors before a request is even authenticated.

uvicorn's httptools protocol, with four additions:
- a request head (request line and headers) must arrive whole within `head_timeout_s` of the
  connection opening or of the previous response, however slowly its bytes trickle in;
- its body must then arrive within `body_timeout_s` (408 and closed otherwise), one timer a
  connection rather than one a request in the app, and none at all when the body came with the head;
- a head larger than `max_head_bytes` is answered 431 and the connection closed;
- at most `max_connections` are open at once: past it, the connection idle the longest is closed to
  make room, and when none is idle the new one is answered 503 and closed. Refusals are logged, at
  most once a second with a count, so a flood cannot flood the log either.
Body sizes are bounded where they are read (handlers/body_limits.py, handlers/posthog_webhook.py).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import Counter
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

HEAD_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 10.0
MAX_HEAD_BYTES = 32 * 1024
FD_RESERVE = 128  # descriptors kept for the database pool, HTTP clients, logs and pipes
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}


def connection_cap(wanted: int) -> int:
    """`wanted`, or fewer when the process may not open that many descriptors. Raises the soft limit
    to the hard one first, as servers do, so the cap is what the machine allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, wanted + FD_RESERVE)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return max(16, min(wanted, soft - max(FD_RESERVE, soft // 8)))


_REFUSAL_KINDS = {
    "refused": "refused",
    "evicted": "idle closed for room",
    "oversized": "heads too large",
    "timed_out": "requests too slow",
}


class _Refusals:
    """Counts refused and evicted connections; logs them at most once a second."""

    def __init__(self) -> None:
        self.counts = Counter(dict.fromkeys(_REFUSAL_KINDS, 0))
        self._logged_at = 0.0

    def note(self, kind: str, open_now: int) -> None:
        self.counts[kind] += 1
        now = time.monotonic()
        if now - self._logged_at < 1.0:
            return
        self._logged_at = now
        so_far = ", ".join(f"{self.counts[k]} {label}" for k, label in _REFUSAL_KINDS.items())
        log.warning("connections bounded: %s so far; %d open", so_far, open_now)


REFUSALS = _Refusals()


class BoundedHttpProtocol(HttpToolsProtocol):
    """One connection. The limits are class attributes, set once by `bounded_protocol()`."""

    max_connections = 1000
    head_timeout_s = HEAD_TIMEOUT_S
    body_timeout_s = BODY_TIMEOUT_S
    max_head_bytes = MAX_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_head = True
        self._head_bytes = 0
        self._idle_since = time.monotonic()
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_due = False  # a request's head is in and its body is not complete yet

    # -- connection ---------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections and not self._evict_idle():
            REFUSALS.note("refused", len(self.connections))
            self._answer_and_close(503, b"too many connections; retry shortly")
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _evict_idle(self) -> bool:
        """Close the connection that has waited longest for a request head, to make room."""
        idle = [
            c for c in self.connections if isinstance(c, BoundedHttpProtocol) and c._idle() and c is not self
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c._idle_since)
        REFUSALS.note("evicted", len(self.connections))
        oldest.transport.close()
        self.connections.discard(oldest)
        return True

    def _idle(self) -> bool:
        return self._awaiting_head and self._head_bytes == 0 and not self.transport.is_closing()

    # -- the request head -------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._awaiting_head:
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end + 4
            if self._head_bytes > self.max_head_bytes:
                REFUSALS.note("oversized", len(self.connections))
                self._answer_and_close(431, b"request head too large")
                return
        super().data_received(data)
        if self._body_due and self._head_timer is None and not self.transport.is_closing():
            # The body is still coming: it gets `body_timeout_s`. (Most bodies arrive with their
            # head, in the same read, and never need the timer.)
            self._head_timer = self.loop.call_later(self.body_timeout_s, self._body_timed_out)

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._body_due = True
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._body_due = False
        self._disarm_head_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._awaiting_head = True
            self._head_bytes = 0
            self._idle_since = time.monotonic()
            self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._awaiting_head and not self.transport.is_closing():
            if self._head_bytes:  # a client that started a request and never finished its head
                REFUSALS.note("timed_out", len(self.connections))
                self._answer_and_close(408, b"request head not received in time")
            else:
                self.transport.close()  # an idle keep-alive or a socket that never spoke

    def _body_timed_out(self) -> None:
        self._head_timer = None
        if self._body_due and not self.transport.is_closing():
            REFUSALS.note("timed_out", len(self.connections))
            self._answer_and_close(408, b"request body not received in time")

    def _answer_and_close(self, status: int, message: bytes) -> None:
        reason = {
            408: b"Request Timeout",
            431: b"Request Header Fields Too Large",
            503: b"Service Unavailable",
        }
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, reason[status], len(message), message)
        )
        self.transport.close()


def bounded_protocol(
    max_connections: int, head_timeout_s: float = HEAD_TIMEOUT_S, body_timeout_s: float = BODY_TIMEOUT_S
) -> type[BoundedHttpProtocol]:
    """The protocol class for uvicorn's `http=`, with these limits."""
    return type(
        "BoundedHttpProtocol",
        (BoundedHttpProtocol,),
        {
            "max_connections": connection_cap(max_connections),
            "head_timeout_s": head_timeout_s,
            "body_timeout_s": body_timeout_s,
        },
    )
