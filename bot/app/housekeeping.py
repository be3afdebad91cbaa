"""Forgetting what no decision can need any more, on a worker's schedule: the events a threshold
counted, once they are older than the longest window a signal may have, plus a day; the bodies of
decided events past `EVENT_PAYLOAD_RETENTION_DAYS` (their rows and ledger entries stay); and ledger
entries decided before `LEDGER_RETENTION_DAYS` (the inbox rows and `signal_hours` stay, and the
entries join `ledger_totals`; see bot/store/retention.py).

Every worker process does it (deleting what another already deleted costs nothing); the first round
comes one interval after the start, so a restart loop never does it more often than that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.config.signals_file import THRESHOLD_EVENTS_KEPT
from bot.store import Store

log = logging.getLogger(__name__)


async def housekeeping(
    store: Store,
    every_s: float,
    clock: Callable[[], float] = time.time,
    keep_payloads_s: float | None = None,
    keep_ledger_s: float | None = None,
) -> None:
    """Every `every_s`; `keep_payloads_s` None keeps every decided event's body, `keep_ledger_s` None
    every ledger entry. The first round looks at every old body; later ones only at what came of age
    since (with an interval's margin for events decided late)."""
    looked_before: float | None = None
    while True:
        await asyncio.sleep(every_s)
        try:
            now = clock()
            gone = await asyncio.to_thread(
                store.forget_threshold_events, now - THRESHOLD_EVENTS_KEPT.total_seconds()
            )
            bodies = 0
            if keep_payloads_s is not None:
                before = now - keep_payloads_s
                after = None if looked_before is None else looked_before - every_s
                bodies = await asyncio.to_thread(store.forget_payloads, before, after)
                looked_before = before
            entries = 0
            if keep_ledger_s is not None:
                entries = await asyncio.to_thread(store.forget_ledger_entries, now - keep_ledger_s)
        except Exception as exc:  # the next round tries again; nothing depends on it meanwhile
            log.warning("housekeeping failed: %s", type(exc).__name__, extra={"error": str(exc)[:300]})
            continue
        if gone:
            log.info("forgot old threshold events", extra={"events": gone})
        if bodies:
            log.info("forgot the bodies of old decided events", extra={"events": bodies})
        if entries:
            log.info("forgot old ledger entries", extra={"entries": entries})
