"""The worker: claims stored events, runs the pipeline, composes the alerts it decided, commits each
decision, hands alerts to delivery.

Claims are leases in the store, so a crashed process's events are picked up again when the lease
runs out, and several processes on one PostgreSQL database share the queue without coordination.
An event whose processing keeps failing is retried with backoff and, after its last attempt,
recorded as `failed`: it is never silently dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback

import orjson

from bot.alerts.compose import Composer
from bot.alerts.delivery import Delivery
from bot.clients.posthog_writer import PostHogWriter
from bot.decide.outcomes import Outcome, SignalDecision, gave_up
from bot.decide.pipeline import Pipeline, Prepared
from bot.ops.metrics import Metrics
from bot.store import ClaimedEvent, Commit, Finish, LedgerEntry, Store, is_row_error
from bot.store.backoff import Backoff
from bot.store.group_commit import Batcher
from bot.store.until_stored import until_stored

log = logging.getLogger(__name__)
DECISION_GRACE_S = 0.5
# The longest pause between claims while the database does not answer: a claim is one cheap query.
CLAIM_RETRY_MAX_S = 5.0


class Worker:
    def __init__(
        self,
        store: Store,
        pipeline: Pipeline,
        composer: Composer,
        delivery: Delivery,
        writer: PostHogWriter,
        metrics: Metrics,
        worker_id: str,
        concurrency: int = 16,
        lease_s: float = 120.0,
        poll_s: float = 1.0,
        max_attempts: int = 6,
        retry_base_s: float = 2.0,
        inline_commits: bool = False,
    ):
        self.store = store
        self.pipeline = pipeline
        self.composer = composer
        self.delivery = delivery
        self.writer = writer
        self.metrics = metrics
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self._wake = asyncio.Event()
        # Decisions of concurrently processed events share one transaction (group commit).
        self._commits: Batcher[Finish, Commit] = Batcher(
            "worker-commit",
            lambda items: store.finish_events(worker_id, items),
            max_size=64,
            inline=inline_commits,
            isolate=is_row_error,  # one event the database refuses never holds back the others
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def notify(self) -> None:
        """New events are stored: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        self._commits.start()
        backoff = Backoff(first_s=1.0, max_s=CLAIM_RETRY_MAX_S)
        while not self._stopping:
            self._wake.clear()
            if self._refill_due():
                free = self.concurrency - len(self._tasks)
                try:
                    claimed = await self.store.call(
                        self.store.claim_events, self.worker_id, free, self.lease_s
                    )
                    backoff.succeeded()
                except Exception as exc:
                    log.error("cannot claim events: %s", type(exc).__name__, extra={"error": str(exc)[:500]})
                    # New events stored (notify) mean the database answers again: no pause to wait out.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), backoff.failed())
                    continue
                prepared = await self._prepare(claimed)
                for event in claimed:
                    task = asyncio.create_task(self._process(event, prepared))
                    self._tasks.add(task)
                    task.add_done_callback(self._done)
                if len(claimed) == free:
                    continue  # there may be more right away
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)

    def _stops(self) -> bool:
        return self._stopping

    def _refill_due(self) -> bool:
        """Slots are refilled once half of them are free, so a busy worker claims in batches: a claim
        is a write transaction, as costly for one event as for many."""
        return len(self._tasks) <= self.concurrency // 2

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._refill_due():
            self._wake.set()

    async def stop(self, grace_s: float = DECISION_GRACE_S) -> None:
        """Stop claiming, give decisions in progress `grace_s` to finish, then drop the rest: a
        decision has no effect until it is committed, and its claim goes back with this process
        (Lifecycle.stop), so the next process decides it at once. A restart waits for no enrichment
        API or Claude."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            _, unfinished = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        self._commits.stop()

    async def drain(self) -> None:
        """Wait until nothing is being processed (Lifecycle.idle)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _prepare(self, claimed: list[ClaimedEvent]) -> Prepared | None:
        """The batch's bodies and account states, read at once; None when that read fails, and each
        event then reads its own (and fails alone, if it must)."""
        if not claimed:
            return None
        try:
            return await self.pipeline.prepare(claimed)
        except Exception as exc:
            log.warning(
                "cannot read the batch's accounts: %s", type(exc).__name__, extra={"error": str(exc)[:300]}
            )
            return None

    async def _process(self, event: ClaimedEvent, prepared: Prepared | None = None) -> None:
        extra = {"event_uuid": event.uuid, "request_id": event.request_id}
        try:
            decision = await self.pipeline.decide(event, prepared)
            alerts = [await self.composer.compose(plan) for plan in decision.alerts]
        except Exception as exc:
            self.metrics.pipeline_errors.inc()
            await self._failed(event, exc)
            return
        commit = await self._commit(event, Finish(event.uuid, decision.entry, alerts, event.received_at))
        if commit is None:
            return
        if not commit.committed:
            log.warning("lost the claim before committing; another worker decides", extra=extra)
            return
        channels = {a.id: a.channel for a in alerts}
        for alert_id in commit.alerts_created:
            self.delivery.submit(alert_id, channels[alert_id])
        log.info(
            "event decided",
            extra={
                **extra,
                "outcome": commit.outcome,
                "account": decision.entry.account,
                "alerts": commit.alerts_created,
            },
        )
        if decision.writeback is not None:
            try:
                self.writer.write(decision.writeback)
            except Exception as exc:  # write-back is best effort; the alert matters more
                log.warning("PostHog write-back failed: %s", type(exc).__name__, extra=extra)

    async def _commit(self, event: ClaimedEvent, finish: Finish) -> Commit | None:
        """Commit the decision, retrying briefly while the database is busy; on giving up, hand the
        event back so it is decided again soon (the decision has no side effects yet). A commit the
        database refuses for what the rows hold costs an attempt like any other failure, so after
        the last one the event is recorded as failed instead of being retried forever; an
        unreachable database costs none."""
        extra = {"event_uuid": event.uuid, "request_id": event.request_id}
        for attempt in range(4):
            try:
                return await self._commits.submit(finish)
            except Exception as exc:
                log.warning(
                    "commit failed (attempt %d): %s",
                    attempt + 1,
                    type(exc).__name__,
                    extra={**extra, "error": str(exc)[:300]},
                )
                if is_row_error(exc):
                    summary = f"commit refused: {type(exc).__name__}: {exc}"[:500]
                    await self._retry_or_give_up(event, summary)
                    return None
                await asyncio.sleep(0.1 * 3**attempt)
        await until_stored(
            self.store.retry_event,
            event.uuid,
            self.worker_id,
            "commit failed",
            1.0,
            stopping=self._stops,
            extra=extra,
        )
        return None

    async def _failed(self, event: ClaimedEvent, exc: Exception) -> None:
        extra = {"event_uuid": event.uuid, "request_id": event.request_id, "attempt": event.attempts}
        summary = f"{type(exc).__name__}: {exc}"[:500]
        log.error("processing failed: %s", summary, extra={**extra, "trace": traceback.format_exc()[-2000:]})
        await self._retry_or_give_up(event, summary)

    async def _retry_or_give_up(self, event: ClaimedEvent, summary: str) -> None:
        """Hand the event back for a later attempt with backoff; after the last one, record it as
        `failed`, so it is never silently dropped nor retried forever."""
        extra = {"event_uuid": event.uuid, "request_id": event.request_id, "attempt": event.attempts}
        if event.attempts < self.max_attempts:
            delay = min(600.0, self.retry_base_s * 2 ** (event.attempts - 1))
            await until_stored(
                self.store.retry_event,
                event.uuid,
                self.worker_id,
                summary,
                delay,
                stopping=self._stops,
                extra=extra,
            )
            return
        log.error("giving up on the event after %d attempts: %s", event.attempts, summary, extra=extra)
        entry = LedgerEntry.of(
            [SignalDecision(outcome=Outcome.FAILED, reason=gave_up(event.attempts, summary))],
            event_uuid=event.uuid,
            event_name=_event_name(event),
            distinct_id=None,
            account=None,
            event_time=None,
            request_id=event.request_id,
        )
        await until_stored(
            self.store.fail_event, event.uuid, self.worker_id, entry, stopping=self._stops, extra=extra
        )


def _event_name(event: ClaimedEvent) -> str:
    try:
        return str(orjson.loads(event.payload)["event"]["event"])[:400]
    except Exception:
        return "unknown"
