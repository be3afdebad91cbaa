"""Events no signal listens to, counted rather than stored: such an event can never alert, so it needs no
inbox row, no duplicate check and no commit before its 202. The web process counts them in memory by
minute and event name and adds the counts to the ledger's totals (bot/store/inbox.py, `add_totals`)
every `interval_s` on a background task, the database write off the event loop. A crash loses at most
what was counted since the last write; a store that cannot take them (a database outage) gets them on
a later try, none lost.

Memory stays bounded whatever names arrive and however long an outage lasts: past `max_names` totals
waiting, events of a name not yet waiting are counted under OTHER_EVENTS, one total per minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping

from bot.decide.outcomes import Outcome
from bot.store import TotalKey

log = logging.getLogger(__name__)
OTHER_EVENTS = "(other events)"
MAX_NAMES = 10_000


class Tally:
    def __init__(
        self,
        add_totals: Callable[[Mapping[TotalKey, int]], None],
        interval_s: float,
        max_names: int = MAX_NAMES,
        clock: Callable[[], float] = time.time,
    ):
        """`add_totals(counts)` adds counts to the store's totals in one transaction (in a thread);
        when it raises, nothing was added."""
        self._add_totals = add_totals
        self._interval_s = interval_s
        self._max_names = max_names
        self._clock = clock
        self._counts: dict[TotalKey, int] = {}
        self._writing = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._waiting = 0  # events counted and not yet in the store

    def count(self, names: Iterable[str], outcome: Outcome = Outcome.FILTERED) -> None:
        """Count one event of each name (repeats included) as received now."""
        minute = int(self._clock()) // 60 * 60
        for name in names:
            self._add(TotalKey(minute, name, outcome), 1)
            self._waiting += 1

    @property
    def waiting(self) -> int:
        """Events counted and not yet in the store (a write under way included)."""
        return self._waiting

    def _add(self, key: TotalKey, count: int) -> None:
        counts = self._counts
        if key not in counts and len(counts) >= self._max_names:
            key = key._replace(event_name=OTHER_EVENTS)
        counts[key] = counts.get(key, 0) + count

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="tally")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval_s)
            await self.flush()
        while not await self.flush():  # stopping: until the store takes them (stop() bounds the wait)
            await asyncio.sleep(self._interval_s)

    async def flush(self) -> bool:
        """Add what is counted to the store; False when the store could not take it (it is kept)."""
        async with self._writing:  # one write at a time, so counts are never added twice
            if not self._counts:
                return True
            taken, self._counts = self._counts, {}
            try:
                await asyncio.to_thread(self._add_totals, taken)
            except Exception as exc:
                for key, count in taken.items():
                    self._add(key, count)
                if not self._failing:
                    log.error(
                        "ledger totals not stored, kept for the next try: %s",
                        type(exc).__name__,
                        extra={"error": str(exc)[:300], "events_waiting": self.waiting},
                    )
                self._failing = True
                return False
            self._waiting -= sum(taken.values())
            if self._failing:
                log.info("ledger totals stored again")
            self._failing = False
            return True

    async def stop(self, timeout_s: float) -> None:
        """Write what is counted, retrying for at most `timeout_s` while the store cannot take it;
        what it has not taken by then is logged as lost."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
        except TimeoutError:
            lost = self.waiting
            task.cancel()
            log.error(
                "ledger totals lost on shutdown: the store did not take them", extra={"events_lost": lost}
            )
