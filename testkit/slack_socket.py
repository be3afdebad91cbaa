"""A fake of Slack's Socket Mode WebSocket, as `apps.connections.open` hands it out.

Slack's side of the protocol (api.slack.com/apis/socket-mode): the app POSTs `apps.connections.open`
with its app-level token (`xapp-…`) and gets `{"ok": true, "url": "wss://…"}`; on connecting, Slack
sends `{"type": "hello", …}`, then one envelope per request, `{"envelope_id", "type":
"slash_commands" | "interactive" | "events_api", "payload", "accepts_response_payload"}`, and the app
acknowledges each with `{"envelope_id", "payload"?}` over the same socket. Served by aiohttp on
127.0.0.1 in its own thread and loop; `FakeSlack` answers `apps.connections.open` with this URL.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

APP_TOKEN = "xapp-1-A0APP-1-test"


class FakeSocketMode:
    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []  # {"envelope_id", "payload"?, "received_at"}
        self.connections = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4()}&app_id=A0APP"

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=5)
        return self

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        await socket.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": "A0APP"},
                }
            )
        )
        with self._changed:
            self._sockets.append(socket)
            self.connections += 1
            self._changed.notify_all()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    ack = json.loads(message.data)
                    with self._changed:
                        self.acks.append({**ack, "received_at": time.monotonic()})
                        self._changed.notify_all()
        finally:
            with self._changed:
                self._sockets.remove(socket)
        return socket

    # -- what tests do --------------------------------------------------------------------------
    def wait_connected(self, timeout: float = 10.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._sockets, timeout=timeout):
                raise AssertionError("the app never opened a Socket Mode connection")

    def send(self, kind: str, payload: dict[str, Any]) -> tuple[str, float]:
        """Deliver one envelope to the connected app; returns its id and when it was sent."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        with self._changed:
            socket = self._sockets[-1]
        sent_at = time.monotonic()
        asyncio.run_coroutine_threadsafe(socket.send_str(json.dumps(envelope)), self._loop).result(timeout=5)
        return envelope_id, sent_at

    def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

        with self._changed:
            if not self._changed.wait_for(found, timeout=timeout):
                raise AssertionError(f"envelope {envelope_id} was not acknowledged within {timeout}s")
            return found()  # type: ignore[return-value]
