"""What one channel sees, it owns: a click or a modal submission acts on an alert only from the
channel the alert was posted to, and `/posthog snoozes` lists only that channel's snoozes.

One running app per database for the whole module; each test works on its own accounts, so what
one test snoozes never holds back another's alerts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from bot.config.signals_file import load_signals
from testkit.examples import EXAMPLE_SIGNALS
from testkit.postgres import postgres_schema
from testkit.slack import FakeSlack
from tests.conftest import RunningApp, make_settings, serve
from tests.support import stored
from tests.support.alert_clicks import (
    choose_snooze,
    click,
    not_relevant_state,
    post_alert,
    submit_view,
    updates,
)
from tests.support.slack_requests import signed_headers, slash_command


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningApp, FakeSlack]]:
    """The app and its own fake Slack, so nothing one database's run recorded answers the other's."""
    config = load_signals(EXAMPLE_SIGNALS)
    with FakeSlack() as slack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('channels') / 'signals.db'}"
            with serve(make_settings(url, slack), config) as running:
                yield running, slack
        else:
            with postgres_schema() as url, serve(make_settings(url, slack), config) as running:
                yield running, slack


@pytest.fixture(scope="module")
def app(served: tuple[RunningApp, FakeSlack]) -> RunningApp:
    return served[0]


@pytest.fixture(scope="module")
def fake_slack(served: tuple[RunningApp, FakeSlack]) -> FakeSlack:
    return served[1]


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
    assert stored.feedback_on(app.services.store, alert_id) is None
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
    assert stored.feedback_on(app.services.store, alert_id) is None
    assert updates(fake_slack, channel, ts) == []


# -- snoozes -----------------------------------------------------------------------------------------
def _snoozed(app: RunningApp, fake_slack: FakeSlack, domain: str) -> tuple[str, str, str]:
    """(channel, ts, snooze id) of a fresh alert for `domain`, snoozed for 7 days from its own
    channel."""
    alert_id, channel, ts = post_alert(app, fake_slack, domain, "feature_activated")
    assert choose_snooze(app, fake_slack, alert_id, "7d", channel, ts).status_code == 200
    fake_slack.wait_for(lambda s: updates(s, channel, ts))
    snooze_id = app.services.store.alert(alert_id).state.snooze.id
    return channel, ts, snooze_id


def _snoozes_listed(app: RunningApp, fake_slack: FakeSlack, channel: str) -> dict:
    name = f"list-{channel}-{time.monotonic_ns()}"
    command = slash_command("snoozes", fake_slack.response_url(name), channel=channel)
    assert app.http.post("/slack/events", content=command, headers=signed_headers(command)).status_code == 200
    return fake_slack.wait_for(lambda s: s.responses(name))[0]


def _active(app: RunningApp, snooze_id: str) -> bool:
    snooze = app.services.store.get_snooze(snooze_id)
    return snooze is not None and snooze.until > time.time()


def test_snoozes_lists_only_the_snoozes_made_on_this_channels_alerts(app, fake_slack):
    ae_channel, _, ae_snooze = _snoozed(app, fake_slack, "initech.com")
    emea_channel, _, emea_snooze = _snoozed(app, fake_slack, "globex.de")
    assert (ae_channel, emea_channel) == ("C0AE1", "C0EMEA")

    ae = json.dumps(_snoozes_listed(app, fake_slack, "C0AE1"))
    assert "initech.com" in ae and ae_snooze in ae
    assert "globex.de" not in ae and emea_snooze not in ae
    emea = json.dumps(_snoozes_listed(app, fake_slack, "C0EMEA"))
    assert "globex.de" in emea and "initech.com" not in emea

    elsewhere = _snoozes_listed(app, fake_slack, "C0QUIET")
    assert elsewhere["text"] == "No account is snoozed from this channel's alerts."
    assert not elsewhere.get("blocks")


def test_unsnooze_is_honoured_only_in_the_channel_of_the_snoozed_alert(app, fake_slack):
    channel, ts, snooze_id = _snoozed(app, fake_slack, "unsnooze.io")
    shown = len(updates(fake_slack, channel, ts))

    click(app, fake_slack, "unsnooze", snooze_id, "C0OTHER", ts, response="unsnooze-elsewhere")
    refusal = fake_slack.wait_for(lambda s: s.responses("unsnooze-elsewhere"))[0]
    assert refusal["response_type"] == "ephemeral" and "another channel" in refusal["text"]
    assert _active(app, snooze_id)
    assert len(updates(fake_slack, channel, ts)) == shown

    click(app, fake_slack, "unsnooze", snooze_id, channel, ts, response="unsnooze-here")
    done = fake_slack.wait_for(lambda s: s.responses("unsnooze-here"))[0]
    assert "unsnooze.io are back on" in done["text"]
    assert not _active(app, snooze_id)
    assert "Unsnoozed by <@U0AE>" in json.dumps(fake_slack.current(channel, ts)["blocks"])


def test_a_snooze_made_on_no_alert_is_listed_nowhere_and_cannot_be_ended_from_slack(app, fake_slack):
    snooze_id = app.services.store.snooze("orphan.io", time.time() + 86400, "U0ADMIN")

    for channel in ("C0AE1", "C0SIGNALS"):
        assert "orphan.io" not in json.dumps(_snoozes_listed(app, fake_slack, channel))
    click(app, fake_slack, "unsnooze", snooze_id, "C0SIGNALS", "1.2", response="orphan")
    refusal = fake_slack.wait_for(lambda s: s.responses("orphan"))[0]
    assert refusal["response_type"] == "ephemeral" and "not made on an alert" in refusal["text"]
    assert _active(app, snooze_id)


@pytest.mark.parametrize("action_id", ["snooze", "not_relevant", "create_crm_task"])
def test_snooze_not_relevant_and_create_task_from_another_channel_change_nothing(app, fake_slack, action_id):
    alert_id, channel, ts = post_alert(
        app, fake_slack, f"{action_id.replace('_', '-')}.io", "feature_activated"
    )
    name = f"{action_id}-elsewhere"
    if action_id == "snooze":
        choose_snooze(app, fake_slack, alert_id, "7d", "C0OTHER", ts, response=name)
    else:
        click(app, fake_slack, action_id, alert_id, "C0OTHER", ts, response=name)
    refusal = fake_slack.wait_for(lambda s: s.responses(name))[0]
    assert refusal["response_type"] == "ephemeral" and "another channel" in refusal["text"]
    store = app.services.store
    assert store.alert(alert_id).state.snooze is None and stored.task(store, alert_id) is None
    assert updates(fake_slack, channel, ts) == []
