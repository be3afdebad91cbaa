"""Forgetting what no decision can need any more, on a worker's schedule: the events a threshold
counted, once they are older than the longest window a signal may have, plus a day.

Every worker process does it (deleting what another already deleted costs nothing); the first round
comes one interval after the start, so a restart loop never does it more often than that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from bot.config.signals_file import MAX_THRESHOLD_WINDOW
from bot.store import Store

log = logging.getLogger(__name__)
KEEP_THRESHOLD_EVENTS = MAX_THRESHOLD_WINDOW + timedelta(days=1)


async def housekeeping(store: Store, every_s: float, clock: Callable[[], float] = time.time) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            before = clock() - KEEP_THRESHOLD_EVENTS.total_seconds()
            gone = await asyncio.to_thread(store.forget_threshold_events, before)
        except Exception as exc:  # the next round tries again; nothing depends on it meanwhile
            log.warning("housekeeping failed: %s", type(exc).__name__, extra={"error": str(exc)[:300]})
            continue
        if gone:
            log.info("forgot old threshold events", extra={"events": gone})
