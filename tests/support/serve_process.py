"""Run the server as `serve` does (web process plus worker process) with test tunings:
`python -m tests.support.serve_process SPEC`.

SPEC is a JSON object: {"port": int, "settings": {...Settings kwargs...}, "signals": path,
"tuning": {...Tuning kwargs...}}. Tests start it in its own session and may kill the whole process
group with SIGKILL, as a crashed container would be. It runs `bot.server.run`, as `serve` does,
with its connection limits and its own metrics folder.
"""

from __future__ import annotations

import json
import sys

from bot import logs
from bot.server import listen, run
from bot.services import Tuning
from bot.settings import Settings
from bot.signals import load_signals


def main() -> None:
    spec = json.loads(sys.argv[1])
    sock = listen("127.0.0.1", spec["port"])
    settings = Settings(_env_file=None, **spec["settings"])
    logs.configure(settings.log_level)
    tuning = Tuning(**spec.get("tuning", {}))
    run(settings, load_signals(spec["signals"]), sock, spec.get("workers", 1), tuning)


if __name__ == "__main__":
    main()
