"""`auto_task` through a running server with the fake Slack and HubSpot: the task created right after the
alert is posted, exactly once (a racing click gets the same task; a kill -9 between post and task
leaves it to the next process), shown on the alert without a Create button; and when HubSpot fails,
the button comes back with the reason and a click retries."""

from __future__ import annotations

import time

from bot.config.signals_file import AutoTask
from testkit.examples import EXAMPLE_SIGNALS
from testkit.hubspot import TOKEN as HUBSPOT_TOKEN
from testkit.hubspot import SlowHubSpot, validation_error
from testkit.processes import ServerProcess, process_spec
from testkit.webhook_bodies import webhook_body
from tests.conftest import make_settings, serve
from tests.support.alert_clicks import click

TASKS = "/crm/v3/objects/tasks"


def _config(example_config, min_score: int = 80):
    signals = [
        s.model_copy(update={"auto_task": AutoTask(min_score=min_score)})
        if s.name == "Trial finished onboarding"
        else s
        for s in example_config.signals
    ]
    return example_config.model_copy(update={"signals": signals})


def _onboarding(domain: str = "acme.com") -> dict:
    return webhook_body("onboarding_completed", properties={"company_domain": domain, "plan": "trial"})


def _settings(db_url, fake_slack, hubspot):
    return make_settings(
        db_url, fake_slack, hubspot_access_token=HUBSPOT_TOKEN, hubspot_api_url=hubspot.api_url
    )


def _current(fake_slack) -> tuple[str, str]:
    """The one alert as it reads now, and its ts (empty before it is posted)."""
    posted = fake_slack.posted()
    if not posted:
        return "", ""
    ts = fake_slack.posted_ts()[0]
    return str(fake_slack.current(posted[0]["channel"], ts)), ts


def test_a_high_score_gets_its_task_right_after_the_alert_without_a_click(db_url, fake_slack, example_config):
    with (
        SlowHubSpot() as hubspot,
        serve(_settings(db_url, fake_slack, hubspot), _config(example_config)) as app,
    ):
        assert app.post_webhook(_onboarding()).status_code == 202
        fake_slack.wait_for(lambda s: "Task created automatically" in _current(s)[0])
        shown, _ = _current(fake_slack)
        assert "Open in HubSpot" in shown and "create_crm_task" not in shown
        [posted] = fake_slack.posted()
        assert "Creating the CRM task automatically" in str(posted)  # its button gets that same task
        time.sleep(0.3)
        assert len(hubspot.tasks()) == 1 and len(hubspot.calls(TASKS)) == 1


def test_below_its_min_score_the_alert_waits_for_a_click(db_url, fake_slack, example_config):
    with (
        SlowHubSpot() as hubspot,
        serve(_settings(db_url, fake_slack, hubspot), _config(example_config, 101 - 1)) as app,
    ):
        assert app.post_webhook(_onboarding("piedpiper.com")).status_code == 202  # ICP 85 < 100
        fake_slack.wait_for(lambda s: s.posted())
        time.sleep(0.3)
        assert "create_crm_task" in str(fake_slack.posted()[0]) and hubspot.tasks() == []


def test_a_click_racing_the_automatic_task_gets_the_same_single_task(db_url, fake_slack, example_config):
    with (
        SlowHubSpot() as hubspot,
        serve(_settings(db_url, fake_slack, hubspot), _config(example_config)) as app,
    ):
        hubspot.answer_after_s = 0.6  # inside the client's 1 s timeout
        assert app.post_webhook(_onboarding()).status_code == 202
        hubspot.wait_for(lambda h: h.calls(TASKS))
        [message] = fake_slack.posted()
        alert_id = message["metadata"]["event_payload"]["alert_id"]
        response = click(
            app, fake_slack, "create_crm_task", alert_id, message["channel"], fake_slack.posted_ts()[0]
        )
        assert response.status_code == 200
        [note] = fake_slack.wait_for(lambda s: s.responses("click"))
        assert note["text"] == "The task is being created automatically right now."
        fake_slack.wait_for(lambda s: "Task created automatically" in _current(s)[0], timeout=5)
        assert len(hubspot.tasks()) == 1 and len(hubspot.calls(TASKS)) == 1


def test_when_hubspot_fails_the_button_comes_back_with_the_reason_and_a_click_retries(
    db_url, fake_slack, example_config
):
    with (
        SlowHubSpot() as hubspot,
        serve(_settings(db_url, fake_slack, hubspot), _config(example_config)) as app,
    ):
        hubspot.script(validation_error("Property values were not valid: hs_task_priority"), path=TASKS)
        assert app.post_webhook(_onboarding()).status_code == 202
        fake_slack.wait_for(lambda s: "The automatic task failed" in _current(s)[0], timeout=10)
        shown, ts = _current(fake_slack)
        assert "create_crm_task" in shown and hubspot.tasks() == []
        [message] = fake_slack.posted()
        alert_id = message["metadata"]["event_payload"]["alert_id"]
        assert click(app, fake_slack, "create_crm_task", alert_id, message["channel"], ts).status_code == 200
        fake_slack.wait_for(lambda s: "Task created by" in _current(s)[0], timeout=5)
        assert "The automatic task failed" not in _current(fake_slack)[0]
        assert len(hubspot.tasks()) == 1


def _killable(sqlite_url, fake_slack, tmp_path, hubspot) -> ServerProcess:
    """The server with a high-score signal's auto_task, in a process the test can kill -9, with short
    busy and sweep windows so the next process takes over within a second."""
    signals = tmp_path / "signals.yml"
    text = EXAMPLE_SIGNALS.read_text().replace(
        "    priority: high\n", "    priority: high\n    auto_task: {min_score: 80}\n", 1
    )
    signals.write_text(text)
    (tmp_path / "companies.json").write_text((EXAMPLE_SIGNALS.parent / "companies.json").read_text())
    spec = process_spec(sqlite_url, fake_slack.api_url, signals)
    spec["settings"].update(hubspot_access_token=HUBSPOT_TOKEN, hubspot_api_url=hubspot.api_url)
    spec["tuning"].update(crm_task_busy_s=0.5, crm_recovery_wait_s=0.1, auto_task_sweep_s=0.2)
    return ServerProcess(spec, tmp_path / "metrics")


def test_a_kill_between_the_post_and_the_task_leaves_exactly_one_task(sqlite_url, fake_slack, tmp_path):
    """HubSpot creates the task but its answer never arrives: the process is killed. The next one
    finds the alert still owed its task, looks in HubSpot for the one it may have created (by its
    marker), finds it and records it, instead of creating a second."""
    with SlowHubSpot() as hubspot:
        server = _killable(sqlite_url, fake_slack, tmp_path, hubspot)
        hubspot.answer_after_s = 30.0
        server.start()
        try:
            assert server.post(_onboarding()).status_code == 202
            hubspot.wait_for(lambda h: h.tasks(), timeout=10)
            server.kill()
            hubspot.answer_after_s = 0.0
            server.start()
            fake_slack.wait_for(lambda s: "Task created automatically" in _current(s)[0], timeout=15)
            assert len(hubspot.tasks()) == 1 and len(hubspot.calls(TASKS)) == 1
        finally:
            server.kill()


def _killed_while_the_alert_is_updated(server, fake_slack) -> None:
    """The alert is posted and its automatic task settled; the server is killed while Slack holds the
    update that would show the outcome."""
    with fake_slack.hanging("chat.update"):
        server.start()
        assert server.post(_onboarding()).status_code == 202
        fake_slack.wait_for(lambda s: s.calls("chat.update"), timeout=10)
        server.kill()


def test_a_kill_before_the_alert_shows_its_task_leaves_the_next_process_to_show_it(
    sqlite_url, fake_slack, tmp_path
):
    """The task is created in HubSpot and recorded, but the process is killed while Slack has not yet
    answered the update that shows it: the alert still says "Creating…". The next process shows the
    task the store kept, asking HubSpot for nothing and creating no second task."""
    with SlowHubSpot() as hubspot:
        server = _killable(sqlite_url, fake_slack, tmp_path, hubspot)
        try:
            _killed_while_the_alert_is_updated(server, fake_slack)
            assert len(hubspot.tasks()) == 1
            assert "Creating the CRM task automatically" in _current(fake_slack)[0]
            server.start()
            fake_slack.wait_for(lambda s: "Task created automatically" in _current(s)[0], timeout=15)
            shown, _ = _current(fake_slack)
            assert "Creating the CRM task automatically" not in shown and "create_crm_task" not in shown
            assert "Open in HubSpot" in shown
            time.sleep(0.5)  # more sweeps: none asks HubSpot again
            assert len(hubspot.tasks()) == 1 and len(hubspot.calls(TASKS)) == 1
            assert hubspot.calls(TASKS + "/search") == []
        finally:
            server.kill()


def test_a_kill_before_the_alert_shows_the_failure_leaves_the_next_process_to_show_it(
    sqlite_url, fake_slack, tmp_path
):
    """HubSpot refuses the task, and the process is killed before the alert could say so: the next
    process shows why, with the button, and does not try HubSpot again."""
    with SlowHubSpot() as hubspot:
        server = _killable(sqlite_url, fake_slack, tmp_path, hubspot)
        hubspot.script(validation_error("Property values were not valid: hs_task_priority"), path=TASKS)
        try:
            _killed_while_the_alert_is_updated(server, fake_slack)
            assert "Creating the CRM task automatically" in _current(fake_slack)[0]
            server.start()
            fake_slack.wait_for(lambda s: "The automatic task failed" in _current(s)[0], timeout=15)
            shown, _ = _current(fake_slack)
            assert "Property values were not valid" in shown and "create_crm_task" in shown
            assert "Creating the CRM task automatically" not in shown
            time.sleep(0.5)
            assert hubspot.tasks() == [] and len(hubspot.calls(TASKS)) == 1
        finally:
            server.kill()
