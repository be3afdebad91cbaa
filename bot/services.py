"""The composition root: builds the store, pipeline, worker and delivery from settings and the signals
file, and starts and stops them with the web server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
from slack_sdk.web.async_client import AsyncWebClient

from bot.clients.posthog_writer import PostHogWriter
from bot.db import make_engine
from bot.delivery import Delivery, make_slack_client
from bot.enrich import Enricher
from bot.ingest import IngestWriter
from bot.metrics import Metrics
from bot.pipeline import Pipeline
from bot.settings import Settings, secret
from bot.signals import SignalsConfig
from bot.store import Store
from bot.webhook_auth import signing_key
from bot.worker import Worker

log = logging.getLogger(__name__)


@dataclass
class Tuning:
    """Timings that tests and the demo shorten; production uses the defaults."""

    worker_poll_s: float = 1.0
    event_lease_s: float = 120.0
    event_retry_base_s: float = 2.0
    delivery_poll_s: float = 5.0
    alert_lease_s: float = 600.0
    alert_retry_base_s: float = 2.0
    channel_interval_s: float = 1.0
    busy_timeout_s: float = 5.0
    heartbeat_s: float = 5.0
    stale_after_s: float = 30.0
    posthog_options: dict[str, Any] = field(default_factory=dict)


def new_worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Services:
    def __init__(
        self,
        settings: Settings,
        config: SignalsConfig,
        tuning: Tuning | None = None,
        store: Store | None = None,
    ):
        self.settings = settings
        self.config = config
        self.tuning = tuning or Tuning()
        self.worker_id = new_worker_id()
        self.metrics = Metrics()
        self.store = store or Store(
            make_engine(settings.database_url, busy_timeout_s=self.tuning.busy_timeout_s),
            stale_after_s=self.tuning.stale_after_s,
        )
        self.metrics.attach_store(self.store.outcome_counts, self.store.queue_depth)
        self.webhook_secret = secret(settings.posthog_webhook_secret)
        signing = secret(settings.posthog_webhook_signing_secret)
        self.webhook_signing_key = signing_key(signing) if signing else None
        self.http = httpx.AsyncClient(follow_redirects=False, headers={"User-Agent": "posthog-slack-signals"})
        self.enricher = Enricher(config.enrichment, self.store, self.http, self.metrics)
        self.pipeline = Pipeline(
            config,
            self.store,
            self.enricher,
            self.metrics,
            settings.posthog_app_host,
            settings.posthog_project_id,
        )
        self.writer = PostHogWriter.create(
            secret(settings.posthog_project_api_key),
            settings.posthog_host,
            self.metrics,
            **self.tuning.posthog_options,
        )
        self.slack: AsyncWebClient | None = None
        self.delivery: Delivery | None = None
        self.worker: Worker | None = None
        self.ingest = IngestWriter(self.store, self.pipeline.wants, self._on_pending)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._stop_heartbeat = threading.Event()
        self._heartbeat_thread: threading.Thread | None = None

    def _on_pending(self) -> None:
        if self.worker is not None:
            self.worker.notify()

    async def start(self) -> None:
        """Create tables, then start the ingest writer, the worker and delivery."""
        loop = asyncio.get_running_loop()
        # Store calls run in threads; the default pool (cores + 4) would starve them under load.
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="store")
        loop.set_default_executor(self._executor)
        await asyncio.to_thread(self.store.create)
        await asyncio.to_thread(self.store.heartbeat, self.worker_id)
        self._stop_heartbeat.clear()
        self._heartbeat_thread = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        self._heartbeat_thread.start()
        self.ingest.start()
        self._session = aiohttp.ClientSession()
        token = secret(self.settings.slack_bot_token) or ""
        self.slack = make_slack_client(
            token, self.settings.slack_api_url, self.settings.slack_retry_backoff_s
        )
        self.slack.session = self._session
        t = self.tuning
        self.delivery = Delivery(
            self.store,
            self.slack,
            self.metrics,
            self.worker_id,
            min_interval_s=t.channel_interval_s,
            lease_s=t.alert_lease_s,
            poll_s=t.delivery_poll_s,
            retry_base_s=t.alert_retry_base_s,
        )
        self.worker = Worker(
            self.store,
            self.pipeline,
            self.delivery,
            self.writer,
            self.metrics,
            self.worker_id,
            concurrency=self.settings.worker_concurrency,
            lease_s=t.event_lease_s,
            poll_s=t.worker_poll_s,
            retry_base_s=t.event_retry_base_s,
        )
        self._tasks = [
            asyncio.create_task(self.worker.run(), name="worker"),
            asyncio.create_task(self.delivery.run(), name="delivery"),
        ]
        log.info("started", extra={"worker_id": self.worker_id, "database": self.store.engine.dialect.name})

    def _heartbeat(self) -> None:
        """On its own thread, so a busy event loop or executor never makes this process look dead."""
        while not self._stop_heartbeat.wait(self.tuning.heartbeat_s):
            try:
                self.store.heartbeat(self.worker_id)
            except Exception as exc:
                log.error("heartbeat failed: %s", type(exc).__name__)

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        if self.delivery is not None:
            await self.delivery.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.ingest.stop()
        self._stop_heartbeat.set()
        if self._heartbeat_thread is not None:
            self._heartbeat_thread.join(timeout=5)
        try:
            await asyncio.to_thread(self.store.retire, self.worker_id)
        except Exception as exc:
            log.error("could not hand back claims on shutdown: %s", type(exc).__name__)
        await asyncio.to_thread(self.writer.shutdown)
        await self.http.aclose()
        if self._session is not None:
            await self._session.close()
        self.store.dispose()

    async def idle(self) -> None:
        """Wait until every stored event is decided and every alert handled (demo and tests)."""
        assert self.worker is not None and self.delivery is not None
        while True:
            await self.worker.drain()
            await self.delivery.drain()
            depth = await asyncio.to_thread(self.store.queue_depth)
            if depth == 0 and not self.worker._tasks:
                return
            self.worker.notify()
            await asyncio.sleep(0.02)
