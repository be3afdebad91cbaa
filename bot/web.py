"""The ASGI application: `/slack/events` (handlers/slack_events, then Bolt), the PostHog webhook,
`/healthz` and `/metrics`. Trailing-slash redirects are off: PostHog counts a 3xx as a failed delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.processes import WorkerPool
from bot.services import Role, Services, Tuning
from bot.settings import Settings, secret
from bot.signals import SignalsConfig
from handlers import register
from handlers.bodies import ReadSlots
from handlers.posthog_webhook import posthog_webhook
from handlers.slack_events import slack_events


class _SameTokenNotice(logging.Filter):
    """Bolt warns that `token` is unused when SLACK_BOT_TOKEN is set and a client is given; the client
    carries that very token (and the SLACK_API_URL base), so the warning says nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def build_bolt(services: Services) -> AsyncApp | None:
    """The Bolt app, or None when Slack credentials are absent (the demo)."""
    settings = services.settings
    token = secret(settings.slack_bot_token)
    signing_secret = secret(settings.slack_signing_secret)
    if not token or not signing_secret:
        return None
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url)
    bolt_logger = logging.getLogger("slack_bolt.AsyncApp")
    bolt_logger.addFilter(_SameTokenNotice())
    app = AsyncApp(
        client=client, signing_secret=signing_secret, process_before_response=False, logger=bolt_logger
    )
    register(app, services)
    return app


HEALTH_TIMEOUT_S = 1.5  # a load balancer's probe gets its answer, 503 included, well inside its own


async def healthz(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            await asyncio.to_thread(services.store.ping)
            depth = await asyncio.to_thread(services.store.queue_depth)
    except Exception as exc:
        body = {
            "status": "unavailable",
            "store": services.store.engine.dialect.name,
            "error": type(exc).__name__,
        }
        return Response(orjson.dumps(body), status_code=503, media_type="application/json")
    body = {"status": "ok", "store": services.store.engine.dialect.name, "queue_depth": depth}
    return Response(orjson.dumps(body), media_type="application/json")


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    text = await asyncio.to_thread(services.metrics.render)
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")


async def _start_socket_mode(
    services: Services, bolt: AsyncApp | None
) -> tuple[Any, asyncio.Task[None]] | None:
    """With SLACK_APP_TOKEN, Slack's requests also arrive over Socket Mode (no public URL needed, e.g.
    for local development); the HTTP routes, the webhook included, are served either way.

    The SDK keeps retrying until it connects, so connecting runs in the background: a wrong app token
    or an unreachable Slack must not hold back start-up (and with it the webhook)."""
    app_token = secret(services.settings.slack_app_token)
    if bolt is None or not app_token:
        return None
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(bolt, app_token)
    log = logging.getLogger(__name__)

    async def connect() -> None:
        try:
            await handler.connect_async()
            log.info("Socket Mode connected")
        except Exception as exc:
            log.error("Socket Mode did not connect: %s", type(exc).__name__)

    task = asyncio.create_task(connect(), name="socket-mode-connect")
    return handler, task


async def _stop_socket_mode(socket_mode: tuple[Any, asyncio.Task[None]]) -> None:
    handler, connecting = socket_mode
    connecting.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await connecting
    with contextlib.suppress(Exception):
        await handler.close_async()


def create_app(services: Services, worker_process: WorkerPool | None = None) -> Starlette:
    """The ASGI app for these services; with `worker_process`, the worker runs (and is supervised)
    in that process instead of this one."""
    bolt = build_bolt(services)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.start()
        supervisor = None
        if worker_process is not None:
            # Not waited for: the webhook answers from the start, and what it stores waits safely
            # for the worker to come up.
            worker_process.start()
            supervisor = asyncio.create_task(worker_process.supervise(), name="supervise-worker")
        socket_mode = await _start_socket_mode(services, bolt)
        try:
            yield
        finally:
            if socket_mode is not None:
                await _stop_socket_mode(socket_mode)
            if worker_process is not None:
                await asyncio.to_thread(worker_process.stop)
            if supervisor is not None:
                supervisor.cancel()
            await services.stop()

    app = Starlette(
        routes=[
            Route(
                "/slack/events",
                slack_events(bolt, secret(services.settings.slack_signing_secret)),
                methods=["POST"],
            ),
            Route("/posthog/webhook", posthog_webhook, methods=["POST"]),
            Route("/posthog/webhook/", posthog_webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.services = services
    app.state.bolt = bolt
    app.state.unverified_reads = ReadSlots()
    return app


def create_server_app(
    settings: Settings, config: SignalsConfig, tuning: Tuning | None = None, workers: int = 1
) -> Starlette:
    """What `serve` runs: this process answers HTTP, supervised child processes do the work."""
    tuning = tuning or Tuning()
    pool = WorkerPool(settings, config, tuning, workers)
    services = Services(settings, config, tuning, role=Role.WEB, wake_worker=pool.wake)
    return create_app(services, pool)
