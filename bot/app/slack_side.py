"""The web process's Slack side: the Bolt app with its listeners (handlers/), the `/slack/events`
endpoint in front of it, and Socket Mode.

It is built while the rest of the process starts, on a thread: Bolt, the SDK and what the listeners
act with (the CRM, PostHog's API, the pipeline for dry runs) take longer to import than everything
the webhook needs, so they overlap with the wait for `serve`'s worker, and the server answers once
both are done (imports running beside requests would hold the interpreter from them). A Slack
request that arrives before the build is done waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from bot.config.settings import secret

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.app.container import Services

log = logging.getLogger(__name__)
Endpoint = Callable[[Request], Awaitable[Response]]
_SLOW_IMPORTS = (
    "slack_bolt.async_app",
    "handlers.actions",
    "handlers.commands",
    "handlers.home",
    "handlers.views",
    "handlers.slack_events",
)


class _SameTokenNotice(logging.Filter):
    """Bolt warns that `token` is unused when SLACK_BOT_TOKEN is set and a client is given; the client
    carries that very token (and the SLACK_API_URL base), so the warning says nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def build_bolt(services: Services) -> AsyncApp | None:
    """The Bolt app, or None when Slack credentials are absent (the demo)."""
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from handlers import register
    from handlers.slack_events import unroutable

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
    app.error(unroutable)
    return app


class SlackSide:
    def __init__(self, services: Services):
        self.services = services
        self.bolt: AsyncApp | None = None
        self._endpoint: Endpoint | None = None
        self._building: asyncio.Task[Endpoint] | None = None
        self._socket_mode: Any = None
        self._connecting: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin building in the background, while the rest of the process starts."""
        if self._building is None:
            self._building = asyncio.create_task(self._build(), name="build-slack-side")

    async def wait_built(self, timeout_s: float) -> None:
        """Wait until the build is done, failed or not, or `timeout_s` passes."""
        self.start()
        assert self._building is not None
        await asyncio.wait({self._building}, timeout=timeout_s)

    async def endpoint(self) -> Endpoint:
        """The `/slack/events` endpoint, once built."""
        if self._endpoint is not None:
            return self._endpoint
        self.start()
        assert self._building is not None
        return await asyncio.shield(self._building)

    async def _build(self) -> Endpoint:
        for name in _SLOW_IMPORTS:
            await asyncio.to_thread(importlib.import_module, name)
        from handlers.slack_events import slack_events

        self.bolt = build_bolt(self.services)
        self._endpoint = slack_events(self.bolt, secret(self.services.settings.slack_signing_secret))
        self._start_socket_mode()
        return self._endpoint

    def _start_socket_mode(self) -> None:
        """With SLACK_APP_TOKEN, Slack's requests also arrive over Socket Mode (no public URL needed,
        e.g. for local development); the HTTP routes, the webhook included, are served either way.

        The SDK keeps retrying until it connects, so connecting runs in the background: a wrong app
        token or an unreachable Slack must not hold back anything else."""
        app_token = secret(self.services.settings.slack_app_token)
        if self.bolt is None or not app_token:
            return
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(self.bolt, app_token)

        async def connect() -> None:
            try:
                await handler.connect_async()
                log.info("Socket Mode connected")
            except Exception as exc:
                log.error("Socket Mode did not connect: %s", type(exc).__name__)

        self._socket_mode = handler
        self._connecting = asyncio.create_task(connect(), name="socket-mode-connect")

    async def stop(self) -> None:
        for task in (self._building, self._connecting):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._socket_mode is not None:
            with contextlib.suppress(Exception):
                await self._socket_mode.close_async()
