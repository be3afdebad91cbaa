"""`POST /posthog/webhook`: authenticate, bound, parse, store durably (what a signal listens to; the
rest is counted), then answer 202.

Nothing slow happens here: enrichment, scoring and Slack run in the worker after the commit.
Statuses follow the SPEC: 202, 400, 401, 408, 413, 422, 503, and never a redirect.

This is the route PostHog calls for every event a project sends, so it is a plain ASGI app that the
server hands the request to before the web framework's routing and middleware (bot/app/web.py): it
reads the headers and body as they arrive and answers with one pre-encoded header list.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from starlette.datastructures import Headers

from bot.app.container import Services
from bot.ingest.credentials import may_be_signed, shared_secret_ok, standard_signature_ok
from bot.ingest.webhook_body import BodyError, parse_request
from bot.store import StoreUnavailable
from handlers.body_limits import ReadSlots

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PATHS = ("/posthog/webhook", "/posthog/webhook/")
_JSON = (b"content-type", b"application/json")
_CLOSE = (b"connection", b"close")
# Request ids for deliveries PostHog did not sign: unique in this process and across processes, and
# far cheaper than a uuid4 on the webhook's path.
_ID_PREFIX = os.urandom(4).hex()
_ids = itertools.count()


class _Refused(Exception):
    def __init__(self, status: int, message: str, retry_after_s: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class PostHogWebhook:
    """The ASGI app of the webhook route; `reads` bounds how many bodies from clients not yet
    authenticated are read at once (shared with /slack/events)."""

    def __init__(self, services: Services, reads: ReadSlots):
        self.services = services
        self.reads = reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _send(
                send, 405, b"Method Not Allowed", [(b"allow", b"POST"), (b"content-type", b"text/plain")]
            )
            return
        headers = Headers(scope=scope)
        request_id = (headers.get("webhook-id") or f"{_ID_PREFIX}{next(_ids):012x}")[:64]
        try:
            status, payload = await self._handle(headers, receive, request_id)
        except _Refused as refused:
            extra = [_CLOSE] + (
                [(b"retry-after", str(refused.retry_after_s).encode())] if refused.retry_after_s else []
            )
            await self._refuse(send, refused.status, str(refused), request_id, extra)
            return
        except BodyError as exc:
            await self._refuse(send, exc.status, str(exc), request_id, [])
            return
        except _Gone:
            return
        rid = request_id.encode("latin-1", "replace")
        await _send(send, status, orjson.dumps(payload), [_JSON, (b"x-request-id", rid)])

    async def _handle(
        self, headers: Headers, receive: Receive, request_id: str
    ) -> tuple[int, dict[str, Any]]:
        services = self.services
        limit = services.settings.webhook_max_bytes
        # A request with no credential is refused before its body is read: unauthenticated traffic
        # costs a header parse, not a buffer of up to WEBHOOK_MAX_BYTES.
        trusted = shared_secret_ok(headers, services.webhook_secret)
        if not trusted and not may_be_signed(headers, services.webhook_signing_key):
            raise _Refused(401, "missing or invalid webhook credential")
        raw = await _read_body(receive, headers, limit, None if trusted else self.reads)
        if not trusted and not standard_signature_ok(headers, raw, services.webhook_signing_key):
            raise _Refused(401, "missing or invalid webhook credential")
        events = parse_request(raw, services.ingest.wanted)
        try:
            result = await services.ingest.submit(events, request_id)
        except StoreUnavailable:
            services.metrics.webhook_events.add("rejected", len(events))
            log.error("webhook not stored: the store is unavailable", extra={"request_id": request_id})
            return 503, {"error": "the event store is unavailable; retry later", "request_id": request_id}
        counts = services.metrics.webhook_events
        counts.add("accepted", result.accepted)
        counts.add("duplicate", result.duplicates)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "webhook stored",
                extra={
                    "request_id": request_id,
                    "accepted": result.accepted,
                    "duplicates": result.duplicates,
                    "event_uuids": list(result.accepted_uuids[:20]),
                },
            )
        return 202, {"accepted": result.accepted, "duplicates": result.duplicates}

    async def _refuse(
        self, send: Send, status: int, message: str, request_id: str, extra: list[tuple[bytes, bytes]]
    ) -> None:
        self.services.metrics.webhook_events.add("rejected")
        log.info("webhook rejected: %s", message[:300], extra={"request_id": request_id, "status": status})
        body = orjson.dumps({"error": message, "request_id": request_id})
        await _send(send, status, body, [_JSON, *extra])


class _Gone(Exception):
    """The client went away before its body arrived: nobody to answer."""


async def _read_body(receive: Receive, headers: Headers, limit: int, slots: ReadSlots | None) -> bytes:
    """The body, read at most `limit` bytes far; with `slots` (the client is not authenticated yet),
    one of the few reads such clients may have at once. The server gives a body its time
    (bot/app/connections.py: 408 and closed when it does not arrive within `body_timeout_s`)."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _Refused(413, f"body larger than WEBHOOK_MAX_BYTES ({limit} bytes)")
    if slots is not None:
        if slots.free <= 0:
            raise _Refused(503, "too many unverified requests; retry shortly", retry_after_s=1)
        slots.take()
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Refused(413, f"body larger than WEBHOOK_MAX_BYTES ({limit} bytes)")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
    finally:
        if slots is not None:
            slots.give_back()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
