"""Run the server as `serve` does (web process plus worker process) with test tunings:
`python -m testkit.serve_process SPEC`.

SPEC is a JSON object: {"port": int, "settings": {...Settings kwargs...}, "signals": path,
"tuning": {...Tuning kwargs...}}. Tests start it in its own session and may kill the whole process
group with SIGKILL, as a crashed container would be. It runs `bot.app.server.run`, as `serve` does,
with its connection limits and its own metrics folder.
"""

from __future__ import annotations

import json
import sys

from bot.app.server import listen, run
from bot.app.tuning import Tuning
from bot.config.settings import Settings
from bot.config.signals_file import load_signals
from bot.ops import logs


def main() -> None:
    spec = json.loads(sys.argv[1])
    sock = listen("127.0.0.1", spec["port"])
    settings = Settings(_env_file=None, **spec["settings"])
    logs.configure(settings.log_level)
    tuning = Tuning(**spec.get("tuning", {}))
    run(settings, load_signals(spec["signals"]), sock, spec.get("workers", 1), tuning)


if __name__ == "__main__":
    main()
