"""The alert's controls against a running server: signed clicks and modal submissions as Slack sends
them, the message updated in place, the store and PostHog holding the outcome."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from testkit.webhook_bodies import activation
from tests.conftest import make_settings, serve
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


class Clock:
    """A movable "now" for the pipeline (snooze expiry)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _text(message: dict) -> str:
    return json.dumps(message["blocks"])


@pytest.fixture
def app(db_url, fake_slack, fake_posthog, example_config):
    with serve(make_settings(db_url, fake_slack, fake_posthog), example_config) as running:
        yield running


def test_create_task_without_crm_keeps_it_in_the_store_and_updates_the_message(app, fake_slack):
    alert_id, channel, ts = post_alert(app, fake_slack)
    response = click(app, fake_slack, "create_crm_task", alert_id, channel, ts)
    assert response.status_code == 200
    fake_slack.wait_for(lambda s: updates(s, channel, ts))
    current = fake_slack.current(channel, ts)
    assert "Task created by <@U0AE>" in _text(current)
    assert "create_crm_task" not in _text(current)  # the button is gone
    task = stored.task(app.services.store, alert_id)
    assert task["status"] == "created" and task["crm"] == "store"
    assert "Acme Corp" in task["subject"] and "ICP score" in task["body"]
    assert fake_slack.responses("click") == []


def test_double_clicks_and_two_people_create_one_task(app, fake_slack):
    alert_id, channel, ts = post_alert(app, fake_slack)
    with ThreadPoolExecutor(6) as pool:
        codes = list(
            pool.map(
                lambda i: (
                    click(
                        app, fake_slack, "create_crm_task", alert_id, channel, ts, user=f"U0AE{i}"
                    ).status_code
                ),
                range(6),
            )
        )
    assert codes == [200] * 6
    fake_slack.wait_for(lambda s: len(s.responses("click")) >= 5, timeout=10)
    # The five who lost the race are told at once; the one creating the task records it a moment later.
    deadline = time.monotonic() + 10
    while stored.task(app.services.store, alert_id)["status"] != "created":
        assert time.monotonic() < deadline, stored.task(app.services.store, alert_id)
        time.sleep(0.02)
    notes = " ".join(r["text"] for r in fake_slack.responses("click"))
    assert "already exists" in notes or "creating the task right now" in notes


def test_the_task_note_mentions_its_creator_only_by_a_slack_user_id(app, fake_slack):
    alert_id, channel, ts = post_alert(app, fake_slack)
    first = click(app, fake_slack, "create_crm_task", alert_id, channel, ts, user="U0AE><!channel>")
    assert first.status_code == 200
    fake_slack.wait_for(lambda s: updates(s, channel, ts))
    again = click(app, fake_slack, "create_crm_task", alert_id, channel, ts, response="again")
    assert again.status_code == 200
    assert fake_slack.wait_for(lambda s: s.responses("again"))[0]["text"] == (
        "A task already exists (created by someone)."
    )


def test_unknown_alert_and_wrong_channel_get_an_ephemeral_error(app, fake_slack):
    alert_id, channel, ts = post_alert(app, fake_slack)
    click(app, fake_slack, "create_crm_task", "forged-id", channel, ts, response="forged")
    reply = fake_slack.wait_for(lambda s: s.responses("forged"))[0]
    assert "unknown" in reply["text"] and reply["response_type"] == "ephemeral"
    click(app, fake_slack, "create_crm_task", alert_id, "C0OTHER", ts, response="elsewhere")
    reply = fake_slack.wait_for(lambda s: s.responses("elsewhere"))[0]
    assert "another channel" in reply["text"]
    assert stored.task(app.services.store, alert_id) is None


def test_snooze_suppresses_the_account_and_unsnooze_brings_it_back(app, fake_slack):
    alert_id, channel, ts = post_alert(app, fake_slack)
    assert choose_snooze(app, fake_slack, alert_id, "7d", channel, ts).status_code == 200
    fake_slack.wait_for(lambda s: updates(s, channel, ts))
    current = fake_slack.current(channel, ts)
    assert "Snoozed by <@U0AE> until" in _text(current)
    assert '"action_id": "unsnooze"' in _text(current)

    body = activation("acme.com")
    app.post_webhook(body)
    entry = app.wait_decided([body["event"]["uuid"]])[0]
    assert entry["outcome"] == "snoozed"
    posted_before = len(fake_slack.posted())

    command = slash_command("snoozes", fake_slack.response_url("list"))
    assert app.http.post("/slack/events", content=command, headers=signed_headers(command)).status_code == 200
    listing = fake_slack.wait_for(lambda s: s.responses("list"))[0]
    assert "acme.com" in json.dumps(listing["blocks"])
    snooze_id = listing["blocks"][1]["accessory"]["value"]

    click(app, fake_slack, "unsnooze", snooze_id, channel, ts, response="unsnooze")
    fake_slack.wait_for(lambda s: s.responses("unsnooze"))
    assert "Unsnoozed by <@U0AE>" in _text(fake_slack.current(channel, ts))

    _, _, _ = post_alert(app, fake_slack, event="invite_sent")
    newest = fake_slack.posted()[-1]
    assert len(fake_slack.posted()) == posted_before + 1
    assert "1 signal was held back while <@U0AE> snoozed this account" in _text(newest)


def test_snooze_ends_by_itself(sqlite_url, fake_slack, example_config):
    clock = Clock()
    with serve(make_settings(sqlite_url, fake_slack), example_config, clock=clock) as app:
        alert_id, channel, ts = post_alert(app, fake_slack)
        choose_snooze(app, fake_slack, alert_id, "1d", channel, ts)
        fake_slack.wait_for(lambda s: updates(s, channel, ts))
        held = activation("acme.com")
        app.post_webhook(held)
        assert app.wait_decided([held["event"]["uuid"]])[0]["outcome"] == "snoozed"
        clock.offset = 2 * 86400  # two days later the snooze is over
        post_alert(app, fake_slack, event="invite_sent")
        assert "1 signal was held back" in _text(fake_slack.posted()[-1])


def test_not_relevant_opens_a_modal_and_records_the_reason(app, fake_slack, fake_posthog):
    alert_id, channel, ts = post_alert(app, fake_slack)
    click(app, fake_slack, "not_relevant", alert_id, channel, ts)
    opened = fake_slack.wait_for(lambda s: s.calls("views.open"))[0]
    view = opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])
    assert view["callback_id"] == "not_relevant_reason"

    def submit(reason, text=None):
        return submit_view(app, view, not_relevant_state(reason, text))

    invalid = submit("other")
    assert invalid.status_code == 200
    assert invalid.json()["response_action"] == "errors" and "comment" in invalid.json()["errors"]

    assert submit("already_working", "<!channel> we own this").status_code == 200
    fake_slack.wait_for(lambda s: updates(s, channel, ts))
    text = _text(fake_slack.current(channel, ts))
    assert "Marked not relevant by <@U0AE>: already working it" in text
    assert "&lt;!channel&gt; we own this" in text and "<!channel>" not in text
    assert stored.feedback_on(app.services.store, alert_id)["reason"] == "already_working"
    event = fake_posthog.wait_for(lambda s: s.captured("signal_feedback"))[0]
    assert event["properties"]["reason"] == "already_working"
    assert event["properties"]["alert_id"] == alert_id
    assert event["properties"]["$lib"] == "posthog-slack-signals"


def test_help_and_unknown_subcommands_answer_with_usage(app, fake_slack):
    command = slash_command("frobnicate <!channel>", fake_slack.response_url("usage"))
    started = time.perf_counter()
    assert app.http.post("/slack/events", content=command, headers=signed_headers(command)).status_code == 200
    assert time.perf_counter() - started < 3
    reply = fake_slack.wait_for(lambda s: s.responses("usage"))[0]
    assert "/posthog snoozes" in reply["text"] and "<!channel>" not in reply["text"]


# -- HubSpot ---------------------------------------------------------------------------------------
@pytest.fixture
def fake_hubspot():
    from testkit.hubspot import FakeHubSpot

    with FakeHubSpot() as server:
        yield server


@pytest.fixture
def crm_app(db_url, fake_slack, fake_hubspot, example_config):
    from testkit.hubspot import TOKEN as HUBSPOT_TOKEN

    settings = make_settings(
        db_url, fake_slack, hubspot_access_token=HUBSPOT_TOKEN, hubspot_api_url=fake_hubspot.api_url
    )
    with serve(settings, example_config) as running:
        yield running


def test_task_is_created_in_hubspot_for_the_company_and_owner(crm_app, fake_slack, fake_hubspot):
    alert_id, channel, ts = post_alert(crm_app, fake_slack)
    click(crm_app, fake_slack, "create_crm_task", alert_id, channel, ts)
    fake_slack.wait_for(lambda s: updates(s, channel, ts))
    [task] = fake_hubspot.tasks()
    props = task.properties
    assert props["hs_task_subject"] == "Follow up: Acme Corp — Trial finished onboarding"
    assert "Trial user from Acme Corp finished onboarding." in props["hs_task_body"]
    assert f"pss-alert-{alert_id}" in props["hs_task_body"]
    assert props["hs_task_priority"] == "HIGH"
    assert props["hubspot_owner_id"] == "111"  # U0OWNER1 -> 111 in the signals file
    assert task.associations == [{"to": "101", "category": "HUBSPOT_DEFINED", "typeId": 192}]
    due = time.mktime(time.strptime(props["hs_timestamp"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert due > time.time() + 86400  # two business days ahead
    text = _text(fake_slack.current(channel, ts))
    assert "Task created by <@U0AE>" in text and "Open in HubSpot" in text
    assert f"/task/{task.id}" in text and '"action_id": "open_crm_task"' in text


def test_concurrent_clicks_create_exactly_one_hubspot_task(crm_app, fake_slack, fake_hubspot):
    alert_id, channel, ts = post_alert(crm_app, fake_slack)
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: click(
                    crm_app, fake_slack, "create_crm_task", alert_id, channel, ts, user=f"U0AE{i}"
                ),
                range(8),
            )
        )
    fake_slack.wait_for(lambda s: updates(s, channel, ts))
    time.sleep(0.5)
    assert len(fake_hubspot.tasks()) == 1


@pytest.mark.parametrize(
    ("reply", "explained"),
    [
        ("unauthorized", "rejected the access token"),
        ("rate_limited", "rate limiting; try again in 10 s"),
        ("server_error", "problem on its side"),
    ],
)
def test_hubspot_failure_is_explained_and_the_button_stays_usable(
    crm_app, fake_slack, fake_hubspot, reply, explained
):
    from testkit import hubspot as fakes

    alert_id, channel, ts = post_alert(crm_app, fake_slack)
    fake_hubspot.script(getattr(fakes, reply)(), path="/crm/v3/objects/tasks")
    click(crm_app, fake_slack, "create_crm_task", alert_id, channel, ts, response="fail")
    note = fake_slack.wait_for(lambda s: s.responses("fail"))[0]
    assert explained in note["text"] and note["response_type"] == "ephemeral"
    assert fake_hubspot.tasks() == [] and updates(fake_slack, channel, ts) == []
    click(crm_app, fake_slack, "create_crm_task", alert_id, channel, ts, response="again")
    fake_slack.wait_for(lambda s: updates(s, channel, ts))
    assert len(fake_hubspot.tasks()) == 1


def test_what_hubspot_says_in_an_error_cannot_ping_or_link(crm_app, fake_slack, fake_hubspot):
    from testkit import hubspot as fakes

    alert_id, channel, ts = post_alert(crm_app, fake_slack)
    fake_hubspot.script(
        fakes.validation_error("Property <!channel> is not <https://evil.example|valid>"),
        path="/crm/v3/objects/tasks",
    )
    click(crm_app, fake_slack, "create_crm_task", alert_id, channel, ts, response="fail")
    text = fake_slack.wait_for(lambda s: s.responses("fail"))[0]["text"]
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text and "<https://" not in text


def test_a_timed_out_create_is_found_not_duplicated(crm_app, fake_slack, fake_hubspot):
    original = fake_hubspot._create_task

    def slow_create(body):
        reply = original(body)  # HubSpot creates the task...
        reply.delay_s = 2.0  # ...but the answer comes after the bot's 1 s timeout
        return reply

    fake_hubspot._create_task = slow_create
    alert_id, channel, ts = post_alert(crm_app, fake_slack)
    click(crm_app, fake_slack, "create_crm_task", alert_id, channel, ts, response="slow")
    note = fake_slack.wait_for(lambda s: s.responses("slow"), timeout=10)[0]
    assert "did not answer" in note["text"]
    fake_hubspot._create_task = original
    click(crm_app, fake_slack, "create_crm_task", alert_id, channel, ts, response="retry")
    fake_slack.wait_for(lambda s: updates(s, channel, ts), timeout=10)
    assert len(fake_hubspot.tasks()) == 1
    assert stored.task(crm_app.services.store, alert_id)["crm_id"] == fake_hubspot.tasks()[0].id
