"""`auto_task`: the CRM task of a high-scoring alert, created right after the alert is posted.

Delivery hands each posted alert that owes one to `submit`, which creates it in the background (the
channel's next post does not wait for the CRM). Creation goes through `CrmTasks`, the button's own
path and key, so a click racing it, or another process, still makes one task. A process that died
between the post and the task leaves the alert owing it (`alerts.auto_task`, no task row): `run`
finds such alerts at start and every `sweep_s`, and an attempt abandoned mid-way is taken over after
`CrmTasks`' busy window, looking in the CRM for what it may have created before creating again.

A `deliver: digest` alert has no message of its own: delivery hands each posted digest to
`submit_digest`, which does the same for every alert it lists that owes its task, and the digest is
updated in place to show it (`CrmTasks._show_in_digest`); the sweep finds those alerts through
their digest (`owed_auto_tasks`) after a process died between the digest's post and their tasks.

A process that died after the task was created (or failed) but before the alert's message said so
leaves the message saying "Creating…": the state records the outcome only once the message shows it,
so the sweep finds those alerts too and shows the outcome the store kept, asking nothing of the CRM.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.crm_task import CrmTasks
from bot.store import Store

log = logging.getLogger(__name__)


class AutoTasks:
    def __init__(self, tasks: CrmTasks, store: Store, client: AsyncWebClient, sweep_s: float = 30.0):
        self.tasks = tasks
        self.store = store
        self.client = client
        self.sweep_s = sweep_s
        self._running: dict[str, asyncio.Task[None]] = {}

    def submit(self, alert_id: str) -> None:
        """Create the alert's task now, in the background (once per alert in this process)."""
        self._start(alert_id, self._create(alert_id))

    def submit_digest(self, digest_id: str) -> None:
        """Create, in the background, the tasks owed by the alerts the posted digest lists."""
        self._start(f"digest {digest_id}", self._digest(digest_id))

    async def _digest(self, digest_id: str) -> None:
        try:
            owed = await asyncio.to_thread(self.store.listed_auto_tasks, digest_id)
        except Exception as exc:  # the sweep finds them
            log.warning("cannot read a digest's automatic tasks: %s", type(exc).__name__)
            return
        for alert_id in owed:
            self.submit(alert_id)

    def _start(self, alert_id: str, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` on the alert in the background, unless something already runs on it here."""
        if alert_id in self._running:
            work.close()
            return
        task = asyncio.create_task(work, name=f"auto-task-{alert_id}")
        self._running[alert_id] = task
        task.add_done_callback(lambda _: self._running.pop(alert_id, None))

    async def _create(self, alert_id: str) -> None:
        try:
            await self.tasks.create_auto(self.client, alert_id)
        except Exception as exc:  # the sweep tries again; the alert keeps its button meanwhile
            log.error("automatic task failed: %s", type(exc).__name__, extra={"alert_id": alert_id})

    async def _show(self, alert_id: str) -> None:
        try:
            await self.tasks.show_settled(self.client, alert_id)
        except Exception as exc:  # the next sweep tries again
            log.warning("automatic task not shown: %s", type(exc).__name__, extra={"alert_id": alert_id})

    async def run(self) -> None:
        """`sweep` at start and every `sweep_s`."""
        while True:
            try:
                await self.sweep()
            except Exception as exc:
                log.warning("cannot read the automatic tasks owed: %s", type(exc).__name__)
            await asyncio.sleep(self.sweep_s)

    async def sweep(self) -> None:
        """Find the alerts still owed their task (a process died after posting them) and create it,
        and those whose message still says it is being created (a process died after it was created
        or failed) and show what became of it; in the background."""
        stale_before = time.time() - self.tasks.busy_s
        for alert_id in await asyncio.to_thread(self.store.owed_auto_tasks, stale_before):
            self.submit(alert_id)
        for alert_id in await asyncio.to_thread(self.store.unshown_auto_tasks, stale_before):
            self._start(alert_id, self._show(alert_id))

    async def drain(self) -> None:
        while self._running:
            await asyncio.wait(set(self._running.values()))
