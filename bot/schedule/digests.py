"""When `deliver: digest` alerts go out: once a day at `digest.at` in `digest.timezone`, one message per
channel listing what waited (bot/slack/blocks/digest.py), posted through the alerts' delivery.

A day's digest covers the alerts created before that day's time; the period is that local date, which
the store uses to keep one digest per channel per day across processes and restarts. A process that
starts after the time (or was down at it) sends the day's digest at once. `send_now` (`python -m bot
digest`) takes whatever waits, as a period of its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.alerts.delivery import Delivery
from bot.config.signals_file import Digest
from bot.slack.blocks.digest import digest_message
from bot.store import Store
from bot.store.backoff import Backoff

log = logging.getLogger(__name__)
MAX_SLEEP_S = 3600.0  # look again at least this often, whatever the clock did meanwhile
RETRY_S = 30.0  # the longest pause after failures (the database away, say)


def last_due(now: float, digest: Digest) -> tuple[float, str]:
    """The latest digest time at or before `now`, and its period (the local date)."""
    zone = digest.zone
    day = datetime.fromtimestamp(now, zone).date()
    due = datetime.combine(day, digest.time_of_day, tzinfo=zone)
    if due.timestamp() > now:
        due = datetime.combine(day - timedelta(days=1), digest.time_of_day, tzinfo=zone)
    return due.timestamp(), due.date().isoformat()


def next_due(now: float, digest: Digest) -> float:
    """The first digest time after `now` (the local time of day, across daylight saving changes)."""
    _, period = last_due(now, digest)
    day = datetime.fromisoformat(period).date() + timedelta(days=1)
    return datetime.combine(day, digest.time_of_day, tzinfo=digest.zone).timestamp()


class Digests:
    def __init__(
        self,
        store: Store,
        delivery: Delivery,
        digest: Digest,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.delivery = delivery
        self.digest = digest
        self.clock = clock

    async def run(self) -> None:
        backoff = Backoff(max_s=RETRY_S)
        while True:
            try:
                await self.send_due()
                backoff.succeeded()
            except Exception as exc:  # tried again soon; the alerts keep waiting meanwhile
                log.error("digest failed: %s", type(exc).__name__, extra={"error": str(exc)[:300]})
                await asyncio.sleep(backoff.failed())
                continue
            now = self.clock()
            await asyncio.sleep(min(MAX_SLEEP_S, max(1.0, next_due(now, self.digest) - now)))

    async def send_due(self) -> list[str]:
        """The digests of the latest digest time that are not sent yet."""
        due, period = last_due(self.clock(), self.digest)
        return await self._take(due, period)

    async def send_now(self) -> list[str]:
        """Every waiting alert, now, in a digest per channel; and every digest taken before but not
        in Slack yet (delivery posts one only when it is due, or when the process that claimed it
        is gone, after looking for it in the channel)."""
        unsent = await asyncio.to_thread(self.store.unsent_digests)
        for digest_id, channel in unsent:
            self.delivery.submit(digest_id, channel)
        now = self.clock()
        return [digest_id for digest_id, _ in unsent] + await self._take(now, f"now {now:.6f}")

    async def _take(self, before: float, period: str) -> list[str]:
        taken = []
        for channel in await asyncio.to_thread(self.store.digest_channels, before):
            digest_id = await asyncio.to_thread(
                self.store.take_digest, channel, period, before, digest_message
            )
            if digest_id is None:
                continue
            log.info("digest queued", extra={"channel": channel, "alert_id": digest_id, "period": period})
            self.delivery.submit(digest_id, channel)
            taken.append(digest_id)
        return taken
