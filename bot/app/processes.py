"""`serve`'s process model: the web process answers HTTP and supervises one worker process that decides
events and posts alerts, so the two never compete for one interpreter.

The web process wakes the worker through a pipe after each commit (the worker also polls, which is
what other servers on the same PostgreSQL rely on). When the pipe reaches end-of-file the web
process is gone, and the worker stops too. A worker that dies is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from bot.app.container import Role, Services
from bot.app.lifecycle import Lifecycle, settle_heap
from bot.app.tuning import Tuning
from bot.config.settings import Settings
from bot.config.signals_file import SignalsConfig
from bot.ops import logs

log = logging.getLogger(__name__)
_SPAWN = multiprocessing.get_context("spawn")
WORKER_NICENESS = 5


def worker_main(
    settings: Settings,
    config: SignalsConfig,
    tuning: Tuning,
    wake: Connection,
    ready: Connection | None = None,
) -> None:
    """Entry point of the worker process; it says so on `ready` (a pipe) once it decides events."""
    logs.configure(settings.log_level)
    # The event loop here is CPU-bound; a short switch interval lets the thread that holds the
    # database write lock finish sooner, so the web process waits less for it.
    sys.setswitchinterval(0.001)
    # Under load the webhook's answer matters more than how soon the backlog shrinks: when both want
    # the CPU, the web process goes first. (Stored events wait safely; PostHog's requests cannot.)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    asyncio.run(_run_worker(settings, config, tuning, wake, ready))


async def _run_worker(
    settings: Settings, config: SignalsConfig, tuning: Tuning, wake: Connection, ready: Connection | None
) -> None:
    loop = asyncio.get_running_loop()
    lifecycle = Lifecycle(Services(settings, config, tuning, role=Role.WORKER))
    await lifecycle.start()
    settle_heap()
    if ready is not None:
        with contextlib.suppress(OSError):
            ready.send_bytes(b"ready")
            ready.close()
    stopping = asyncio.Event()
    grace = {"s": 10.0}

    def on_wake() -> None:
        try:
            data = os.read(wake.fileno(), 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            lifecycle.wake()
            return
        log.warning("the web process is gone; the worker stops")
        loop.remove_reader(wake.fileno())
        grace["s"] = 2.0
        stopping.set()

    os.set_blocking(wake.fileno(), False)
    loop.add_reader(wake.fileno(), on_wake)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await lifecycle.stop(grace["s"])


class WorkerProcess:
    """The worker process as the web process sees it: start, wake, supervise, stop."""

    def __init__(self, settings: Settings, config: SignalsConfig, tuning: Tuning):
        self._args = (settings, config, tuning)
        self._process: BaseProcess | None = None
        self._ready: Connection | None = None
        self._was_ready = False
        self._wake: Connection | None = None
        self._restarts = 0
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        reader, writer = _SPAWN.Pipe(duplex=False)
        self._ready, ready = _SPAWN.Pipe(duplex=False)
        self._was_ready = False
        process = _SPAWN.Process(target=worker_main, args=(*self._args, reader, ready), name="signals-worker")
        process.start()
        reader.close()
        ready.close()
        os.set_blocking(writer.fileno(), False)
        self._process, self._wake = process, writer
        log.info("worker process started", extra={"pid": process.pid})

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the worker decides events (its imports and store take about a second), or it
        dies, or `timeout_s` passes; whether it is ready."""
        ready = self._ready
        if ready is None:
            return self._was_ready
        deadline = time.monotonic() + timeout_s
        try:
            while self._process is not None and self._process.is_alive():
                if ready.poll(min(0.1, max(0.0, deadline - time.monotonic()))):
                    self._was_ready = ready.recv_bytes() == b"ready"
                    break
                if time.monotonic() >= deadline:
                    return False  # still starting: asked again, it is waited for again
        except (EOFError, OSError):  # the worker closed its end without a word: it died starting
            pass
        ready.close()
        self._ready = None
        return self._was_ready

    def wake(self) -> None:
        if self._wake is None:
            return
        with contextlib.suppress(BlockingIOError, BrokenPipeError, OSError):
            os.write(self._wake.fileno(), b"\0")  # a full pipe already holds a wake-up

    async def supervise(self) -> None:
        """Restart the worker if it dies, with a growing pause when it keeps dying."""
        while not self._stopping:
            await asyncio.sleep(1.0)
            process = self._process
            if self._stopping or process is None or process.is_alive():
                continue
            self._restarts += 1
            pause = min(30.0, 2.0 ** min(self._restarts, 5))
            log.error("worker process exited (code %s); restarting in %.0fs", process.exitcode, pause)
            self._close_pipe()
            await asyncio.sleep(pause)
            if not self._stopping:
                self.start()

    def _close_pipe(self) -> None:
        if self._wake is not None:
            self._wake.close()
            self._wake = None

    def stop(self, timeout_s: float = 20.0) -> None:
        """Ask the worker to finish (SIGTERM), then insist."""
        self._stopping = True
        process = self._process
        if process is None:
            return
        if process.is_alive():
            process.terminate()
            deadline = time.monotonic() + timeout_s
            while process.is_alive() and time.monotonic() < deadline:
                process.join(0.1)
            if process.is_alive():
                process.kill()
                process.join(5)
        self._close_pipe()


class WorkerPool:
    """`serve --workers N`: N worker processes under one web process. They share the queue through the
    store's claims like any other workers; wake-ups go to them in turn."""

    def __init__(self, settings: Settings, config: SignalsConfig, tuning: Tuning, count: int = 1):
        self.workers = [WorkerProcess(settings, config, tuning) for _ in range(max(1, count))]
        self._next = 0

    @property
    def pids(self) -> list[int | None]:
        return [worker.pid for worker in self.workers]

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        return all(worker.wait_ready(max(0.0, deadline - time.monotonic())) for worker in self.workers)

    def wake(self) -> None:
        self._next = (self._next + 1) % len(self.workers)
        self.workers[self._next].wake()

    async def supervise(self) -> None:
        await asyncio.gather(*(worker.supervise() for worker in self.workers))

    def stop(self, timeout_s: float = 20.0) -> None:
        for worker in self.workers:
            worker._stopping = True
            if worker._process is not None and worker._process.is_alive():
                worker._process.terminate()  # all of them finish in parallel
        for worker in self.workers:
            worker.stop(timeout_s)
