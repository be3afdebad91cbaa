"""Group commit: many concurrent callers, one database transaction at a time.

Callers queue items on the event loop and await their own result. One batch at a time runs on a
dedicated thread and takes everything queued so far; while it runs, the next batch gathers. So there
is one thread hand-off and one commit per batch rather than per caller, throughput grows with load,
and a caller's result still means "committed".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(
        self,
        name: str,
        flush: Callable[[list[T]], Sequence[R]],
        size: Callable[[T], int] = lambda item: 1,
        max_size: int = 1000,
        after: Callable[[Sequence[R]], None] | None = None,
        inline: bool = False,
        isolate: Callable[[Exception], bool] = lambda error: False,
        deadline_s: float | None = None,
    ):
        """`flush(items)` runs on the batch thread and returns one result per item, in order; when it
        raises, every caller in the batch gets the exception, unless `isolate(error)` says the error
        is about one item's data rather than the database: then each item is flushed on its own, so
        only the callers whose items fail get an error. `after(results)` runs on the event loop
        once per batch, with the results that succeeded. `inline` runs `flush` on the event loop
        thread itself: for a process with nothing latency-sensitive on its loop, where handing the
        GIL back and forth would only keep a database lock held longer. With `deadline_s`, a caller
        waits at most that long (then TimeoutError); an item whose caller gave up before its batch
        started is not flushed at all."""
        self._name = name
        self._flush = flush
        self._isolate = isolate
        self.deadline_s = deadline_s
        self._size = size
        self._max_size = max_size
        self._after = after
        self._queued: list[tuple[T, asyncio.Future[R]]] = []
        self._busy = False
        self._inline = inline
        self._running = False
        self._executor: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        self._running = True
        if not self._inline:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)

    def stop(self) -> None:
        self._running = False
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queued.append((item, future))
        if not self._busy:
            self._next()
        if self.deadline_s is None:
            return await future
        # A timer rather than asyncio.wait_for, whose extra future costs a turn of a busy loop. An
        # expired future is done, which is how a batch still to come skips it.
        timer = loop.call_later(self.deadline_s, _expire, future)
        try:
            return await future
        finally:
            timer.cancel()

    def _next(self) -> None:
        self._queued = [(item, future) for item, future in self._queued if not future.done()]
        if not self._queued or not self._running:
            return
        taken = size = 0
        while taken < len(self._queued) and size < self._max_size:
            size += self._size(self._queued[taken][0])
            taken += 1
        batch, self._queued = self._queued[:taken], self._queued[taken:]
        self._busy = True
        items = [item for item, _ in batch]
        loop = asyncio.get_running_loop()
        if self._inline:  # after this loop iteration, so callers queued meanwhile join the batch
            loop.call_soon(self._flush_inline, batch, items)
            return
        assert self._executor is not None
        self._executor.submit(self._flush_on_thread, loop, batch, items)

    def _flush_on_thread(
        self, loop: asyncio.AbstractEventLoop, batch: list[tuple[T, asyncio.Future[R]]], items: list[T]
    ) -> None:
        """On the batch thread: flush, then hand the outcome straight to the loop (one turn of the
        loop until the callers resume, where an executor's future and its callback take two)."""
        try:
            outcome: _Outcome[R] = (self._flush_isolated(items), None)
        except Exception as exc:
            outcome = (None, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(self._done, batch, outcome)

    def _flush_isolated(self, items: list[T]) -> Sequence[R | _Failed]:
        """`flush(items)`; when that fails on one item's data, each item alone."""
        try:
            return self._flush(items)
        except Exception as exc:
            if len(items) == 1 or not self._isolate(exc):
                raise
        results: list[R | _Failed] = []
        for item in items:
            try:
                results.extend(self._flush([item]))
            except Exception as exc:
                results.append(_Failed(exc))
        return results

    def _flush_inline(self, batch: list[tuple[T, asyncio.Future[R]]], items: list[T]) -> None:
        batch += [queued for queued in self._queued if not queued[1].done()]  # arrived meanwhile
        items[:] = [item for item, _ in batch]
        self._queued = []
        try:
            outcome: _Outcome[R] = (self._flush_isolated(items), None)
        except Exception as exc:
            outcome = (None, exc)
        self._done(batch, outcome)

    def _done(self, batch: list[tuple[T, asyncio.Future[R]]], outcome: _Outcome[R]) -> None:
        self._busy = False
        results, error = outcome
        if error is not None:
            for _, future in batch:
                if not future.done():  # a caller that went away does not change what happened
                    future.set_exception(error)
        else:
            succeeded: list[R] = []
            assert results is not None
            for (_, future), result in zip(batch, results, strict=True):
                if isinstance(result, _Failed):
                    if not future.done():
                        future.set_exception(result.error)
                    continue
                succeeded.append(result)
                if not future.done():
                    future.set_result(result)
            if self._after is not None and succeeded:
                self._after(succeeded)
        self._next()


class _Failed:
    """One item's error when a batch was flushed item by item."""

    __slots__ = ("error",)

    def __init__(self, error: Exception):
        self.error = error


# A batch's outcome: one result (or item error) per item, or the error that failed the whole batch.
_Outcome = tuple[Sequence[R | _Failed] | None, Exception | None]


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())
