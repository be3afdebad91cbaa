"""An account's alerts in one thread, through a running server and across a restart: the second alert is
a reply under the first (whose `ts` the restarted process reads from the store), the first says what
followed, and a signal with `thread: none` posts on its own."""

from __future__ import annotations

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
