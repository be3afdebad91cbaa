"""`reports` through running servers and `python -m bot report`: two servers started on a database
whose report is due post it once, with the stats a RevOps lead reads and lint's summary of the
tracking plan; the command posts one more on demand; SQLite and PostgreSQL. (Processes claiming a
period at the same instant are raced in tests/bot/schedule/test_reports.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from bot.config.signals_file import load_signals
from bot.store import Store, tables
from testkit.examples import EXAMPLE_SIGNALS
from testkit.posthog_api import PERSONAL_KEY, PROJECT_ID, FakePostHogApi
from tests.conftest import make_settings, serve
from tests.support.alert_clicks import post_alert
from tests.support.command_line import required_settings, run

WEEK = 7 * 86400.0


def _reports(fake_slack) -> list[dict]:
    return [m for m in fake_slack.posted() if m["channel"] == "C0REVOPS"]


@pytest.fixture
def posthog_api() -> Iterator[FakePostHogApi]:
    """Every example event but `onboarding_completed` (sent as `onboarding_complete`), and `Click`."""
    with FakePostHogApi(seed=False) as server:
        for name in [
            "onboarding_complete",
            "feature_activated",
            "invite_sent",
            "report_shared",
            "pricing_viewed",
            "Click",
        ]:
            server.add_event_definition(name, volume_30_day=40)
        yield server


def test_two_servers_due_at_once_post_one_report_and_the_command_posts_another(
    tmp_path, db_url, fake_slack, posthog_api
):
    config = load_signals(EXAMPLE_SIGNALS)  # `reports: {channel: C0REVOPS, every: 7d}`
    assert config.reports is not None and config.reports.channel == "C0REVOPS"
    posthog = {
        "posthog_app_host_setting": posthog_api.url,
        "posthog_personal_api_key": PERSONAL_KEY,
        "posthog_project_id": PROJECT_ID,
    }
    settings = make_settings(db_url, fake_slack, **posthog)
    with serve(settings, config) as app:  # the schedule starts; an alert of the period
        post_alert(app, fake_slack, "acme.com")
    assert _reports(fake_slack) == []  # the first report is due a week after the first start
    store = Store.from_url(db_url)
    try:  # a week later: the first report is due as two servers start
        with store.engine.begin() as conn:
            conn.execute(update(tables.report_schedule).values(started_at=time.time() - WEEK))
    finally:
        store.dispose()
    with serve(settings, config), serve(settings, config):
        [report] = fake_slack.wait_for(_reports, timeout=15)
        time.sleep(1.0)  # both servers have looked
        assert len(_reports(fake_slack)) == 1
    assert report["blocks"][0]["text"]["text"] == "Signals report, last 7 days"
    texts = [str(b) for b in report["blocks"]]
    assert any("*Trial finished onboarding* · precision –" in t and "1 no action yet" in t for t in texts)
    assert any("Next report" in t for t in texts)
    [plan] = [t for t in texts if "*Tracking plan*" in t]
    assert "1 signal listens to an event PostHog never received: Trial finished onboarding" in plan
    assert "did you mean onboarding_complete?" in plan and "1 name breaks snake_case" in plan

    env = {**required_settings(db_url), "SLACK_API_URL": fake_slack.api_url}
    env.update(
        POSTHOG_APP_HOST=posthog_api.url, POSTHOG_PERSONAL_API_KEY=PERSONAL_KEY, POSTHOG_PROJECT_ID=PROJECT_ID
    )
    result = run(["report"], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Posted the report to C0REVOPS."
    assert len(_reports(fake_slack)) == 2
