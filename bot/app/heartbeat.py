"""This process's heartbeat in the store, and whether it may still start a side effect.

Other processes take a claim over once its claimer has not beaten for `stale_after_s`, so the
heartbeat runs on a thread of its own: a busy event loop or executor never makes this process look
dead. Between beats the same thread checkpoints SQLite's write-ahead log, which writers never do
(see bot/store/engine.py). The composition root builds it (delivery asks `may_act` before each
post); the lifecycle starts and stops it.
"""

from __future__ import annotations

import logging
import threading
import time

from bot.store import Store

log = logging.getLogger(__name__)
CHECKPOINT_EVERY_S = 1.0


class Heartbeat:
    def __init__(self, store: Store, worker_id: str, interval_s: float, stale_after_s: float):
        self.store = store
        self.worker_id = worker_id
        self.interval_s = interval_s
        self.stale_after_s = stale_after_s
        self._last_beat = 0.0  # time.monotonic() of the last beat the store took
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Beat once, so the claims taken right after are covered, then keep beating on a thread."""
        self.store.heartbeat(self.worker_id)
        self._last_beat = time.monotonic()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def may_act(self) -> bool:
        """Whether other processes still consider this one alive with margin to spare: claims are
        taken over only after `stale_after_s` without a heartbeat, so a process that has not beaten
        for half of that must not start a side effect (a Slack post) it might then share."""
        return time.monotonic() - self._last_beat < self.stale_after_s / 2

    def _beat(self) -> None:
        """Beats (at least once a second), and checkpoints the write-ahead log about once a second."""
        checkpoint_at = time.monotonic()
        while not self._stopping.wait(min(1.0, self.interval_s)):
            try:
                self.store.heartbeat(self.worker_id)
                self._last_beat = time.monotonic()
                if time.monotonic() - checkpoint_at >= CHECKPOINT_EVERY_S:
                    self.store.checkpoint()
                    checkpoint_at = time.monotonic()
            except Exception as exc:
                log.error("heartbeat failed: %s: %s", type(exc).__name__, str(exc)[:200])
