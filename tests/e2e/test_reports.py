"""`reports` through running servers and `python -m bot report`: two servers that are due at the same
moment post the period's report once, with the stats a RevOps lead reads; the command posts one more
on demand; SQLite and PostgreSQL."""

from __future__ import annotations

import time

from sqlalchemy import update

from bot.config.signals_file import load_signals
from bot.store import Store, tables
from testkit.examples import EXAMPLE_SIGNALS
from tests.conftest import make_settings, serve
from tests.support.alert_clicks import post_alert
from tests.support.command_line import required_settings, run

WEEK = 7 * 86400.0


def _reports(fake_slack) -> list[dict]:
    return [m for m in fake_slack.posted() if m["channel"] == "C0REVOPS"]


def test_two_servers_due_at_once_post_one_report_and_the_command_posts_another(tmp_path, db_url, fake_slack):
    config = load_signals(EXAMPLE_SIGNALS)  # `reports: {channel: C0REVOPS, every: 7d}`
    assert config.reports is not None and config.reports.channel == "C0REVOPS"
    settings = make_settings(db_url, fake_slack)
    with serve(settings, config) as app:  # the schedule starts; an alert of the period
        post_alert(app, fake_slack, "acme.com")
    assert _reports(fake_slack) == []  # the first report is due a week after the first start
    store = Store.from_url(db_url)
    try:  # a week later: the first report is due as two servers start
        with store.engine.begin() as conn:
            conn.execute(update(tables.report_schedule).values(started_at=time.time() - WEEK - 1))
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

    env = {**required_settings(db_url), "SLACK_API_URL": fake_slack.api_url}
    result = run(["report"], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Posted the report to C0REVOPS."
    assert len(_reports(fake_slack)) == 2
