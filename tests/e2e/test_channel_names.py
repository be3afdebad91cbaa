"""A route that names its channel (`#signals`) through a running server: the worker resolves the name
once as it starts and posts, threads and records with the channel's id; without `channels:read` the
route works as written. SQLite and PostgreSQL."""

from __future__ import annotations

from bot.config.signals_file import Route
from tests.conftest import make_settings, serve
from tests.support.alert_clicks import post_alert


def _named(config):
    return config.model_copy(update={"routing": [Route(channel="#signals")]})


def test_a_named_channel_is_posted_to_by_its_id(db_url, fake_slack, example_config):
    fake_slack.channels = {"general": "C0GENERAL", "signals": "C0SIGNALS"}
    with serve(make_settings(db_url, fake_slack), _named(example_config)) as app:
        first = post_alert(app, fake_slack, "acme.com")
        second = post_alert(app, fake_slack, "acme.com", event="feature_activated")
        root, reply = fake_slack.posted()
        assert root["channel"] == reply["channel"] == "C0SIGNALS"
        assert reply["thread_ts"] == first[2]  # the account's thread, keyed by the id
        assert app.services.store.alert(second[0]).channel == "C0SIGNALS"


def test_without_channels_read_the_route_works_as_written(db_url, fake_slack, example_config):
    fake_slack.list_error = "missing_scope"
    with serve(make_settings(db_url, fake_slack), _named(example_config)) as app:
        post_alert(app, fake_slack, "acme.com")
        [posted] = fake_slack.posted()
        assert posted["channel"] == "#signals"
