"""Group commit: callers share a flush, one bad item fails only its caller, and a flush that hangs
answers its callers by the deadline."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.store.group_commit import Batcher


class Refused(Exception):
    """Stands for a database refusing one row's value."""


def _flush_refusing(flushed: list[list[int]]):
    def flush(items: list[int]) -> list[int]:
        flushed.append(list(items))
        if any(item < 0 for item in items):
            raise Refused("a negative item")
        return [item * 10 for item in items]

    return flush


@pytest.mark.parametrize("inline", [False, True])
def test_one_refused_item_fails_only_its_own_caller(inline):
    flushed: list[list[int]] = []
    batcher = Batcher("t", _flush_refusing(flushed), inline=inline, isolate=lambda e: isinstance(e, Refused))

    async def run() -> list[object]:
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(i) for i in [1, 2, -3, 4]), return_exceptions=True)
        finally:
            batcher.stop()

    results = asyncio.run(run())
    assert results[:2] == [10, 20] and results[3] == 40
    assert isinstance(results[2], Refused)
    assert [-3] in flushed  # the refused item was tried alone


def test_an_error_about_the_database_fails_the_whole_batch_without_retrying_items():
    flushed: list[list[int]] = []
    batcher = Batcher("t", _flush_refusing(flushed), isolate=lambda e: False)

    async def run() -> list[object]:
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(i) for i in [1, -2, 3]), return_exceptions=True)
        finally:
            batcher.stop()

    results = asyncio.run(run())
    assert all(isinstance(r, Refused) for r in results[1:])
    assert all(len(batch) > 1 for batch in flushed[1:])


def test_a_hung_flush_answers_by_the_deadline_and_skips_callers_who_gave_up():
    release = threading.Event()
    flushed: list[list[int]] = []

    def flush(items: list[int]) -> list[int]:
        flushed.append(list(items))
        release.wait(5)
        return items

    batcher = Batcher("t", flush, deadline_s=0.2)

    async def run() -> tuple[float, list[object]]:
        batcher.start()
        started = time.monotonic()
        first = asyncio.ensure_future(batcher.submit(1))
        await asyncio.sleep(0.01)
        waiting = [asyncio.ensure_future(batcher.submit(i)) for i in (2, 3)]
        results = await asyncio.gather(first, *waiting, return_exceptions=True)
        elapsed = time.monotonic() - started
        release.set()
        await asyncio.sleep(0.05)
        assert await batcher.submit(4) == 4
        batcher.stop()
        return elapsed, results

    elapsed, results = asyncio.run(run())
    assert elapsed < 0.5
    assert all(isinstance(r, TimeoutError) for r in results)
    assert flushed == [[1], [4]]  # 2 and 3 gave up before their batch started
