"""An account's alerts in one thread, through a running server and across a restart: the second alert is
a reply under the first (whose `ts` the restarted process reads from the store), the first says what
followed, a thread stays open while the account alerts at least weekly, and a signal with `thread: none`
posts on its own."""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

from testkit.webhook_bodies import webhook_body
from tests.conftest import make_settings, serve

ACME = {"company_domain": "acme.com"}


def test_a_later_alert_of_the_account_replies_in_its_thread_after_a_restart(
    db_url, fake_slack, example_config
):
    settings = make_settings(db_url, fake_slack)
    with serve(settings, example_config) as app:
        body = webhook_body("onboarding_completed", properties={**ACME, "plan": "trial"})
        assert app.post_webhook(body).status_code == 202
        [first] = fake_slack.wait_for(lambda s: s.posted())
    root_ts = fake_slack.posted_ts()[0]

    with serve(settings, example_config) as app:  # a new process: the root's ts comes from the store
        body = webhook_body("feature_activated", properties={**ACME, "feature_name": "api_integration"})
        assert app.post_webhook(body).status_code == 202
        fake_slack.wait_for(lambda s: len(s.posted()) == 2)
        reply = fake_slack.posted()[1]
        assert reply["thread_ts"] == root_ts and reply["channel"] == "C0AE1"
        assert "reply_broadcast" not in reply  # API integration activated is medium priority
        fake_slack.wait_for(lambda s: "more signal" in str(s.current("C0AE1", root_ts)))
        shown = str(fake_slack.current("C0AE1", root_ts))
        assert "1 more signal in the thread · latest: API integration activated" in shown
        assert first["metadata"] == fake_slack.current("C0AE1", root_ts)["metadata"]  # the same alert


def test_thread_none_posts_every_alert_on_its_own(db_url, fake_slack, example_config):
    signals = [s.model_copy(update={"thread": "none"}) for s in example_config.signals]
    config = example_config.model_copy(update={"signals": signals})
    with serve(make_settings(db_url, fake_slack), config) as app:
        for body in (
            webhook_body("onboarding_completed", properties={**ACME, "plan": "trial"}),
            webhook_body("feature_activated", properties={**ACME, "feature_name": "api_integration"}),
        ):
            assert app.post_webhook(body).status_code == 202
        fake_slack.wait_for(lambda s: len(s.posted()) == 2)
        assert [m.get("thread_ts") for m in fake_slack.posted()] == [None, None]


def test_an_account_alerting_every_few_days_keeps_one_thread(db_url, fake_slack, example_config, monkeypatch):
    """API integration activated on days 0, 3, 6 and 9: day 9 is more than 7 days after the first alert
    but 3 after the latest, so all four are in one thread."""
    start = time.time()
    now = [start]

    def clock() -> float:
        return now[0]

    # The store commits at its own `time.time()` (bot.store.inbox, the module; the package exports the table)
    monkeypatch.setattr(sys.modules["bot.store.inbox"], "time", SimpleNamespace(time=clock))
    with serve(make_settings(db_url, fake_slack), example_config, clock=clock) as app:
        for n, day in enumerate((0, 3, 6, 9), start=1):
            now[0] = start + day * 86400
            body = webhook_body("feature_activated", properties={**ACME, "feature_name": "api_integration"})
            assert app.post_webhook(body).status_code == 202
            fake_slack.wait_for(lambda s, n=n: len(s.posted()) == n)
        root_ts = fake_slack.posted_ts()[0]
        assert [m.get("thread_ts") for m in fake_slack.posted()] == [None] + [root_ts] * 3
        fake_slack.wait_for(lambda s: "3 more signals" in str(s.current("C0AE1", root_ts)))
