"""The composition root: builds the store, ingest, pipeline, worker and delivery from settings and the
signals file. It starts nothing: bot/app/lifecycle.py runs what is built here.

A server has two roles. The *web* role answers HTTP (the webhook, Slack, health, metrics) and writes
the inbox; the *worker* role decides events and posts alerts. `serve` runs them in two processes so a
busy worker never slows the webhook down; tests and the demo run both in one (`Role.ALL`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

from bot.app.heartbeat import Heartbeat
from bot.app.tuning import Tuning
from bot.config.settings import Settings, secret
from bot.config.signals_file import SignalsConfig
from bot.ingest.credentials import signing_key
from bot.ingest.tally import Tally
from bot.ingest.writer import IngestWriter
from bot.ops.metrics import Metrics
from bot.store import Store
from bot.store.engine import make_engine

if TYPE_CHECKING:
    import aiohttp
    import httpx
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.actions.alert_access import AlertAccess
    from bot.actions.auto_tasks import AutoTasks
    from bot.actions.crm_task import CrmTasks
    from bot.actions.home import Home
    from bot.actions.not_relevant import NotRelevant
    from bot.actions.snooze import Snoozes
    from bot.alerts.compose import Composer
    from bot.alerts.delivery import Delivery
    from bot.alerts.summary_claude import Summarizer
    from bot.app.worker import Worker
    from bot.clients.hubspot import HubSpot
    from bot.clients.posthog_api import PostHogApi
    from bot.clients.posthog_capture import PostHogCapture
    from bot.clients.posthog_writer import PostHogWriter
    from bot.commands.run import PostHogCommands
    from bot.decide.owners import OwnerResolver
    from bot.decide.persons import PersonLookup
    from bot.decide.pipeline import Pipeline
    from bot.schedule.digests import Digests
    from bot.schedule.queries import QuerySchedule
    from bot.schedule.reports import Reports


class Role(StrEnum):
    """Which part of the app a process runs. It lives with what builds the app because what is built
    follows from it (a web process's metrics read the store; a lone worker on SQLite commits on its
    loop thread); the lifecycle asks `runs_web` and `runs_worker` what to start."""

    ALL = "all"
    WEB = "web"
    WORKER = "worker"


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
        self.tally = Tally(self.store.add_totals, self.tuning.tally_interval_s)
        self.ingest = IngestWriter(
            self.store,
            event_names.__contains__,
            self.tally,
            self._on_pending,
            deadline_s=self.tuning.ingest_deadline_s,
        )
        # A worker process on SQLite calls the store on its loop: nothing else waits for that loop.
        self.store.on_loop = role is Role.WORKER and self.store.sqlite
        if role is not Role.WORKER:
            self.metrics.attach_store(self.store.outcome_counts, self.store.queue_depth)

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

    def use_channel_ids(self, config: SignalsConfig) -> None:
        """The signals file with its `#name` channels resolved to ids (bot/slack/channels.py): what
        decides from now on routes by id, including a pipeline the web side built already."""
        self.config = config
        if "pipeline" in vars(self):
            self.pipeline.config = config

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
            owners=self.owner_resolver,
            persons=self.person_lookup,
        )

    @cached_property
    def person_lookup(self) -> PersonLookup | None:
        """A query row's person from PostHog's Persons API (scope person:read), with a short time
        limit of its own; None without a personal API key and project id."""
        from bot.clients.posthog_api import PERSON_TIMEOUT_S
        from bot.decide.persons import PersonLookup

        api = self._posthog_api(PERSON_TIMEOUT_S)
        return PersonLookup(api) if api is not None else None

    @cached_property
    def owner_resolver(self) -> OwnerResolver:
        """`owner: crm` lookups (HubSpot, then Slack by email), bounded so an alert is never late.
        Its own Slack client retries nothing: a rate-limited lookup gives up and is tried next time."""
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.decide.owners import OwnerResolver

        settings, t = self.settings, self.tuning
        slack = AsyncWebClient(
            token=secret(settings.slack_bot_token) or "",
            base_url=settings.slack_api_url,
            timeout=max(1, int(t.owner_lookup_timeout_s)),
            retry_handlers=[],
        )
        return OwnerResolver(self.store, self.hubspot, slack, timeout_s=t.owner_lookup_timeout_s)

    @cached_property
    def composer(self) -> Composer:
        from bot.alerts.compose import Composer

        return Composer(self.metrics, self.summarizer)

    @cached_property
    def commands(self) -> PostHogCommands:
        from bot.clients.posthog_api import COMMAND_TIMEOUT_S
        from bot.commands.run import PostHogCommands

        api = self._posthog_api(COMMAND_TIMEOUT_S)
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
            busy_s=self.tuning.crm_task_busy_s,
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
    def home(self) -> Home:
        """The Home tab, published for whoever opens it."""
        from bot.actions.home import Home

        return Home(self.store, self.snoozes, self.config.access.writers, clock=self.clock)

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
        """The ingest stored events for the worker: the worker built here looks now, or the worker
        process is woken."""
        worker = vars(self).get("worker")  # built only where the worker runs
        if worker is not None:
            worker.notify()
        elif self._wake_worker is not None:
            self._wake_worker()

    # What the worker role runs (bot/app/lifecycle.py starts it), built when it starts.
    @cached_property
    def heartbeat(self) -> Heartbeat:
        return Heartbeat(self.store, self.worker_id, self.tuning.heartbeat_s, self.tuning.stale_after_s)

    @property
    def slack_timeout_s(self) -> float:
        """Any one Slack call by the worker: bounded well inside the time after which another process
        could take a claim over."""
        return min(self.tuning.slack_timeout_s, self.tuning.stale_after_s / 3)

    @cached_property
    def slack_session(self) -> aiohttp.ClientSession:
        from bot.alerts.delivery import make_slack_session

        return make_slack_session(self.slack_timeout_s)

    @cached_property
    def writer(self) -> PostHogWriter:
        """Enrichment write-back to PostHog."""
        from bot.clients.posthog_writer import PostHogWriter

        settings = self.settings
        return PostHogWriter.create(
            secret(settings.posthog_project_api_key),
            settings.posthog_host,
            self.metrics,
            **self.tuning.posthog_options,
        )

    @cached_property
    def worker_slack(self) -> AsyncWebClient:
        """The worker's Slack client: posts, updates, lookups."""
        from bot.alerts.delivery import make_slack_client

        settings = self.settings
        return make_slack_client(
            secret(settings.slack_bot_token) or "",
            settings.slack_api_url,
            settings.slack_retry_backoff_s,
            self.slack_timeout_s,
            self.slack_session,
        )

    @cached_property
    def auto_tasks(self) -> AutoTasks:
        from bot.actions.auto_tasks import AutoTasks

        return AutoTasks(self.crm_tasks, self.store, self.worker_slack, self.tuning.auto_task_sweep_s)

    @cached_property
    def delivery(self) -> Delivery:
        from bot.alerts.delivery import Delivery

        t = self.tuning
        return Delivery(
            self.store,
            self.worker_slack,
            self.metrics,
            self.worker_id,
            min_interval_s=t.channel_interval_s,
            burst=t.channel_burst,
            lease_s=t.alert_lease_s,
            poll_s=t.delivery_poll_s,
            retry_base_s=t.alert_retry_base_s,
            may_act=self.heartbeat.may_act,
            call_timeout_s=self.slack_timeout_s,
            outage_limit_s=t.slack_outage_limit_s,
            after_post=lambda alert_id: self.auto_tasks.submit(alert_id),
            after_digest=lambda digest_id: self.auto_tasks.submit_digest(digest_id),
        )

    @cached_property
    def worker(self) -> Worker:
        from bot.app.worker import Worker

        t = self.tuning
        return Worker(
            self.store,
            self.pipeline,
            self.composer,
            self.delivery,
            self.writer,
            self.metrics,
            self.worker_id,
            concurrency=self.settings.worker_concurrency,
            lease_s=t.event_lease_s,
            poll_s=t.worker_poll_s,
            retry_base_s=t.event_retry_base_s,
            # In its own process on SQLite, committing on the loop thread keeps the write lock short.
            inline_commits=self.store.on_loop,
        )

    @cached_property
    def digests(self) -> Digests:
        from bot.schedule.digests import Digests

        return Digests(self.store, self.delivery, self.config.digest, self.clock)

    @cached_property
    def query_schedule(self) -> QuerySchedule:
        """The query signals' runs, in each worker process (the store's lease lets one run each
        interval), with a PostHog client of their own: a HogQL query may take far longer than a
        command's."""
        from bot.schedule.queries import QuerySchedule

        api = self._posthog_api(self.tuning.query_timeout_s)
        return QuerySchedule(
            self.config.query_signals,
            self.store,
            api,
            self.metrics,
            self.worker_id,
            self._on_pending,
            clock=self.clock,
            max_rows=self.tuning.query_max_rows,
        )

    @cached_property
    def reports(self) -> Reports:
        """The scheduled report; only built when the signals file has `reports`."""
        from bot.schedule.reports import Reports

        assert self.config.reports is not None
        api = self._posthog_api(self.tuning.query_timeout_s)
        plan = None
        if api is not None:
            from bot.lint import build_lint_report, summary_lines

            async def plan() -> list[str]:
                return summary_lines(await build_lint_report(api, self.config, self.clock()))

        return Reports(
            self.store,
            self.delivery,
            self.config,
            self.config.reports,
            plan=plan,
            worker_id=self.worker_id,
            plan_missing=(
                "The tracking plan's health needs POSTHOG_PERSONAL_API_KEY (scope "
                "`event_definition:read`) and POSTHOG_PROJECT_ID."
            ),
            clock=self.clock,
        )

    def _posthog_api(self, timeout_s: float) -> PostHogApi | None:
        """A PostHog API client with its own time limit (a scheduled HogQL query may take far longer
        than a command's), or None without a personal API key and project id."""
        from bot.clients.posthog_api import PostHogApi

        settings = self.settings
        key = secret(settings.posthog_personal_api_key)
        if not (key and settings.posthog_project_id):
            return None
        return PostHogApi(
            settings.posthog_app_host, settings.posthog_project_id, key, self.http, timeout_s=timeout_s
        )
