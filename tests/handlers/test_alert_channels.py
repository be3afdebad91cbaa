"""What one channel sees, it owns: a click or a modal submission acts on an alert only from the
channel the alert was posted to, and `/posthog snoozes` lists only that channel's snoozes.

One running app per database for the whole module; each test works on its own accounts, so what
one test snoozes never holds back another's alerts."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot.signals import load_signals
from tests.conftest import EXAMPLE_SIGNALS, RunningApp, make_settings, postgres_schema, serve
from tests.fakes.slack import FakeSlack
from tests.support.alert_clicks import click, not_relevant_state, post_alert, submit_view, updates


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_slack: FakeSlack
) -> Iterator[RunningApp]:
    config = load_signals(EXAMPLE_SIGNALS)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('channels') / 'signals.db'}"
        with serve(make_settings(url, fake_slack), config) as running:
            yield running
    else:
        with postgres_schema() as url, serve(make_settings(url, fake_slack), config) as running:
            yield running


def _not_relevant_view(app: RunningApp, fake_slack: FakeSlack, alert_id: str, channel: str, ts: str) -> dict:
    """The modal a Not relevant click opened for this alert, as views.open received it."""
    click(app, fake_slack, "not_relevant", alert_id, channel, ts)

    def opened(slack: FakeSlack) -> dict | None:
        for call in slack.calls("views.open"):
            view = call["view"] if isinstance(call["view"], dict) else json.loads(call["view"])
            if alert_id in view["private_metadata"]:
                return view
        return None

    return fake_slack.wait_for(opened)


# -- "Not relevant" ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "metadata",
    ["{alert_id}", '{{"alert_id": "{alert_id}"}}', '{{"alert_id": "{alert_id}", "channel": 5}}', ""],
    ids=["not json", "no channel", "channel not a string", "empty"],
)
def test_a_submission_whose_metadata_names_no_channel_is_refused_in_the_modal(app, fake_slack, metadata):
    alert_id, channel, ts = post_alert(app, fake_slack, f"nochannel{len(metadata)}.io", "feature_activated")
    view = _not_relevant_view(app, fake_slack, alert_id, channel, ts)
    forged = {**view, "private_metadata": metadata.format(alert_id=alert_id)}

    response = submit_view(app, forged, not_relevant_state("wrong_fit"))

    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert "click Not relevant on the alert again" in answer["errors"]["reason"]
    assert app.services.store.feedback_for(alert_id) is None
    assert updates(fake_slack, channel, ts) == []


def test_a_submission_naming_another_channel_is_refused_and_the_user_told(app, fake_slack):
    alert_id, channel, ts = post_alert(app, fake_slack, "elsewhere.io", "feature_activated")
    view = _not_relevant_view(app, fake_slack, alert_id, channel, ts)
    forged = {**view, "private_metadata": json.dumps({"alert_id": alert_id, "channel": "C0OTHER"})}

    assert submit_view(app, forged, not_relevant_state("wrong_fit"), user="U0ELSE").status_code == 200

    told = fake_slack.wait_for(
        lambda s: [c for c in s.calls("chat.postEphemeral") if c.get("user") == "U0ELSE"]
    )[0]
    assert told["channel"] == "C0OTHER" and "another channel" in told["text"]
    assert app.services.store.feedback_for(alert_id) is None
    assert updates(fake_slack, channel, ts) == []
