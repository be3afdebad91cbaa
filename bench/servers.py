"""The servers a benchmark starts, each in its own process under uvicorn with the app's options: the
bare Starlette endpoint (the machine's baseline) and the real app as `serve` builds it, pointed at the
fakes from testkit/."""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import signal
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.deliveries import WEBHOOK_PATH
from testkit.examples import EXAMPLE_SIGNALS
from testkit.webhook_bodies import WEBHOOK_SECRET


def bare_app() -> Any:
    """The baseline: parse the JSON body with orjson, answer 202. No auth, no storage."""
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def webhook(request: Request) -> Response:
        try:
            orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return Response(b'{"error":"invalid JSON"}', status_code=400, media_type="application/json")
        return Response(
            orjson.dumps({"accepted": 1, "duplicates": 0}), status_code=202, media_type="application/json"
        )

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[Route(WEBHOOK_PATH, webhook, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])]
    )


def real_app(spec: dict[str, Any], log_path: str) -> tuple[Any, dict[str, Any]]:
    """The real app as `python -m bot serve` builds it (a web process that supervises a worker
    process), pointed at local fakes for Slack and PostHog, and the uvicorn options `serve` runs it
    with (bounded connections included); `spec["tuning"]` is empty unless a flag overrides a Tuning
    default."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="metrics-", dir=Path(log_path).parent)
    from bot.app.server import uvicorn_options
    from bot.app.tuning import Tuning
    from bot.app.web import create_server_app
    from bot.config.settings import Settings
    from bot.config.signals_file import load_signals
    from bot.ops import logs

    settings = Settings(_env_file=None, **spec["settings"])
    logs.configure(settings.log_level)
    tuning = Tuning(**spec["tuning"])
    app = create_server_app(settings, load_signals(spec.get("signals") or EXAMPLE_SIGNALS), tuning)
    return app, uvicorn_options(settings, tuning)


def serve_main(kind: str, spec: dict[str, Any], log_path: str, port_pipe: Any) -> None:
    """Child process entry: bind 127.0.0.1:0, report the port, serve until SIGTERM."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    os.dup2(log_fd, 1)
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port_pipe.send(sock.getsockname()[1])
    port_pipe.close()
    options: dict[str, Any] = {
        "http": "httptools",
        "access_log": False,
        "log_config": None,
        "lifespan": "on",
        "timeout_graceful_shutdown": 15,
        "backlog": 2048,
    }
    if kind == "bare":
        app = bare_app()
    else:
        app, served_with = real_app(spec, log_path)
        options.update(served_with)
    uvicorn.Server(uvicorn.Config(app, loop="uvloop", **options)).run(sockets=[sock])


@dataclass
class Server:
    kind: str
    process: Any
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def health(self) -> dict[str, Any]:
        with contextlib.suppress(Exception):
            return dict(json.loads(self.get("/healthz", timeout=30)[1]))
        return {}


@contextlib.contextmanager
def run_server(kind: str, spec: dict[str, Any], workdir: Path) -> Iterator[Server]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    log_path = workdir / f"{kind}-{time.monotonic_ns()}.log"
    # Not a daemon: the app starts a worker process of its own.
    process = ctx.Process(target=serve_main, args=(kind, spec, str(log_path), child), daemon=False)
    process.start()
    child.close()
    try:
        if not parent.poll(30):
            raise RuntimeError(f"{kind} server did not report its port; see {log_path}")
        server = Server(kind, process, parent.recv(), log_path)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                if server.get("/healthz", timeout=2)[0] == 200:
                    break
            if not process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not start; see {log_path}:\n{_tail(log_path)}")
            time.sleep(0.05)
        yield server
    finally:
        if process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
            process.join(30)
        if process.is_alive():
            process.kill()
            process.join(5)


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def app_spec(
    database_url: str, log_level: str, slack_url: str, posthog_url: str, **tuning: Any
) -> dict[str, Any]:
    from testkit.posthog import PROJECT_KEY
    from testkit.slack import SIGNING_SECRET, TOKEN

    return {
        "settings": {
            "slack_bot_token": TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": slack_url,
            "posthog_host": posthog_url,
            "posthog_app_host_setting": "https://us.posthog.com",
            "posthog_project_api_key": PROJECT_KEY,
            "posthog_project_id": "12345",
            "posthog_webhook_secret": WEBHOOK_SECRET,
            "database_url": database_url,
            "log_level": log_level,
        },
        "tuning": tuning,  # empty: the app's production defaults
    }
