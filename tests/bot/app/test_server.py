"""`serve`'s server leaves nothing behind in the temp directory: not after a clean SIGTERM, and not (by
the next start) after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from bot.app.server import sweep_metrics_dirs
from testkit.examples import EXAMPLE_SIGNALS
from testkit.processes import ServerProcess, process_spec


def _metrics_dirs(root) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("signals-metrics-"))


def test_sigterm_leaves_no_metrics_folder_and_sigkill_leftovers_are_swept(sqlite_url, fake_slack, tmp_path):
    temp = tmp_path / "tmp"
    server = ServerProcess(process_spec(sqlite_url, fake_slack.api_url, EXAMPLE_SIGNALS), temp)
    server.start()
    assert len(_metrics_dirs(temp)) == 1
    assert server.terminate() == -signal.SIGTERM  # ends by the signal, after cleaning up
    assert _metrics_dirs(temp) == []

    server.start()
    server.kill()  # SIGKILL: nothing can clean up
    assert len(_metrics_dirs(temp)) == 1
    server.start()  # the next start removes what the killed process left
    assert len(_metrics_dirs(temp)) == 1
    server.terminate()
    assert _metrics_dirs(temp) == []


def test_sweep_removes_only_folders_of_processes_that_are_gone(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead_pid = int(dead.stdout)
    (tmp_path / f"signals-metrics-{dead_pid}-abc").mkdir()
    (tmp_path / f"signals-metrics-{os.getpid()}-def").mkdir()
    (tmp_path / "signals-metrics-notapid").mkdir()
    removed = sweep_metrics_dirs(str(tmp_path))
    assert [os.path.basename(p) for p in removed] == [f"signals-metrics-{dead_pid}-abc"]
    assert _metrics_dirs(tmp_path) == [f"signals-metrics-{os.getpid()}-def", "signals-metrics-notapid"]
