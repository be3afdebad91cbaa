"""Run the real app in its own process with test tunings: `python -m tests.support.serve_process SPEC`.

SPEC is a JSON object: {"port": int, "settings": {...Settings kwargs...}, "signals": path,
"tuning": {...Tuning kwargs...}}. Tests start it with subprocess and may kill it with SIGKILL.
"""

from __future__ import annotations

import json
import sys

import uvicorn

from bot import logs
from bot.services import Services, Tuning
from bot.settings import Settings
from bot.signals import load_signals
from bot.web import create_app


def main() -> None:
    spec = json.loads(sys.argv[1])
    settings = Settings(_env_file=None, **spec["settings"])
    logs.configure(settings.log_level)
    services = Services(settings, load_signals(spec["signals"]), Tuning(**spec.get("tuning", {})))
    uvicorn.run(create_app(services), host="127.0.0.1", port=spec["port"], log_config=None, access_log=False)


if __name__ == "__main__":
    main()
