"""A local stand-in for Slack and PostHog ingestion during `python -m bot demo`: it accepts what the
bot sends through the real SDK clients and keeps it for the preview, so the demo needs no network.
"""

from __future__ import annotations

import gzip
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class DemoSink:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.message_ts: list[str] = []  # the ts Slack gave each of `messages`
        self.updates: dict[str, dict[str, Any]] = {}  # the latest chat.update of a message, by ts
        self.captured: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                self._reply(
                    sink.handle(self.path.split("?", 1)[0], self.headers.get("content-type", ""), body)
                )

            do_GET = do_POST

            def _reply(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> DemoSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, path: str, content_type: str, body: bytes) -> dict[str, Any]:
        if path == "/batch/":
            with self._lock:
                self.captured.extend(json.loads(body).get("batch", []))
            return {"status": "Ok"}
        args: dict[str, Any] = (
            json.loads(body or b"{}")
            if content_type.startswith("application/json")
            else {k: v[0] for k, v in parse_qs(body.decode()).items()}
        )
        if path == "/api/chat.postMessage":
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            with self._lock:
                self.messages.append(args)
                self.message_ts.append(ts)
            return {"ok": True, "channel": args.get("channel"), "ts": ts}
        if path == "/api/chat.update":
            with self._lock:
                self.updates[str(args.get("ts"))] = args
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if path == "/api/auth.test":
            return {"ok": True, "team": "Demo", "user": "signals", "team_id": "T0DEMO", "user_id": "U0BOT"}
        if path == "/api/conversations.history":
            return {"ok": True, "messages": [], "has_more": False}
        return {"ok": False, "error": "unknown_method"}
