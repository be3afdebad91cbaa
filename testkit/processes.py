"""The server as `serve` runs it (web process plus worker process), in its own process group, for tests
that kill it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from testkit.examples import ROOT
from testkit.slack import SIGNING_SECRET, TOKEN
from testkit.webhook_bodies import WEBHOOK_SECRET


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`testkit.serve_process` in a child process, killable with SIGKILL."""

    def __init__(self, spec: dict, metrics_dir: Path, preexec_fn: Callable[[], None] | None = None):
        self.metrics_dir = metrics_dir
        self.preexec_fn = preexec_fn  # e.g. a lower `ulimit -n` for the server
        self.port = _free_port()
        self.spec = {**spec, "port": self.port}
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._client: httpx.Client | None = None
        self._stderr: list[str] = []  # since the last start; read as it comes, so the pipe never fills
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self.metrics_dir.mkdir(exist_ok=True)
        # `serve` makes its metrics folder in the temp directory: here, one the test can look into.
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(self.metrics_dir)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "testkit.serve_process", json.dumps(self.spec)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: the web process and its worker
            preexec_fn=self.preexec_fn,
        )
        self._stderr = []
        self._reader = threading.Thread(target=self._read_stderr, args=(self.proc,), daemon=True)
        self._reader.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("server process did not start: " + self.kill())

    def _read_stderr(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:  # until every process of the group has gone
            with self._lock:
                self._stderr.append(line.decode(errors="replace"))

    def logged(self) -> list[dict[str, Any]]:
        """The JSON log lines the web and worker processes wrote to stderr since the last start
        (at the spec's `log_level`), in order; other lines (a traceback) are left out."""
        with self._lock:
            lines = list(self._stderr)
        records = []
        for line in lines:
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records

    def _exited(self, timeout: float) -> str:
        """Wait for the web process and for its stderr to close; the end of what it wrote."""
        assert self.proc is not None and self._reader is not None
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        if not self._reader.is_alive() and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None
        with self._lock:
            return "".join(self._stderr)[-2000:]

    def kill(self) -> str:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.proc is None:
            return ""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # web and worker die together, mid-flight
        return self._exited(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM to the whole process group, as Heroku does on a restart or deploy; returns the
        web process's exit code once it has finished."""
        assert self.proc is not None
        if self._client is not None:
            self._client.close()
            self._client = None
        os.killpg(self.proc.pid, signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._exited(timeout=5)
        return code

    def wait_metric(self, line: str, timeout: float = 10.0) -> str:
        deadline = time.time() + timeout
        while line not in (text := httpx.get(self.url + "/metrics").text):
            assert time.time() < deadline, text
            time.sleep(0.05)
        return text

    def post(self, body: dict | list) -> httpx.Response:
        if self._client is None:
            self._client = httpx.Client(timeout=10)  # keep-alive, like PostHog's delivery workers
        return self._client.post(
            self.url + "/posthog/webhook", json=body, headers={"Authorization": f"Bearer {WEBHOOK_SECRET}"}
        )


def process_spec(db_url: str, slack_api: str, signals: Path) -> dict:
    return {
        "signals": str(signals),
        "settings": {
            "slack_bot_token": TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": slack_api,
            "posthog_webhook_secret": WEBHOOK_SECRET,
            "database_url": db_url,
            "log_level": "WARNING",
            "slack_retry_backoff_s": 0.01,
        },
        "tuning": {
            "worker_poll_s": 0.05,
            "delivery_poll_s": 0.1,
            "channel_interval_s": 0.0,
            "heartbeat_s": 0.2,
            "stale_after_s": 1.0,
            "event_retry_base_s": 0.05,
            "alert_retry_base_s": 0.05,
        },
    }
