"""The ASGI application: the PostHog webhook (handlers/posthog_webhook, ahead of everything else),
`/slack/events` (handlers/slack_events, then Bolt), `/healthz` and `/metrics`. Trailing-slash redirects
are off: PostHog counts a 3xx as a failed delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.app.container import Role, Services
from bot.app.lifecycle import Lifecycle, settle_heap
from bot.app.processes import WorkerPool
from bot.app.slack_side import SlackSide
from bot.app.tuning import Tuning
from bot.config.settings import Settings
from bot.config.signals_file import SignalsConfig
from handlers.body_limits import ReadSlots
from handlers.posthog_webhook import PATHS as WEBHOOK_PATHS
from handlers.posthog_webhook import PostHogWebhook, Receive, Scope, Send

log = logging.getLogger(__name__)


SWITCH_INTERVAL_S = 0.0005  # how long a thread may hold the interpreter while another waits for it
# How long a start waits for the Slack side before it answers anyway (deliveries wait in the backlog
# meanwhile, well inside PostHog's timeout).
SLACK_BUILD_WAIT_S = 3.0


async def healthz(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        async with asyncio.timeout(services.tuning.health_timeout_s):
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


async def slack_events(request: Request) -> Response:
    slack: SlackSide = request.app.state.slack
    try:
        endpoint = await slack.endpoint()
    except Exception as exc:
        log.error("the Slack side did not start: %s", type(exc).__name__, extra={"error": str(exc)[:300]})
        body = orjson.dumps({"error": "Slack handling is not available; retry shortly"})
        return Response(body, status_code=503, media_type="application/json")
    return await endpoint(request)


def create_app(lifecycle: Lifecycle) -> WebhookFirst:
    """The ASGI app for the services `lifecycle` runs: started before the first request, stopped
    after the last."""
    services = lifecycle.services
    slack = SlackSide(services)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The Slack side builds while the rest starts (`serve` waits about a second for its worker):
        # its imports would otherwise hold the interpreter for a while just after the server began
        # answering, and every request in flight would wait for them.
        slack.start()
        await lifecycle.start()
        await slack.wait_built(SLACK_BUILD_WAIT_S)  # a build that failed is answered 503 per request
        if lifecycle.worker_processes is not None:  # `serve`: this process is the app's own
            settle_heap()
        try:
            yield
        finally:
            await slack.stop()
            await lifecycle.stop()

    app = Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.services = services
    app.state.slack = slack
    app.state.unverified_reads = reads = ReadSlots()
    return WebhookFirst(PostHogWebhook(services, reads), app)


class WebhookFirst:
    """The app as the server runs it: PostHog's deliveries go straight to their handler, which is
    written to the ASGI interface itself, everything else (and the lifespan) to Starlette."""

    def __init__(self, webhook: PostHogWebhook, app: Starlette):
        self.webhook = webhook
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in WEBHOOK_PATHS:
            await self.webhook(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_server_app(
    settings: Settings, config: SignalsConfig, tuning: Tuning | None = None, workers: int = 1
) -> WebhookFirst:
    """What `serve` runs: this process answers HTTP, supervised child processes do the work."""
    tuning = tuning or Tuning()
    # The loop thread is busy under load while the store's commits finish on other threads; each of
    # them needs the interpreter a few times to complete, and waits up to a switch interval each
    # time (5 ms by default), which left requests with events to store waiting for their commit.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    pool = WorkerPool(settings, config, tuning, workers)
    services = Services(settings, config, tuning, role=Role.WEB, wake_worker=pool.wake)
    return create_app(Lifecycle(services, pool))
