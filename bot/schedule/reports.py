"""The scheduled report (`reports: {channel, every}`): every `every`, one message to the channel with
each signal's stats over the period, the query signals whose latest run failed, and the tracking
plan's health in a few lines.

The schedule is anchored at the first start of a worker that saw `reports` (kept in the store), so
the first report goes out one `every` after it and every process computes the same report times. A
period's report is queued in the outbox under a key of the channel and the period's end, in one
insert-or-ignore: processes due at the same moment, or one restarted mid-way, queue it once, and
delivery posts it once (looked for in the channel after an interrupted post). The period's row is
claimed before the report is composed, so one process reads the numbers and PostHog's event
definitions; a composer that dies is taken over once its heartbeat is stale (or its lease runs out),
and one whose composing failed takes its own claim up again at its next try. A process down at a
report time sends the latest period's report when it starts; periods missed before that are not
sent late; a report counts what happened in its own period, however late it is composed.
`send_now` (`python -m bot report`) sends one for the last `every` now, as a period of its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from bot.alerts.delivery import Delivery
from bot.clients.posthog_api import PostHogApiError
from bot.commands.stats_report import failing_queries
from bot.config.signals_file import Reports as ReportsConfig
from bot.config.signals_file import SignalsConfig
from bot.lint import explain_failure
from bot.slack.blocks.report import Report, report_message
from bot.store import Store
from bot.store.backoff import Backoff
from bot.store.reports import ReportClaim

log = logging.getLogger(__name__)
MAX_SLEEP_S = 3600.0  # look again at least this often, whatever the clock did meanwhile
RETRY_S = 60.0  # the longest pause after failures (the database away, say), or while another composes
COMPOSE_LEASE_S = 600.0  # a composer silent for longer is presumed dead and its report taken over

# The tracking plan's summary lines (`lint`'s), raising PostHogApiError when PostHog cannot say.
PlanSummary = Callable[[], Awaitable[Sequence[str]]]


def last_due(now: float, started_at: float, every_s: float) -> float | None:
    """The latest report time at or before `now`: a whole number of `every` after the schedule's
    start, the first one `every` after it; None before that."""
    periods = math.floor((now - started_at) / every_s)
    return started_at + periods * every_s if periods >= 1 else None


def next_due(now: float, started_at: float, every_s: float) -> float:
    periods = max(0, math.floor((now - started_at) / every_s))
    return started_at + (periods + 1) * every_s


def period_of(due: float) -> str:
    """A period's name (and key): its end, to the second, in UTC."""
    return datetime.fromtimestamp(due, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Reports:
    def __init__(
        self,
        store: Store,
        delivery: Delivery,
        config: SignalsConfig,
        settings: ReportsConfig,
        plan: PlanSummary | None,
        worker_id: str,
        plan_missing: str = "",
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.delivery = delivery
        self.config = config
        self.settings = settings
        self.plan = plan
        self.worker_id = worker_id
        self.plan_missing = plan_missing
        self.clock = clock
        self.every_s = settings.every.total_seconds()

    async def run(self) -> None:
        started_at: float | None = None
        backoff = Backoff(max_s=RETRY_S)
        while True:
            try:
                if started_at is None:
                    started_at = await asyncio.to_thread(
                        self.store.report_started_at, self.settings.channel, self.clock()
                    )
                sent = await self.send_due(started_at)
                backoff.succeeded()
            except Exception as exc:  # tried again soon; a report is never worth stopping the worker
                log.error("report failed: %s", type(exc).__name__, extra={"error": str(exc)[:300]})
                await asyncio.sleep(backoff.failed())
                continue
            if sent.busy:  # another process is composing it: look again, in case that one dies
                await asyncio.sleep(RETRY_S)
                continue
            now = self.clock()
            await asyncio.sleep(min(MAX_SLEEP_S, max(1.0, next_due(now, started_at, self.every_s) - now)))

    async def send_due(self, started_at: float) -> ReportClaim:
        """The latest period's report, unless it was queued already (`report_id` when this call
        queued it; `busy` while another process composes it)."""
        now = self.clock()
        due = last_due(now, started_at, self.every_s)
        if due is None:
            return ReportClaim()
        return await self._send(due, period_of(due), next_due(now, started_at, self.every_s))

    async def send_now(self) -> str | None:
        """A report of the last `every`, now, whatever the schedule; the schedule goes on as before."""
        now = self.clock()
        return (await self._send(now, f"now {period_of(now)} {uuid.uuid4().hex[:8]}", None)).report_id

    async def _send(self, end: float, period: str, next_at: float | None) -> ReportClaim:
        channel = self.settings.channel
        claim = await asyncio.to_thread(
            self.store.claim_report,
            uuid.uuid4().hex,
            channel,
            period,
            self.worker_id,
            self.clock(),
            COMPOSE_LEASE_S,
            self.settings.days,
        )
        if claim.report_id is None:
            return claim
        message = report_message(claim.report_id, await self.compose(end, next_at))
        if not await asyncio.to_thread(
            self.store.report_composed, claim.report_id, self.worker_id, message, self.clock()
        ):
            return ReportClaim()  # taken over meanwhile (this process was presumed dead)
        log.info("report queued", extra={"channel": channel, "alert_id": claim.report_id, "period": period})
        self.delivery.submit(claim.report_id, channel)
        return claim

    async def compose(self, end: float, next_at: float | None) -> Report:
        """What the report of the period ending at `end` says."""
        start = end - self.every_s
        stats = await asyncio.to_thread(self.store.signal_stats, start, end)
        runs = await asyncio.to_thread(self.store.last_query_runs)
        plan: Sequence[str] | None = None
        problem: str | None = None if self.plan is not None else self.plan_missing
        if self.plan is not None:
            try:
                plan = list(await self.plan())
            except PostHogApiError as exc:  # a missing scope, PostHog away: the report goes out all the same
                problem = f"The tracking plan could not be read: {explain_failure(exc)}."
            except Exception as exc:  # whatever else failed, the stats still go out
                log.error("reading the tracking plan failed: %s", type(exc).__name__)
                problem = f"The tracking plan could not be read ({type(exc).__name__})."
        return Report(
            start=start,
            end=end,
            days=self.settings.days,
            stats=stats,
            failing=failing_queries(runs, self.config),
            plan=plan,
            plan_problem=problem,
            next_at=next_at,
        )
