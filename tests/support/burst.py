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


def raw_request(
    url: str, method: str, path: str, headers: list[tuple[str, str]], body: bytes, timeout: float = 10.0
) -> tuple[int, bytes]:
    """One request written byte for byte (any header value an HTTP client library would refuse to
    send, such as surrounding spaces or Latin-1 bytes); (status, body) of the answer."""
    parts = urlsplit(url)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: {parts.hostname}\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n{head}\r\n"
    ).encode("latin-1") + body

    async def send() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            writer.write(request)
            answer = await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()
        status_line, _, rest = answer.partition(b"\r\n")
        return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]

    return asyncio.run(send())
