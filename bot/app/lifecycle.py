"""Runs what the composition root (container.py) builds: starts it in order and stops it in reverse.

Starting: the schema; the ingest and its tally (web role); the heartbeat, then the worker,
delivery, housekeeping and the query signals' schedule (worker role); `serve`'s worker processes.
Stopping: the worker processes; decisions in progress get a moment and a Slack post in flight its
grace; the ingest, and the tally's last counts; the heartbeat, and this process's claims handed back
so the next process takes them at once; last, whatever holds connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from bot.slack.channels import channel_names, resolved

if TYPE_CHECKING:
    from bot.alerts.delivery import Delivery
    from bot.app.container import Services
    from bot.app.processes import WorkerPool
    from bot.app.worker import Worker

log = logging.getLogger(__name__)
STORE_THREADS = 32
# How long `serve` waits for its worker processes before it answers anyway: deliveries that arrive
# meanwhile wait in the listening socket's backlog, so this stays well inside PostHog's timeout.
WORKER_READY_S = 3.0
TALLY_STOP_S = 5.0  # how long stopping retries the last counts while the store cannot take them


def settle_heap() -> None:
    """For a process that runs the app and nothing else (`serve`'s web and worker processes), once it
    has started: what start-up built (modules, settings, clients) lives as long as the process, so it
    is moved out of the collector's sight, and a full collection no longer walks it (which stalls
    every request in flight for tens of milliseconds). Garbage is collected first, not frozen."""
    gc.collect()
    gc.freeze()


class Lifecycle:
    def __init__(self, services: Services, worker_processes: WorkerPool | None = None):
        """With `worker_processes`, the worker runs (and is supervised) in those processes instead of
        this one."""
        self.services = services
        self.worker_processes = worker_processes
        self.worker: Worker | None = None
        self.delivery: Delivery | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._supervisor: asyncio.Task[None] | None = None

    async def start(self) -> None:
        services = self.services
        loop = asyncio.get_running_loop()
        # Store calls run in threads; the default pool (cores + 4) would starve them under load.
        loop.set_default_executor(ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="store"))
        if self.worker_processes is not None:
            # Started first, so that their start-up overlaps this process's; each upgrades the schema
            # too, one process at a time (see Store.upgrade), finding nothing left to do but once.
            self.worker_processes.start()
        await asyncio.to_thread(services.store.upgrade)
        if services.runs_web:
            services.ingest.start()
            services.tally.start()
        if services.runs_worker:
            await self._start_worker()
        log.info(
            "started",
            extra={
                "role": str(services.role),
                "worker_id": services.worker_id,
                "database": services.store.engine.dialect.name,
            },
        )
        if self.worker_processes is not None:
            # Answering only once the worker decides events (about a second) keeps the first alerts
            # from waiting on its start; a worker that does not come up in time holds nothing back:
            # what the webhook stores waits safely, and the supervisor restarts a worker that died.
            if not await asyncio.to_thread(self.worker_processes.wait_ready, WORKER_READY_S):
                log.warning("the worker is not ready after %.0fs; answering anyway", WORKER_READY_S)
            self._supervisor = asyncio.create_task(self.worker_processes.supervise(), name="supervise-worker")

    async def _start_worker(self) -> None:
        services = self.services
        await asyncio.to_thread(services.heartbeat.start)
        if channel_names(services.config):  # before anything decides: routes carry channel ids
            services.use_channel_ids(await resolved(services.worker_slack, services.config))
        self.worker, self.delivery = services.worker, services.delivery
        from bot.app.housekeeping import housekeeping

        self._tasks = [
            asyncio.create_task(self.worker.run(), name="worker"),
            asyncio.create_task(self.delivery.run(), name="delivery"),
            asyncio.create_task(
                housekeeping(
                    services.store,
                    services.tuning.housekeeping_s,
                    services.clock,
                    keep_payloads_s=services.settings.event_payload_retention_days * 86400.0 or None,
                    keep_ledger_s=services.settings.ledger_retention_days * 86400.0 or None,
                ),
                name="housekeeping",
            ),
        ]
        # Always: an alert may owe its automatic task to a signal since changed (one cheap read a sweep).
        self._tasks.append(asyncio.create_task(services.auto_tasks.run(), name="auto-tasks"))
        # Always: alerts may wait for a digest of a signal that has since been changed to `now`.
        self._tasks.append(asyncio.create_task(services.digests.run(), name="digests"))
        if services.config.reports is not None:
            self._tasks.append(asyncio.create_task(services.reports.run(), name="reports"))
        if services.config.query_signals:  # once the worker runs, to decide the rows they store
            self._tasks.append(asyncio.create_task(services.query_schedule.run(), name="query-schedule"))

    def wake(self) -> None:
        """New events are stored: the worker looks now rather than at its next poll."""
        if self.worker is not None:
            self.worker.notify()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Decisions in progress get a moment, a Slack post in flight up to `grace_s` (so it is
        recorded rather than left for the next process to look up in the channel)."""
        services = self.services
        if self.worker_processes is not None:
            await asyncio.to_thread(self.worker_processes.stop)
        if self._supervisor is not None:
            self._supervisor.cancel()
        if self.worker is not None:
            await self.worker.stop()
        if self.delivery is not None:
            await self.delivery.stop(grace_s)
        if "auto_tasks" in vars(services):  # a task being created gets the same grace as a post
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(services.auto_tasks.drain(), grace_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        services.ingest.stop()
        if services.runs_web:
            await services.tally.stop(TALLY_STOP_S)
        if services.runs_worker:
            services.heartbeat.stop()
            try:
                await asyncio.to_thread(services.store.retire, services.worker_id)
            except Exception as exc:
                log.error("could not hand back claims on shutdown: %s", type(exc).__name__)
        built = vars(services)  # what was built on first use, and only that, is closed
        if "writer" in built:
            await asyncio.to_thread(built["writer"].shutdown)
        if built.get("capture") is not None:
            await built["capture"].aclose()
        if "http" in built:
            await built["http"].aclose()
        if "slack_session" in built:
            await built["slack_session"].close()
        services.store.dispose()

    async def idle(self) -> None:
        """Wait until every stored event is decided and every alert handled (the demo shows each
        delivery's outcome before sending the next)."""
        assert self.worker is not None and self.delivery is not None
        while True:
            await self.worker.drain()
            await self.delivery.drain()
            depth = await asyncio.to_thread(self.services.store.queue_depth)
            if depth == 0 and not self.worker.busy:
                return
            self.worker.notify()
            await asyncio.sleep(0.02)
