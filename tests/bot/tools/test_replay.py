"""`python -m bot replay`: backtests from a file and from PostHog, and feeding a running server."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import pytest

from bot.tools import replay
from testkit.examples import EXAMPLE_SIGNALS, ROOT
from testkit.posthog_api import PERSONAL_KEY, PROJECT_ID, FakePostHogApi


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
    assert "Backtest of" in out and "17 events" in out
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


def test_from_posthog_pages_through_hogql_one_fixed_day_at_a_time(tmp_path, monkeypatch):
    import asyncio
    import re
    from datetime import datetime, timedelta

    from rich.console import Console

    from bot.config.settings import Settings
    from bot.config.signals_file import load_signals

    monkeypatch.setattr(replay, "PAGE", 7)  # several pages a day from the fake's 60 people
    config = load_signals(EXAMPLE_SIGNALS)
    with FakePostHogApi() as api:
        api.offset_allowed = False  # as PostHog answers queries made with a personal API key
        for i in range(20):  # a busy day: three pages
            api.add_person(f"busy{i}", [("onboarding_completed", 2 * 86400 + i, {"plan": "trial"})])
        since = api.now - timedelta(days=30)
        expected = sum(
            1
            for person in api.people
            for event in person.events
            if event.event in config.event_names and event.timestamp >= since + timedelta(seconds=5)
        )
        settings = Settings(
            _env_file=None,
            posthog_personal_api_key=PERSONAL_KEY,
            posthog_project_id=PROJECT_ID,
            posthog_app_host_setting=api.url,
            database_url=f"sqlite:///{tmp_path / 'x.db'}",
        )
        console = Console(record=True, width=200)
        code = asyncio.run(replay.run_async(settings, config, None, 30, True, console))
        queries = [json.loads(r.body)["query"]["query"] for r in api.calls("query/")]
    assert code == 0
    names = "'feature_activated', 'invite_sent', 'onboarding_completed', 'pricing_viewed', 'report_shared'"
    assert f"event IN ({names})" in queries[0]
    assert any("uuid > toUUID(" in q for q in queries)  # later pages follow by keyset
    # Absolute bounds, the same on every page of a day, days back to back: nothing slides or is skipped.
    bounds = sorted(
        {
            re.search(r"toDateTime\('(.+?)'\) AND timestamp < toDateTime\('(.+?)'\)", q).groups()
            for q in queries
        }
    )
    assert len(bounds) == 30
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    start = datetime.fromisoformat(bounds[0][0].replace("Z", "+00:00"))
    end = datetime.fromisoformat(bounds[-1][1].replace("Z", "+00:00"))
    assert end - start == timedelta(days=30) and abs((end - api.now).total_seconds()) < 5
    assert f"Backtest of PostHog, last 30d: {expected} events" in console.export_text()


def test_without_dry_run_events_go_to_the_inbox(tmp_path):
    result = run([str(ROOT / "examples" / "events.jsonl")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Stored 15 events for the worker (1 already there" in result.stdout


@pytest.mark.parametrize("args", [[], ["f.jsonl", "--from-posthog", "7d"]])
def test_replay_needs_exactly_one_source(tmp_path, args):
    assert run(args, tmp_path).returncode == 2


def test_a_backtest_fills_thresholds_in_event_time_whatever_order_the_events_come_in(tmp_path):
    """acme.com: `member_invited` on the 3rd and the 5th, then a late one from the 1st, which completes
    the window of the 1st to the 5th: it alerts, and the 6th is held by the cooldown. initech.com: two,
    and a third nine days later, outside their window: no alert."""
    signals = tmp_path / "signals.yml"
    signals.write_text(
        "signals:\n"
        "  - name: Team is inviting\n"
        "    event: member_invited\n"
        "    threshold: {count: 3, within: 7d}\n"
        "    cooldown: 7d\n"
        "routing:\n"
        "  - channel: C0SIGNALS\n"
    )

    def row(n: int, domain: str, day: int) -> str:
        return json.dumps(
            {
                "uuid": f"e{n}",
                "event": "member_invited",
                "distinct_id": f"u{n}",
                "timestamp": f"2026-11-{day:02d}T10:00:00Z",
                "properties": json.dumps({"company_domain": domain}),
            }
        )

    rows = [row(1, "acme.com", 3), row(2, "acme.com", 5), row(3, "initech.com", 2), row(4, "initech.com", 3)]
    rows += [row(5, "initech.com", 12), row(6, "acme.com", 1), row(7, "acme.com", 6)]
    (tmp_path / "events.jsonl").write_text("\n".join(rows) + "\n")
    result = run([str(tmp_path / "events.jsonl"), "--dry-run"], tmp_path, SIGNALS_CONFIG=str(signals))
    assert result.returncode == 0, result.stderr
    assert "Team is inviting" in result.stdout and "acme.com (1)" in result.stdout
    assert "initech.com" not in result.stdout
    assert (
        "5 accumulating" in result.stdout and "1 alerted" in result.stdout and "1 cooldown" in result.stdout
    )
