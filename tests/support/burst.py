"""Many requests in flight at once, cheaply: keep-alive connections on raw asyncio streams, so the
client spends next to no time of the interpreter it shares with an in-process server (httpx's async
pool would dominate such a test)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import orjson


async def _post_all(
    host: str, port: int, path: str, bodies: list[bytes], headers: dict[str, str], connections: int
) -> list[tuple[int, bytes]]:
    results: list[tuple[int, bytes]] = [(0, b"")] * len(bodies)
    queue = list(enumerate(bodies))[::-1]
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while queue:
                index, body = queue.pop()
                writer.write(
                    f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n{head}\r\n".encode()
                    + body
                )
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                results[index] = (int(status_line.split()[1]), await reader.readexactly(length))
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(min(connections, len(bodies)))))
    return results


def post_concurrently(
    url: str, path: str, bodies: list[Any], headers: dict[str, str], connections: int = 32
) -> list[tuple[int, Any]]:
    """(status, decoded JSON answer) per body, in order, `connections` requests in flight at a time."""
    parts = urlsplit(url)
    raw = [orjson.dumps(body) for body in bodies]
    answers = asyncio.run(_post_all(parts.hostname or "", parts.port or 80, path, raw, headers, connections))
    return [(status, orjson.loads(body) if body else None) for status, body in answers]
