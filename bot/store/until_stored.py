"""Recording a claimed item's new state when the database may be briefly unreachable.

A claim that cannot be updated stays with this live process until its lease runs out (minutes), so
the state change is retried, with backoff, until the database answers or the process stops (its
claims then go back with its heartbeat)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


async def until_stored(
    call: Callable[..., Any],
    *args: Any,
    stopping: Callable[[], bool],
    extra: dict[str, Any],
    give_up_on: Callable[[Exception], bool] | None = None,
) -> Any:
    """`call(*args)` on a thread, retried while it raises; None if `stopping()` first. An error
    `give_up_on` accepts (what a row holds, say: trying again changes nothing) is raised at once."""
    pause = 0.2
    while True:
        try:
            return await asyncio.to_thread(call, *args)
        except Exception as exc:
            if give_up_on is not None and give_up_on(exc):
                raise
            name = getattr(call, "__name__", "store call")
            if stopping():
                log.error("cannot record %s: %s", name, type(exc).__name__, extra=extra)
                return None
            log.warning("cannot record %s yet: %s", name, type(exc).__name__, extra=extra)
            await asyncio.sleep(pause)
            pause = min(5.0, pause * 2)


class StoreGaveUp(Exception):
    """The database did not answer within the time the caller could wait."""


async def stored_within(
    call: Callable[..., Any],
    *args: Any,
    seconds: float,
    extra: dict[str, Any],
    give_up_on: Callable[[Exception], bool] | None = None,
) -> Any:
    """`until_stored` for at most `seconds` (whatever `call` returns, None included); raises
    StoreGaveUp when the database did not answer in that time."""
    give_up_at = time.monotonic() + seconds

    @functools.wraps(call)
    def answered(*call_args: Any) -> tuple[Any]:  # a tuple, so None is an answer too
        return (call(*call_args),)

    found = await until_stored(
        answered,
        *args,
        stopping=lambda: time.monotonic() >= give_up_at,
        extra=extra,
        give_up_on=give_up_on,
    )
    if found is None:
        raise StoreGaveUp(f"the database did not answer within {seconds:.0f} s")
    return found[0]
