"""Reading a request body within bounds: at most `limit` bytes, within `timeout_s`.

Both public routes take bodies from anyone on the internet, so a body is read only as far as it may
grow, and a client that sends it slowly (or not at all) is cut off instead of holding a connection
and a buffer open for as long as it likes.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

BODY_TIMEOUT_S = 10.0


class BodyTooLarge(Exception):
    """The body is (or says it is) larger than the route takes."""


class BodyTimeout(Exception):
    """The client did not send its body in time."""


class ReadersBusy(Exception):
    """Too many bodies from clients not yet authenticated are being read at once."""


class ReadSlots:
    """How many bodies from clients not yet authenticated may be read at once in this process, so
    a crowd of them holds at most `slots` x the route's limit in memory. Taken without waiting:
    past the limit a request is refused (503, retry) rather than queued."""

    def __init__(self, slots: int = 64):
        self.free = slots

    def take(self) -> None:
        if self.free <= 0:
            raise ReadersBusy
        self.free -= 1

    def give_back(self) -> None:
        self.free += 1


async def read_capped(
    request: Request, limit: int, timeout_s: float = BODY_TIMEOUT_S, slots: ReadSlots | None = None
) -> bytes:
    """The body; BodyTooLarge as soon as it grows past `limit` bytes (or declares it will), BodyTimeout
    when it has not all arrived within `timeout_s`. With `slots` (the client is not authenticated
    yet), ReadersBusy when all are taken."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    if slots is not None:
        slots.take()
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout from None
    finally:
        if slots is not None:
            slots.give_back()
    return b"".join(chunks)


def closing(response: Response, retry_after_s: int | None = None) -> Response:
    """Close the connection after this answer: a refused client's unread body is not worth reading.
    With `retry_after_s`, the answer also says when to come back (a 503 for a passing crowd)."""
    response.headers["Connection"] = "close"
    if retry_after_s is not None:
        response.headers["Retry-After"] = str(retry_after_s)
    return response
