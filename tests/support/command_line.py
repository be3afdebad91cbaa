"""`python -m bot …` run as an operator runs it: a process of its own whose settings come from the
environment alone (none of the caller's settings leak in), answering on stdout and stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testkit.examples import EXAMPLE_SIGNALS, ROOT
from testkit.slack import SIGNING_SECRET, TOKEN
from testkit.webhook_bodies import WEBHOOK_SECRET

SETTING_NAMES = [
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "POSTHOG_HOST",
    "POSTHOG_APP_HOST",
    "POSTHOG_PROJECT_API_KEY",
    "POSTHOG_PERSONAL_API_KEY",
    "POSTHOG_PROJECT_ID",
    "POSTHOG_WEBHOOK_SECRET",
    "POSTHOG_WEBHOOK_SIGNING_SECRET",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "HUBSPOT_ACCESS_TOKEN",
    "DATABASE_URL",
    "SIGNALS_CONFIG",
    "PORT",
]


def _environment(env: dict[str, str]) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    clean.update({"PYTHONPATH": str(ROOT), "COLUMNS": "200", **env})
    return clean


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=_environment(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def popen(args: list[str], cwd: Path, **env: str) -> subprocess.Popen[str]:
    """The command started and left running, for a test to kill."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=_environment(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def required_settings(database_url: str) -> dict[str, str]:
    """What `serve` needs to start, with the example signals file and this database."""
    return {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "POSTHOG_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SIGNALS_CONFIG": str(EXAMPLE_SIGNALS),
        "DATABASE_URL": database_url,
    }
