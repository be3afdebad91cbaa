"""`python -m bot replay`: backtests from a file and from PostHog, and feeding a running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot import replay
from tests.conftest import EXAMPLE_SIGNALS, ROOT
from tests.fakes.posthog_api import PERSONAL_KEY, PROJECT_ID, FakePostHogApi


def run(args, tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "POSTHOG_", "DATABASE_URL"))}
    clean.update(
        {
            "PYTHONPATH": str(ROOT),
            "SIGNALS_CONFIG": str(EXAMPLE_SIGNALS),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}",
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "bot", "replay", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_dry_run_of_a_file_reports_per_signal_and_writes_nothing(tmp_path):
    result = run([str(ROOT / "examples" / "events.jsonl"), "--dry-run"], tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Backtest of" in out and "13 events" in out
    assert "Trial finished onboarding" in out and "globex.de (1)" in out
    assert "1 duplicate" in out and "2 filtered" in out and "below_threshold" in out
    assert "nothing was posted or written" in out
    assert not (tmp_path / "live.db").exists()


def test_export_rows_are_understood(tmp_path):
    rows = [
        {
            "uuid": "e1",
            "event": "onboarding_completed",
            "distinct_id": "u1",
            "timestamp": "2026-11-20T10:00:00Z",
            "properties": json.dumps({"plan": "trial", "company_domain": "acme.com"}),
        },
        {
            "uuid": "e2",
            "event": "onboarding_completed",
            "distinct_id": "u2",
            "timestamp": "2026-11-20T11:00:00Z",
            "properties": {"plan": "trial", "company_domain": "acme.com"},
        },  # within the 24 h cooldown
        {
            "uuid": "e3",
            "event": "onboarding_completed",
            "distinct_id": "u3",
            "timestamp": "2026-11-22T11:00:00Z",
            "properties": {"plan": "trial", "company_domain": "acme.com"},
        },  # after it
        "not a row",
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    out = run([str(path), "--dry-run"], tmp_path).stdout
    assert "acme.com (2)" in out and "11-20: 1, 11-22: 1" in out
    assert "1 cooldown" in out and "1 unreadable" in out


def test_from_posthog_pages_through_hogql(tmp_path, monkeypatch):
    import asyncio

    from rich.console import Console

    from bot.settings import Settings
    from bot.signals import load_signals

    monkeypatch.setattr(replay, "PAGE", 7)  # several pages from the fake's 60 people
    with FakePostHogApi() as api:
        settings = Settings(
            _env_file=None,
            posthog_personal_api_key=PERSONAL_KEY,
            posthog_project_id=PROJECT_ID,
            posthog_app_host_setting=api.url,
            database_url=f"sqlite:///{tmp_path / 'x.db'}",
        )
        console = Console(record=True, width=200)
        code = asyncio.run(replay.run_async(settings, load_signals(EXAMPLE_SIGNALS), None, 30, True, console))
        queries = [json.loads(r.body)["query"]["query"] for r in api.calls("query/")]
    assert code == 0
    assert len(queries) >= 2 and "LIMIT 7 OFFSET 7" in queries[1]
    assert "event IN ('feature_activated', 'invite_sent', 'onboarding_completed')" in queries[0]
    assert "Backtest of PostHog, last 30d" in console.export_text()


def test_without_dry_run_events_go_to_the_inbox(tmp_path):
    result = run([str(ROOT / "examples" / "events.jsonl")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Stored 11 events for the worker (1 already there" in result.stdout


@pytest.mark.parametrize("args", [[], ["f.jsonl", "--from-posthog", "7d"]])
def test_replay_needs_exactly_one_source(tmp_path, args):
    assert run(args, tmp_path).returncode == 2
