"""`deliver: digest` through a running server and `python -m bot digest`: the alerts are decided and
wait (nothing posted), the command posts one digest per channel listing them by score, run again it
posts nothing, and the digest's Create CRM task button creates the task of that account's alert and
updates the digest in place to show it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bot.config.signals_file import load_signals
from bot.slack.ids import AlertRef, decode
from bot.store import Store, tables
from bot.store.messages import DIGEST_SIGNAL
from testkit.examples import EXAMPLE_SIGNALS
from testkit.hubspot import PORTAL_ID, FakeHubSpot
from testkit.hubspot import TOKEN as HUBSPOT_TOKEN
from testkit.processes import ServerProcess, process_spec
from testkit.slack import FakeSlack
from testkit.webhook_bodies import webhook_body
from tests.conftest import fast_tuning, make_settings, serve
from tests.support import stored
from tests.support.alert_clicks import click
from tests.support.command_line import popen, required_settings, run


def _digest_signals(tmp_path: Path) -> Path:
    """The example signals file with every signal delivered in a digest at 09:00 Amsterdam time."""
    text = EXAMPLE_SIGNALS.read_text().replace("    deliver: digest", "    thread: account")
    text = text.replace("    min_score:", "    deliver: digest\n    min_score:")
    path = tmp_path / "signals.yml"
    path.write_text(text)
    (tmp_path / "companies.json").write_text((EXAMPLE_SIGNALS.parent / "companies.json").read_text())
    return path


def _ledger(app, uuids: list[str]) -> list[tuple[str, str]]:
    deadline = time.time() + 10
    while time.time() < deadline:
        rows = {r["event_uuid"]: r for r in app.services.store.ledger_entries(uuids)}
        if len(rows) == len(uuids):
            return [(rows[u]["outcome"], rows[u]["signals"][0]["reason"]) for u in uuids]
        time.sleep(0.02)
    raise AssertionError("not decided in time")


@pytest.fixture
def fake_hubspot():
    with FakeHubSpot() as server:
        yield server


def _sections(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if b["type"] == "section"]


def _post_digest(tmp_path: Path, db_url: str, fake_slack: FakeSlack) -> tuple[Path, dict[str, Any]]:
    """Acme (two signals) and Initech (one), decided by a running server and left waiting, then
    `python -m bot digest`: (the signals file, the environment the command ran with)."""
    signals = _digest_signals(tmp_path)
    bodies = [
        webhook_body("onboarding_completed", properties={"company_domain": "acme.com", "plan": "trial"}),
        webhook_body(
            "feature_activated", properties={"company_domain": "acme.com", "feature_name": "api_integration"}
        ),
        webhook_body("onboarding_completed", properties={"company_domain": "initech.com", "plan": "trial"}),
    ]
    with serve(make_settings(db_url, fake_slack), load_signals(signals)) as app:
        for body in bodies:
            assert app.post_webhook(body).status_code == 202
        outcomes = _ledger(app, [b["event"]["uuid"] for b in bodies])
        assert outcomes == [("alerted", "routed to the C0AE1 digest")] * 3
        time.sleep(0.2)
        assert fake_slack.posted() == []  # they wait for the digest

    env = {**required_settings(db_url), "SIGNALS_CONFIG": str(signals), "SLACK_API_URL": fake_slack.api_url}
    result = run(["digest"], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Posted the digest to C0AE1."
    return signals, env


def test_digest_alerts_wait_then_one_digest_per_channel_and_its_button_works(tmp_path, db_url, fake_slack):
    signals, env = _post_digest(tmp_path, db_url, fake_slack)
    [digest] = fake_slack.posted()
    assert digest["channel"] == "C0AE1"
    sections = _sections(digest)
    assert [s["text"]["text"].split(" ·")[0] for s in sections] == ["*Acme Corp*", "*Initech*"]
    assert "API integration activated" in sections[0]["text"]["text"]
    assert "Trial finished onboarding" in sections[0]["text"]["text"]

    again = run(["digest"], tmp_path, **env)
    assert (
        again.returncode == 0
        and again.stdout.strip() == "No alerts are waiting for a digest, and every digest is in Slack."
    )
    assert len(fake_slack.posted()) == 1

    button = sections[1]["accessory"]
    alert_id = decode(AlertRef, button["value"]).alert_id
    with serve(make_settings(db_url, fake_slack), load_signals(signals)) as app:
        ts = fake_slack.posted_ts()[0]
        response = click(app, fake_slack, button["action_id"], button["value"], "C0AE1", ts)
        assert response.status_code == 200
        fake_slack.wait_for(lambda s: s.calls("chat.update"))
        now = fake_slack.current("C0AE1", ts)
        acme, initech = _sections(now)
        assert now["blocks"][:2] == digest["blocks"][:2]  # the header and the count, as posted
        assert acme == sections[0]  # the other account keeps its button
        lines = initech["text"]["text"].split("\n")
        assert lines[0] == sections[1]["text"]["text"].split("\n")[0]
        assert lines[1] == (
            ":white_check_mark: Task created by <@U0AE> · kept in posthog-slack-signals (no CRM configured)"
        )
        assert "Trial finished onboarding" in lines[2]
        assert "accessory" not in initech  # no Create CRM task button to click again
        task = app.services.store.task(alert_id)
        assert task is not None and (task.status, task.crm, task.requested_by) == ("created", "store", "U0AE")

        response = click(
            app, fake_slack, button["action_id"], button["value"], "C0AE1", ts, user="U0CS", response="again"
        )
        assert response.status_code == 200
        [note] = fake_slack.wait_for(lambda s: s.responses("again"))
        assert note["text"] == "A task already exists (created by <@U0AE>)."
        assert note["response_type"] == "ephemeral"
        assert fake_slack.responses("click") == []  # the first clicker read it in the digest
        assert fake_slack.current("C0AE1", ts)["blocks"] == now["blocks"]


def test_a_digests_button_with_hubspot_shows_the_tasks_link(tmp_path, db_url, fake_slack, fake_hubspot):
    signals, _ = _post_digest(tmp_path, db_url, fake_slack)
    [digest] = fake_slack.posted()
    acme_before, initech_before = _sections(digest)
    button = acme_before["accessory"]
    settings = make_settings(
        db_url, fake_slack, hubspot_access_token=HUBSPOT_TOKEN, hubspot_api_url=fake_hubspot.api_url
    )
    with serve(settings, load_signals(signals)) as app:
        ts = fake_slack.posted_ts()[0]
        assert click(app, fake_slack, button["action_id"], button["value"], "C0AE1", ts).status_code == 200
        [task] = fake_hubspot.wait_for(lambda h: h.tasks())
        fake_slack.wait_for(lambda s: s.calls("chat.update"))
        acme, initech = _sections(fake_slack.current("C0AE1", ts))
        url = f"https://app.hubspot.com/tasks/{PORTAL_ID}/view/all/task/{task.id}"
        assert acme["text"]["text"].split("\n")[1] == (
            f":white_check_mark: Task created by <@U0AE> · <{url}|Open in HubSpot>"
        )
        control = acme["accessory"]
        assert (control["action_id"], control["text"]["text"], control["url"]) == (
            "open_crm_task",
            "Open task",
            url,
        )
        assert initech == initech_before
        time.sleep(0.2)
        assert fake_slack.responses("click") == []
        assert task.associations == [{"to": "101", "category": "HUBSPOT_DEFINED", "typeId": 192}]


def test_a_digest_is_posted_once_when_the_process_sending_it_is_killed(tmp_path, sqlite_url, fake_slack):
    """SIGKILL to `python -m bot digest` while Slack has the digest but its answer has not arrived:
    `serve` then finds the claim of a dead process, looks in the channel, finds the digest there by its
    metadata and records it, instead of posting it again."""
    signals = _digest_signals(tmp_path)
    with serve(make_settings(sqlite_url, fake_slack), load_signals(signals)) as app:
        body = webhook_body(
            "onboarding_completed", properties={"company_domain": "acme.com", "plan": "trial"}
        )
        assert app.post_webhook(body).status_code == 202
        assert _ledger(app, [body["event"]["uuid"]])[0][0] == "alerted"

    original = fake_slack.api_chat_postMessage

    def slack_got_it_but_never_answered(args):
        reply = original(args)
        reply.delay_s = 30
        return reply

    fake_slack.api_chat_postMessage = slack_got_it_but_never_answered
    env = {
        **required_settings(sqlite_url),
        "SIGNALS_CONFIG": str(signals),
        "SLACK_API_URL": fake_slack.api_url,
    }
    sending = popen(["digest"], tmp_path, **env)
    try:
        fake_slack.wait_for(lambda s: s.calls("chat.postMessage"), timeout=20)
    finally:
        sending.kill()
        sending.wait(5)
    fake_slack.api_chat_postMessage = original

    server = ServerProcess(process_spec(sqlite_url, fake_slack.api_url, signals), tmp_path / "metrics")
    server.start()
    try:
        fake_slack.wait_for(lambda s: s.calls("conversations.history"), timeout=15)
        time.sleep(0.5)
        assert len(fake_slack.calls("chat.postMessage")) == 1 and len(fake_slack.posted()) == 1
        store = Store.from_url(sqlite_url)
        [digest] = [r for r in stored.rows(store, tables.alerts, signal=DIGEST_SIGNAL)]
        store.dispose()
        assert digest["status"] == "posted" and digest["ts"] == fake_slack.posted_ts()[0]
    finally:
        server.kill()


# -- auto_task on a digest signal -----------------------------------------------------------------
AUTO = ":white_check_mark: Task created automatically"
TASKS = "/crm/v3/objects/tasks"


def _auto_task_signals(tmp_path: Path) -> Path:
    """The digest signals, with `auto_task: {min_score: 90}` on Trial finished onboarding."""
    path = _digest_signals(tmp_path)
    text = path.read_text().replace(
        "    priority: high\n", "    priority: high\n    auto_task: {min_score: 90}\n", 1
    )
    path.write_text(text)
    return path


def _stark_and_piedpiper(db_url: str, fake_slack: FakeSlack, signals: Path) -> None:
    """Stark Industries (ICP 100: its onboarding alert owes its task; its API integration alert, of a
    signal without auto_task, does not, and is the account's best as the newer) and Pied Piper
    (ICP 85 < 90: no automatic task), decided by a running server and left waiting for C0SIGNALS'
    digest."""
    bodies = [
        webhook_body(
            "onboarding_completed", properties={"company_domain": "starkindustries.com", "plan": "trial"}
        ),
        webhook_body(
            "feature_activated",
            properties={"company_domain": "starkindustries.com", "feature_name": "api_integration"},
        ),
        webhook_body("onboarding_completed", properties={"company_domain": "piedpiper.com", "plan": "trial"}),
    ]
    bodies[1]["event"]["timestamp"] = "2026-11-26T10:20:30.123Z"  # the newer: the account's best alert
    with serve(make_settings(db_url, fake_slack), load_signals(signals)) as app:
        for body in bodies:
            assert app.post_webhook(body).status_code == 202
        assert (
            _ledger(app, [b["event"]["uuid"] for b in bodies])
            == [("alerted", "routed to the C0SIGNALS digest")] * 3
        )
        time.sleep(0.2)
        assert fake_slack.posted() == []


def _owing(db_url: str) -> list[dict[str, Any]]:
    """The alerts whose signal's auto_task applies."""
    store = Store.from_url(db_url)
    try:
        return [r for r in stored.rows(store, tables.alerts) if r["auto_task"]]
    finally:
        store.dispose()


def _tasks(db_url: str) -> list[dict[str, Any]]:
    store = Store.from_url(db_url)
    try:
        return list(stored.rows(store, tables.tasks))
    finally:
        store.dispose()


def _digest_now(fake_slack: FakeSlack) -> tuple[dict[str, Any], dict[str, Any]]:
    """The digest's two sections as they read now: (Stark Industries, Pied Piper)."""
    ts = fake_slack.posted_ts()[0]
    stark, piedpiper = _sections(fake_slack.current("C0SIGNALS", ts))
    assert stark["text"]["text"].startswith("*Stark Industries*")
    assert piedpiper["text"]["text"].startswith("*Pied Piper*")
    return stark, piedpiper


def test_a_digest_signals_auto_task_is_created_once_the_digest_is_posted_and_shown_in_it(
    tmp_path, db_url, fake_slack, fake_hubspot
):
    """The server posts the day's digest itself (its clock a day on): the one alert it lists that owes
    its task gets it right after, in HubSpot, exactly once, and the digest is updated in place to say
    so for that account, with the task's link; the other account keeps its Create button. Later
    sweeps create nothing more."""
    signals = _auto_task_signals(tmp_path)
    _stark_and_piedpiper(db_url, fake_slack, signals)
    [owing] = _owing(db_url)
    assert (owing["account"], owing["signal"], owing["status"]) == (
        "starkindustries.com",
        "Trial finished onboarding",
        "digest",
    )

    settings = make_settings(
        db_url, fake_slack, hubspot_access_token=HUBSPOT_TOKEN, hubspot_api_url=fake_hubspot.api_url
    )
    tuning = fast_tuning(auto_task_sweep_s=0.1)
    with serve(settings, load_signals(signals), tuning, clock=lambda: time.time() + 86400) as app:
        [task] = fake_hubspot.wait_for(lambda h: h.tasks())
        fake_slack.wait_for(lambda s: s.posted() and AUTO in str(_digest_now(s)[0]))
        [digest] = fake_slack.posted()
        assert digest["channel"] == "C0SIGNALS"
        posted_stark = _sections(digest)[0]
        # The account's button acts on its best alert (API integration), not on the one with the task:
        # the account shows that task all the same, and no button to create a second one.
        assert decode(AlertRef, posted_stark["accessory"]["value"]).alert_id != owing["id"]
        stark, piedpiper = _digest_now(fake_slack)
        url = f"https://app.hubspot.com/tasks/{PORTAL_ID}/view/all/task/{task.id}"
        assert stark["text"]["text"].split("\n")[1] == f"{AUTO} · <{url}|Open in HubSpot>"
        assert stark["accessory"]["action_id"] == "open_crm_task"
        assert piedpiper["accessory"]["action_id"] == "create_crm_task"
        time.sleep(0.5)  # several sweeps
        assert app.services.store.owed_auto_tasks(time.time()) == []
        assert app.services.store.unshown_auto_tasks(time.time()) == []
    [stored_task] = _tasks(db_url)
    assert (stored_task["alert_id"], stored_task["status"], stored_task["requested_by"]) == (
        owing["id"],
        "created",
        "auto",
    )
    assert len(fake_hubspot.tasks()) == 1 and len(fake_hubspot.calls(TASKS)) == 1


def test_a_digest_posted_by_the_command_leaves_no_automatic_task_behind(tmp_path, db_url, fake_slack):
    """`python -m bot digest` posts the digest and may exit before the task is made: the server's sweep
    finds the alert through its posted digest and creates the task (kept in the store, no CRM), once;
    the digest then shows it."""
    signals = _auto_task_signals(tmp_path)
    _stark_and_piedpiper(db_url, fake_slack, signals)
    env = {**required_settings(db_url), "SIGNALS_CONFIG": str(signals), "SLACK_API_URL": fake_slack.api_url}
    result = run(["digest"], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Posted the digest to C0SIGNALS."

    tuning = fast_tuning(auto_task_sweep_s=0.1, crm_task_busy_s=0.3)
    with serve(make_settings(db_url, fake_slack), load_signals(signals), tuning) as app:
        fake_slack.wait_for(lambda s: AUTO in str(_digest_now(s)[0]), timeout=10)
        stark, piedpiper = _digest_now(fake_slack)
        assert stark["text"]["text"].split("\n")[1] == (
            f"{AUTO} · kept in posthog-slack-signals (no CRM configured)"
        )
        assert piedpiper["accessory"]["action_id"] == "create_crm_task"
        time.sleep(0.5)
        assert app.services.store.owed_auto_tasks(time.time()) == []
    [owing] = _owing(db_url)
    [task] = _tasks(db_url)
    assert (task["alert_id"], task["status"], task["requested_by"]) == (owing["id"], "created", "auto")
    assert len(fake_slack.posted()) == 1
