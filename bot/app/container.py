"""The composition root: builds the store, ingest, pipeline, worker and delivery from settings and the
signals file, and starts and stops them.

A server has two roles. The *web* role answers HTTP (the webhook, Slack, health, metrics) and writes
the inbox; the *worker* role decides events and posts alerts. `serve` runs them in two processes so a
busy worker never slows the webhook down; tests and the demo run both in one (`Role.ALL`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from bot.config.settings import Settings, secret
from bot.config.signals_file import SignalsConfig
from bot.ingest.credentials import signing_key
from bot.ingest.writer import IngestWriter
from bot.ops.metrics import Metrics
from bot.store import Store
from bot.store.engine import make_engine

if TYPE_CHECKING:
    import aiohttp
    import httpx

    from bot.actions.alert_access import AlertAccess
    from bot.actions.crm_task import CrmTasks
    from bot.actions.not_relevant import NotRelevant
    from bot.actions.snooze import Snoozes
    from bot.alerts.compose import Composer
    from bot.alerts.delivery import Delivery
    from bot.alerts.summary_claude import Summarizer
    from bot.app.worker import Worker
    from bot.clients.hubspot import HubSpot
    from bot.clients.posthog_capture import PostHogCapture
    from bot.clients.posthog_writer import PostHogWriter
    from bot.commands.run import PostHogCommands
    from bot.decide.pipeline import Pipeline

log = logging.getLogger(__name__)


class Role(StrEnum):
    ALL = "all"
    WEB = "web"
    WORKER = "worker"


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
    crm_recovery_wait_s: float = 10.0  # HubSpot's search lags new records by a few seconds
    crm_timeout_s: float = 10.0
    # How long a webhook waits for its commit before answering 503: inside PostHog's 3-second
    # delivery timeout, so a database that stops answering gets a retry rather than a hung request.
    ingest_deadline_s: float = 1.5
    # How long a client may take to send a request head, and then its body, before it is cut off.
    head_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    slack_timeout_s: float = 10.0  # any one Slack call by the worker (at most stale_after_s / 3)
    slack_outage_limit_s: float = 3600.0  # an alert Slack does not answer for this long is failed
    posthog_options: dict[str, Any] = field(default_factory=dict)


def new_worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Services:
    def __init__(
        self,
        settings: Settings,
        config: SignalsConfig,
        tuning: Tuning | None = None,
        role: Role = Role.ALL,
        wake_worker: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.config = config
        self.tuning = tuning or Tuning()
        self.role = role
        self.clock = clock  # what "now" is for decisions (snoozes, cooldowns); tests move it
        self.worker_id = new_worker_id()
        self.metrics = Metrics()
        self.store = Store(
            make_engine(settings.database_url, busy_timeout_s=self.tuning.busy_timeout_s),
            stale_after_s=self.tuning.stale_after_s,
        )
        self.webhook_secret = secret(settings.posthog_webhook_secret)
        signing = secret(settings.posthog_webhook_signing_secret)
        self.webhook_signing_key = signing_key(signing) if signing else None
        self._wake_worker = wake_worker
        event_names = config.event_names
        self.ingest = IngestWriter(
            self.store, event_names.__contains__, self._on_pending, deadline_s=self.tuning.ingest_deadline_s
        )
        if role is not Role.WORKER:
            self.metrics.attach_store(self.store.outcome_counts, self.store.queue_depth)
        self.writer: PostHogWriter | None = None  # enrichment write-back, in the worker
        self.worker: Worker | None = None
        self.delivery: Delivery | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop_heartbeat = threading.Event()
        self._heartbeat_thread: threading.Thread | None = None
        self.last_heartbeat = 0.0

    # What acting on events and on Slack requests needs is built on first use: the web process
    # answers the webhook before any of it (and its imports) exists.
    @cached_property
    def http(self) -> httpx.AsyncClient:
        import httpx

        return httpx.AsyncClient(follow_redirects=False, headers={"User-Agent": "posthog-slack-signals"})

    @cached_property
    def capture(self) -> PostHogCapture | None:
        """Events people ask for from Slack (feedback, /posthog test …), sent and awaited."""
        from bot.clients.posthog_capture import PostHogCapture

        project_key = secret(self.settings.posthog_project_api_key)
        return PostHogCapture(project_key, self.settings.posthog_host) if project_key else None

    @cached_property
    def hubspot(self) -> HubSpot | None:
        from bot.clients.hubspot import HubSpot

        token = secret(self.settings.hubspot_access_token)
        if not token:
            return None
        return HubSpot(self.settings.hubspot_api_url, token, self.http, timeout_s=self.tuning.crm_timeout_s)

    @cached_property
    def pipeline(self) -> Pipeline:
        from bot.decide.enrich import Enricher
        from bot.decide.pipeline import Pipeline

        settings = self.settings
        return Pipeline(
            self.config,
            self.store,
            Enricher(self.config.enrichment, self.store, self.http, self.metrics),
            settings.posthog_app_host,
            settings.posthog_project_id,
            clock=self.clock,
        )

    @cached_property
    def composer(self) -> Composer:
        from bot.alerts.compose import Composer

        return Composer(self.metrics, self.summarizer)

    @cached_property
    def commands(self) -> PostHogCommands:
        from bot.clients.posthog_api import PostHogApi
        from bot.commands.run import PostHogCommands

        settings = self.settings
        personal_key = secret(settings.posthog_personal_api_key)
        api = (
            PostHogApi(settings.posthog_app_host, settings.posthog_project_id, personal_key, self.http)
            if personal_key and settings.posthog_project_id
            else None
        )
        return PostHogCommands(self.config, api, self.capture, self.pipeline, self.snoozes)

    # What the alert's controls do, each given what it acts with.
    @cached_property
    def alert_access(self) -> AlertAccess:
        from bot.actions.alert_access import AlertAccess

        return AlertAccess(self.store)

    @cached_property
    def crm_tasks(self) -> CrmTasks:
        from bot.actions.crm_task import CrmTasks

        return CrmTasks(
            self.alert_access,
            self.store,
            self.config,
            self.hubspot,
            recovery_wait_s=self.tuning.crm_recovery_wait_s,
        )

    @cached_property
    def snoozes(self) -> Snoozes:
        from bot.actions.snooze import Snoozes

        return Snoozes(self.alert_access, self.store)

    @cached_property
    def not_relevant(self) -> NotRelevant:
        from bot.actions.not_relevant import NotRelevant

        return NotRelevant(self.alert_access, self.store, self.config, self.capture)

    @cached_property
    def summarizer(self) -> Summarizer | None:
        """Claude summaries when ANTHROPIC_API_KEY is set; template summaries otherwise."""
        key = secret(self.settings.anthropic_api_key)
        if not key:
            return None
        from bot.alerts.summary_claude import Summarizer, utc_day
        from bot.alerts.summary_claude import make_client as make_llm_client

        settings, store = self.settings, self.store

        async def tokens_spent() -> int:
            return await asyncio.to_thread(store.tokens_used, utc_day(self.clock()))

        async def add_tokens(tokens: int) -> None:
            await asyncio.to_thread(store.add_tokens, utc_day(self.clock()), tokens)

        return Summarizer(
            make_llm_client(key, settings.anthropic_base_url, settings.summary_timeout_s),
            settings.summary_model,
            settings.summary_timeout_s,
            self.config.pii,
            self.metrics,
            tokens_spent,
            add_tokens,
            self.config.summary.daily_token_budget,
        )

    @property
    def runs_web(self) -> bool:
        return self.role is not Role.WORKER

    @property
    def runs_worker(self) -> bool:
        return self.role is not Role.WEB

    def _on_pending(self) -> None:
        if self.worker is not None:
            self.worker.notify()
        elif self._wake_worker is not None:
            self._wake_worker()

    def wake(self) -> None:
        """New events are stored: the worker looks now rather than at its next poll."""
        if self.worker is not None:
            self.worker.notify()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # Store calls run in threads; the default pool (cores + 4) would starve them under load.
        loop.set_default_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="store"))
        await asyncio.to_thread(self.store.create)
        if self.runs_web:
            self.ingest.start()
        if self.runs_worker:
            await self._start_worker()
        log.info(
            "started",
            extra={
                "role": str(self.role),
                "worker_id": self.worker_id,
                "database": self.store.engine.dialect.name,
            },
        )

    async def _start_worker(self) -> None:
        from bot.alerts.delivery import Delivery, make_slack_client, make_slack_session
        from bot.app.worker import Worker
        from bot.clients.posthog_writer import PostHogWriter

        settings, t = self.settings, self.tuning
        await asyncio.to_thread(self.store.heartbeat, self.worker_id)
        self.last_heartbeat = time.monotonic()
        self._stop_heartbeat.clear()
        self._heartbeat_thread = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        self._heartbeat_thread.start()
        # Bounded well inside the time after which another process could take a claim over.
        slack_timeout_s = min(t.slack_timeout_s, t.stale_after_s / 3)
        self._session = make_slack_session(slack_timeout_s)
        slack = make_slack_client(
            secret(settings.slack_bot_token) or "",
            settings.slack_api_url,
            settings.slack_retry_backoff_s,
            slack_timeout_s,
            self._session,
        )
        self.writer = PostHogWriter.create(
            secret(settings.posthog_project_api_key), settings.posthog_host, self.metrics, **t.posthog_options
        )
        self.delivery = Delivery(
            self.store,
            slack,
            self.metrics,
            self.worker_id,
            min_interval_s=t.channel_interval_s,
            lease_s=t.alert_lease_s,
            poll_s=t.delivery_poll_s,
            retry_base_s=t.alert_retry_base_s,
            may_act=self.may_act,
            call_timeout_s=slack_timeout_s,
            outage_limit_s=t.slack_outage_limit_s,
        )
        self.worker = Worker(
            self.store,
            self.pipeline,
            self.composer,
            self.delivery,
            self.writer,
            self.metrics,
            self.worker_id,
            concurrency=settings.worker_concurrency,
            lease_s=t.event_lease_s,
            poll_s=t.worker_poll_s,
            retry_base_s=t.event_retry_base_s,
            # In its own process on SQLite, committing on the loop thread keeps the write lock short.
            inline_commits=self.role is Role.WORKER and self.store.sqlite,
        )
        self._tasks = [
            asyncio.create_task(self.worker.run(), name="worker"),
            asyncio.create_task(self.delivery.run(), name="delivery"),
        ]

    def _heartbeat(self) -> None:
        """On its own thread, so a busy event loop or executor never makes this process look dead.
        Between beats it checkpoints SQLite's write-ahead log (about once a second)."""
        checkpoint_at = time.monotonic()
        while not self._stop_heartbeat.wait(min(1.0, self.tuning.heartbeat_s)):
            try:
                self.store.heartbeat(self.worker_id)
                self.last_heartbeat = time.monotonic()
                if time.monotonic() - checkpoint_at >= 1.0:
                    self.store.checkpoint()
                    checkpoint_at = time.monotonic()
            except Exception as exc:
                log.error("heartbeat failed: %s: %s", type(exc).__name__, str(exc)[:200])

    def may_act(self) -> bool:
        """Whether other processes still consider this one alive with margin to spare: claims are
        taken over only after `stale_after_s` without a heartbeat, so a process that has not beaten
        for half of that must not start a side effect (a Slack post) it might then share."""
        return time.monotonic() - self.last_heartbeat < self.tuning.stale_after_s / 2

    async def stop(self, grace_s: float = 10.0) -> None:
        """Decisions in progress get a moment, a Slack post in flight up to `grace_s` (so it is
        recorded rather than left for the next process to look up in the channel)."""
        if self.worker is not None:
            await self.worker.stop()
        if self.delivery is not None:
            await self.delivery.stop(grace_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.ingest.stop()
        if self.runs_worker:
            self._stop_heartbeat.set()
            if self._heartbeat_thread is not None:
                self._heartbeat_thread.join(timeout=5)
            try:
                await asyncio.to_thread(self.store.retire, self.worker_id)
            except Exception as exc:
                log.error("could not hand back claims on shutdown: %s", type(exc).__name__)
        if self.writer is not None:
            await asyncio.to_thread(self.writer.shutdown)
        built = vars(self)  # what was built on first use, and only that, is closed
        if built.get("capture") is not None:
            await built["capture"].aclose()
        if "http" in built:
            await built["http"].aclose()
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
            if depth == 0 and not self.worker.busy:
                return
            self.worker.notify()
            await asyncio.sleep(0.02)
