"""The HTTP server as `serve` runs it: uvicorn with bounded connections (bot/app/connections.py) on a
socket that is listening before anything slow happens, and a metrics folder that is gone when the
process is, however it stops.

A restart is a gap in which PostHog's deliveries fail, so both of its halves are kept short: the new
process listens within milliseconds of starting (connections wait in the backlog instead of being
refused while the app loads) and the old one exits as soon as its in-flight requests are answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.app.tuning import Tuning
    from bot.config.settings import Settings
    from bot.config.signals_file import SignalsConfig

BACKLOG = 2048
KEEP_ALIVE_S = 5
GRACEFUL_SHUTDOWN_S = 15
_METRICS_PREFIX = "signals-metrics-"
_METRICS_DIR = re.compile(rf"^{_METRICS_PREFIX}(\d+)-")


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound now: what `serve` does first."""
    return socket.create_server((host, port), backlog=BACKLOG, family=_family(host))


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_metrics_dirs(root: str | None = None) -> list[str]:
    """Remove the metrics folders of `serve` processes that no longer run (killed with SIGKILL, or a
    machine that lost power); returns what it removed."""
    removed = []
    base = Path(root or tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in base.iterdir():
            match = _METRICS_DIR.match(entry.name)
            if match and entry.is_dir() and not _alive(int(match.group(1))):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(str(entry))
    return removed


@contextlib.contextmanager
def metrics_dir() -> Iterator[str]:
    """A folder where this process and its workers add up their counters, set as
    PROMETHEUS_MULTIPROC_DIR (read when prometheus_client is first imported, so before that)."""
    sweep_metrics_dirs()
    path = tempfile.mkdtemp(prefix=f"{_METRICS_PREFIX}{os.getpid()}-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class _Terminated(BaseException):
    """SIGTERM or SIGINT arrived outside uvicorn's own handling (before it started, or the signal it
    raises again after its graceful shutdown)."""

    def __init__(self, number: int):
        super().__init__(number)
        self.number = number


def _terminated(number: int, _frame: Any) -> None:
    raise _Terminated(number)


@contextlib.contextmanager
def terminated_after() -> Iterator[None]:
    """uvicorn shuts down gracefully on SIGTERM or SIGINT and then raises the signal again, which
    would end the process before any cleanup. Turn that (and a signal before uvicorn runs) into an
    exception, so `finally` blocks run, then end the process by the same signal, as the process
    manager expects."""
    previous = {sig: signal.signal(sig, _terminated) for sig in _SIGNALS}
    try:
        yield
    except _Terminated as stop:
        signal.signal(stop.number, signal.SIG_DFL)
        signal.raise_signal(stop.number)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run(
    settings: Settings,
    config: SignalsConfig,
    sock: socket.socket,
    workers: int = 1,
    tuning: Tuning | None = None,
) -> None:
    """Serve the app on `sock` until a signal stops it; the metrics folder is removed after."""
    with terminated_after(), metrics_dir():
        import uvicorn

        from bot.app.web import create_server_app

        app = create_server_app(settings, config, tuning, workers=workers)
        prompt_server(uvicorn.Config(app, **uvicorn_options(settings, tuning))).run(sockets=[sock])


def prompt_server(config: Any) -> Any:
    """uvicorn's server, noticing a request to stop at once instead of at its next 0.1 s tick."""
    import uvicorn

    class PromptServer(uvicorn.Server):
        _loop: asyncio.AbstractEventLoop | None = None
        _exit: asyncio.Event | None = None

        async def main_loop(self) -> None:
            self._loop, self._exit = asyncio.get_running_loop(), asyncio.Event()
            counter = 0
            while not await self.on_tick(counter):
                counter = (counter + 1) % 864000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._exit.wait(), 0.1)

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            self._wake()

        def request_exit(self) -> None:
            """Stop serving; callable from any thread."""
            self.should_exit = True
            self._wake()

        def _wake(self) -> None:
            if self._loop is not None and self._exit is not None:
                self._loop.call_soon_threadsafe(self._exit.set)

    return PromptServer(config)


def uvicorn_options(settings: Settings, tuning: Tuning | None = None) -> dict[str, Any]:
    """uvicorn's configuration for this app (also what the tests' in-process server uses)."""
    from bot.app.connections import bounded_protocol
    from bot.app.tuning import Tuning

    tuning = tuning or Tuning()
    return {
        "http": bounded_protocol(settings.max_connections, tuning.head_timeout_s, tuning.body_timeout_s),
        "backlog": BACKLOG,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "access_log": False,
        "log_config": None,
        "lifespan": "on",
    }
