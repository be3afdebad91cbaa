"""Run the server as `serve` does (web process plus worker process) with test tunings:
`python -m tests.support.serve_process SPEC`.

SPEC is a JSON object: {"port": int, "settings": {...Settings kwargs...}, "signals": path,
"tuning": {...Tuning kwargs...}}. Tests start it in its own session and may kill the whole process
group with SIGKILL, as a crashed container would be.
"""

from __future__ import annotations

import os
import tempfile

# Both processes add their counters up here; it must be set before prometheus_client is imported.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="signals-test-metrics-")

import json
import sys

import uvicorn

from bot import logs
from bot.services import Tuning
from bot.settings import Settings
from bot.signals import load_signals
from bot.web import create_server_app


def main() -> None:
    spec = json.loads(sys.argv[1])
    settings = Settings(_env_file=None, **spec["settings"])
    logs.configure(settings.log_level)
    tuning = Tuning(**spec.get("tuning", {}))
    app = create_server_app(settings, load_signals(spec["signals"]), tuning, workers=spec.get("workers", 1))
    uvicorn.run(app, host="127.0.0.1", port=spec["port"], log_config=None, access_log=False)


if __name__ == "__main__":
    main()
