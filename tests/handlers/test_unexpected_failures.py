"""An unexpected failure behind a click, a modal submission or `/posthog` (here the database briefly
unreachable: a store method replaced, for one request, by one raising SQLAlchemy's OperationalError,
since a real outage cannot be timed to a click) reaches the person who acted as an ephemeral message
naming only the error's class, never its message; the alert stays as it was and actionable."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

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

SECRET = "hunter2"


@pytest.fixture
def app(sqlite_url, fake_slack, fake_posthog, example_config):
    with serve(make_settings(sqlite_url, fake_slack, fake_posthog), example_config) as running:
        yield running


def fail(app: RunningApp, monkeypatch: pytest.MonkeyPatch, method: str) -> list[tuple[Any, ...]]:
    """Make the store's `method` raise OperationalError, whose message holds SQL and a secret, until
    the test undoes it; the calls it refused, to show the failure came from there."""
    refused: list[tuple[Any, ...]] = []

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        refused.append(args)
        raise OperationalError(
            f"SELECT * FROM alerts WHERE token = '{SECRET}'",
            {"password": SECRET},
            ConnectionError(f"could not connect to server (password={SECRET})"),
        )

    monkeypatch.setattr(app.services.store, method, unreachable)
    return refused


def logged_failure(caplog: pytest.LogCaptureFixture, listener: str) -> None:
    deadline = time.monotonic() + 5
    while not (failed := [r for r in caplog.records if f"{listener} failed" in r.getMessage()]):
        assert time.monotonic() < deadline, "the failure was not logged"
        time.sleep(0.02)
    assert failed[0].exc_info is not None and failed[0].exc_info[0] is OperationalError


def assert_told(reply: dict[str, Any]) -> str:
    text = reply["text"]
    assert "OperationalError" in text and "try again in a moment" in text.lower()
    assert SECRET not in json.dumps(reply) and "SELECT" not in text
    return text


def _snooze_on(app: RunningApp, alert_id: str) -> str:
    record = app.services.store.alert(alert_id)
    return app.services.store.snooze(record.account, time.time() + 3600, "U0AE", alert_id)


CLICKS: dict[str, tuple[str, Callable[..., Any]]] = {
    # listener: (the store method that fails, the click given app, fake_slack, alert id, channel, ts)
    "snooze": (
        "snooze",
        lambda app, slack, alert_id, channel, ts: choose_snooze(
            app, slack, alert_id, "7d", channel, ts, response="click"
        ),
    ),
    "create_crm_task": (
        "begin_task",
        lambda app, slack, alert_id, channel, ts: click(app, slack, "create_crm_task", alert_id, channel, ts),
    ),
    "unsnooze": (
        "unsnooze",
        lambda app, slack, alert_id, channel, ts: click(
            app, slack, "unsnooze", _snooze_on(app, alert_id), channel, ts
        ),
    ),
}


@pytest.mark.parametrize("listener", list(CLICKS))
def test_a_click_failing_unexpectedly_tells_the_clicker_ephemerally(
    app, fake_slack, caplog, monkeypatch, listener
):
    alert_id, channel, ts = post_alert(app, fake_slack)
    method, act = CLICKS[listener]
    before = fake_slack.current(channel, ts)
    refused = fail(app, monkeypatch, method)

    assert act(app, fake_slack, alert_id, channel, ts).status_code == 200

    reply = fake_slack.wait_for(lambda s: s.responses("click"))[0]
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    text = assert_told(reply)
    assert "nothing was changed" not in text  # the work may have partly happened
    assert refused
    logged_failure(caplog, listener)
    assert updates(fake_slack, channel, ts) == [] and fake_slack.current(channel, ts) == before

    # The database back, the same control works: the message updated, or the clicker told so.
    monkeypatch.undo()
    assert act(app, fake_slack, alert_id, channel, ts).status_code == 200
    fake_slack.wait_for(lambda s: updates(s, channel, ts) or len(s.responses("click")) > 1)
    assert all("went wrong" not in r["text"] for r in fake_slack.responses("click")[1:])


def test_opening_the_form_failing_unexpectedly_says_nothing_was_changed(app, fake_slack, caplog, monkeypatch):
    alert_id, channel, ts = post_alert(app, fake_slack)
    original = app.services.store.alert

    def alert(wanted: str) -> Any:  # only this click's read fails: delivery reads alerts too
        if wanted == alert_id:
            raise OperationalError(f"SELECT '{SECRET}'", None, ConnectionError(SECRET))
        return original(wanted)

    monkeypatch.setattr(app.services.store, "alert", alert)
    assert click(app, fake_slack, "not_relevant", alert_id, channel, ts).status_code == 200

    reply = fake_slack.wait_for(lambda s: s.responses("click"))[0]
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert "nothing was changed by this click" in assert_told(reply)
    logged_failure(caplog, "open_not_relevant")
    assert fake_slack.calls("views.open") == []


def test_a_submission_failing_unexpectedly_tells_the_submitter_in_the_channel(
    app, fake_slack, caplog, monkeypatch
):
    alert_id, channel, ts = post_alert(app, fake_slack)
    click(app, fake_slack, "not_relevant", alert_id, channel, ts)
    opened = fake_slack.wait_for(lambda s: s.calls("views.open"))[0]
    view = opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])
    refused = fail(app, monkeypatch, "record_feedback")

    response = submit_view(app, view, not_relevant_state("wrong_fit"), user="U0SUBMIT")

    assert response.status_code == 200 and not response.content  # the modal closes
    told = fake_slack.wait_for(
        lambda s: [c for c in s.calls("chat.postEphemeral") if c.get("user") == "U0SUBMIT"]
    )[0]
    assert told["channel"] == channel
    assert "nothing was changed" not in assert_told(told)
    assert refused
    logged_failure(caplog, "not_relevant_submitted")
    assert updates(fake_slack, channel, ts) == []
    assert stored.feedback_on(app.services.store, alert_id) is None


def test_a_command_failing_unexpectedly_answers_on_its_response_url(app, fake_slack, caplog, monkeypatch):
    refused = fail(app, monkeypatch, "active_snoozes")
    command = slash_command("snoozes", fake_slack.response_url("list"))

    assert app.http.post("/slack/events", content=command, headers=signed_headers(command)).status_code == 200

    reply = fake_slack.wait_for(lambda s: s.responses("list"))[0]
    assert reply["response_type"] == "ephemeral"
    assert_told(reply)
    assert refused
    logged_failure(caplog, "/posthog")
