"""`POST /posthog/webhook`: authenticate, bound, parse, store durably (what a signal listens to; the
rest is counted), then answer 202.

Nothing slow happens here: enrichment, scoring and Slack run in the worker after the commit.
Statuses follow the SPEC: 202, 400, 401, 413, 422, 503, and never a redirect.
"""

from __future__ import annotations

import logging
import uuid

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bot.app.container import Services
from bot.ingest.credentials import may_be_signed, shared_secret_ok, standard_signature_ok
from bot.ingest.webhook_body import BodyError, parse_request
from bot.store import StoreUnavailable
from handlers.body_limits import BodyTimeout, BodyTooLarge, ReadersBusy, closing, read_capped

log = logging.getLogger(__name__)


def _json(status: int, payload: dict[str, object]) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _error(services: Services, status: int, message: str, request_id: str) -> Response:
    services.metrics.webhook_events.add("rejected")
    log.info("webhook rejected: %s", message[:300], extra={"request_id": request_id, "status": status})
    return _json(status, {"error": message, "request_id": request_id})


async def posthog_webhook(request: Request) -> Response:
    services: Services = request.app.state.services
    request_id = (request.headers.get("webhook-id") or uuid.uuid4().hex)[:64]
    limit = services.settings.webhook_max_bytes

    # A request with no credential is refused before its body is read: unauthenticated traffic
    # costs a header parse, not a buffer of up to WEBHOOK_MAX_BYTES.
    headers = request.headers
    trusted = shared_secret_ok(headers, services.webhook_secret)
    if not trusted and not may_be_signed(headers, services.webhook_signing_key):
        return closing(_error(services, 401, "missing or invalid webhook credential", request_id))

    try:
        slots = None if trusted else request.app.state.unverified_reads
        raw = await read_capped(request, limit, services.tuning.body_timeout_s, slots)
    except BodyTooLarge:
        message = f"body larger than WEBHOOK_MAX_BYTES ({limit} bytes)"
        return closing(_error(services, 413, message, request_id))
    except BodyTimeout:
        return closing(_error(services, 408, "the body did not arrive in time", request_id))
    except ReadersBusy:
        message = "too many unverified requests; retry shortly"
        return closing(_error(services, 503, message, request_id), retry_after_s=1)

    if not trusted and not standard_signature_ok(headers, raw, services.webhook_signing_key):
        return closing(_error(services, 401, "missing or invalid webhook credential", request_id))

    try:
        events = parse_request(raw)
    except BodyError as exc:
        return _error(services, exc.status, str(exc), request_id)

    try:
        result = await services.ingest.submit(events, request_id)
    except StoreUnavailable:
        services.metrics.webhook_events.add("rejected", len(events))
        log.error("webhook not stored: the store is unavailable", extra={"request_id": request_id})
        return _json(503, {"error": "the event store is unavailable; retry later", "request_id": request_id})

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
    response = _json(202, {"accepted": result.accepted, "duplicates": result.duplicates})
    response.headers["X-Request-Id"] = request_id
    return response
