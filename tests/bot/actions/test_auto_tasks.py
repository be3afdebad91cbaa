"""The automatic task's alert after a process died between settling the task and showing it: the store
records the outcome with the alert's state only once the message shows it, so the sweep finds every
alert whose message may still say "Creating…" and shows what the store kept (the task, or why it
failed), asking the CRM for nothing; several processes doing so at once agree on the newest state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.alert_access import AlertAccess
from bot.actions.auto_tasks import AutoTasks
from bot.actions.crm_task import CrmTasks
from bot.alerts.delivery import make_slack_client
from bot.alerts.model import AlertState, FeedbackShown, TaskShown
from bot.clients.hubspot import HubSpot
from bot.slack.ids import FeedbackReason
from bot.store.alert_actions import AUTO_REQUESTER, NewTask
from bot.store.records import to_json
from testkit.hubspot import TOKEN, FakeHubSpot, SlowHubSpot, validation_error
from testkit.slack import TOKEN as SLACK_TOKEN
from testkit.slack import FakeSlack
from tests.support import stored
from tests.support.factories import example_config
from tests.support.posted_alerts import acme_alert, post_alert, shown

TASKS = "/crm/v3/objects/tasks"
CONFIG = example_config()
URL = "https://app.hubspot.com/tasks/1/view/all/task/9001"
CREATING = ":hourglass_flowing_sand: Creating the CRM task automatically…"
DONE = f":white_check_mark: Task created automatically · <{URL}|Open in HubSpot>"


@pytest.fixture
def fake_hubspot():
    with SlowHubSpot() as server:
        yield server


@asynccontextmanager
async def _auto(
    access: AlertAccess, slack: AsyncWebClient, hubspot: FakeHubSpot | None
) -> AsyncIterator[AutoTasks]:
    """The worker's AutoTasks; `busy_s` 0: every attempt is old enough for the sweep."""
    async with httpx.AsyncClient() as http:
        client = None if hubspot is None else HubSpot(hubspot.api_url, TOKEN, http, timeout_s=5.0)
        tasks = CrmTasks(access, access.store, CONFIG, client, recovery_wait_s=0.1, busy_s=0.0)
        auto = AutoTasks(tasks, access.store, slack)
        yield auto
        await auto.drain()


def _sweep(access: AlertAccess, slack: AsyncWebClient, hubspot: FakeHubSpot | None = None) -> None:
    async def sweep() -> None:
        async with _auto(access, slack, hubspot) as auto:
            await auto.sweep()

    asyncio.run(sweep())


def _create(access: AlertAccess, slack: AsyncWebClient, hubspot: FakeHubSpot, alert_id: str) -> None:
    async def create() -> None:
        async with _auto(access, slack, hubspot) as auto:
            auto.submit(alert_id)

    asyncio.run(create())


def _unanswering(fake_slack: FakeSlack) -> AsyncWebClient:
    """The worker's Slack client, giving up on an unanswered call after 0.3 s."""
    return make_slack_client(SLACK_TOKEN, fake_slack.api_url, backoff_s=0.01, timeout_s=0.3)


def _settled_unshown(store, alert_id: str, url: str | None = URL) -> None:
    """The automatic task as a process leaves it when killed right after recording it in the store."""
    new = NewTask(AUTO_REQUESTER, "hubspot", "s", "b", time.time(), None)
    assert store.begin_task(alert_id, new).kind == "start"
    store.task_created(alert_id, "9001", url)


def _updates(fake_slack: FakeSlack, ts: str) -> list[dict]:
    return [call for call in fake_slack.calls("chat.update") if call.get("ts") == ts]


def test_a_task_recorded_by_a_process_that_died_before_showing_it_is_shown_by_the_sweep(
    store, slack, access, fake_slack, fake_hubspot
):
    details = acme_alert(auto_task=True)
    ts = asyncio.run(post_alert(store, slack, details))
    assert shown(fake_slack, ts).state == [CREATING]
    _settled_unshown(store, details.alert_id)
    assert details.alert_id in store.unshown_auto_tasks(time.time())

    _sweep(access, slack, fake_hubspot)

    message = shown(fake_slack, ts)
    assert message.state == [DONE]
    assert "create_crm_task" not in message.controls and message.controls["open_crm_task"]["url"] == URL
    assert fake_hubspot.requests == []  # what the store kept is shown: the CRM is asked for nothing
    state = stored.alert(store, details.alert_id)["state"]
    assert AlertState.model_validate_json(state).task == TaskShown(by=AUTO_REQUESTER, url=URL, crm="hubspot")
    assert details.alert_id not in store.unshown_auto_tasks(time.time())
    _sweep(access, slack, fake_hubspot)
    assert len(_updates(fake_slack, ts)) == 1  # shown once: the next sweep leaves it


def test_an_update_slack_never_answered_leaves_the_task_unrecorded_and_the_sweep_shows_it(
    store, slack, access, fake_slack, fake_hubspot
):
    details = acme_alert(auto_task=True)
    ts = asyncio.run(post_alert(store, slack, details))

    with fake_slack.hanging("chat.update"):
        _create(access, _unanswering(fake_slack), fake_hubspot, details.alert_id)

    [task] = fake_hubspot.tasks()
    assert stored.task(store, details.alert_id)["status"] == "created"
    assert shown(fake_slack, ts).state == [CREATING]  # as after a kill during the update
    assert AlertState.model_validate_json(stored.alert(store, details.alert_id)["state"]).task is None
    assert details.alert_id in store.unshown_auto_tasks(time.time())

    _sweep(access, slack, fake_hubspot)

    assert shown(fake_slack, ts).controls["open_crm_task"]["url"].endswith(f"/task/{task.id}")
    assert shown(fake_slack, ts).state[0].startswith(":white_check_mark: Task created automatically")
    assert len(fake_hubspot.tasks()) == 1 and len(fake_hubspot.calls(TASKS)) == 1


def test_a_failure_never_shown_is_shown_with_its_reason_and_not_tried_again(
    store, slack, access, fake_slack, fake_hubspot
):
    details = acme_alert(auto_task=True)
    ts = asyncio.run(post_alert(store, slack, details))
    fake_hubspot.script(validation_error("Property values were not valid: hs_task_priority"), path=TASKS)

    with fake_slack.hanging("chat.update"):
        _create(access, _unanswering(fake_slack), fake_hubspot, details.alert_id)
    assert stored.task(store, details.alert_id)["status"] == "failed"
    assert shown(fake_slack, ts).state == [CREATING]

    _sweep(access, slack, fake_hubspot)

    message = shown(fake_slack, ts)
    assert message.state == [
        ":warning: The automatic task failed: HubSpot rejected the request (400): Property values were "
        "not valid: hs_task_priority. Create it with the button."
    ]
    assert "create_crm_task" in message.controls
    assert fake_hubspot.tasks() == [] and len(fake_hubspot.calls(TASKS)) == 1
    assert details.alert_id not in store.unshown_auto_tasks(time.time())


def test_the_sweep_looks_only_at_automatic_tasks_settled_and_not_shown(store, slack, access):
    def posted(**overrides) -> str:
        details = acme_alert(**overrides)
        asyncio.run(post_alert(store, slack, details))
        return details.alert_id

    unshown, shown_already, failure_shown, creating, not_auto = (
        posted(auto_task=True),
        posted(auto_task=True),
        posted(auto_task=True),
        posted(auto_task=True),
        posted(),
    )
    for alert_id in (unshown, shown_already, not_auto):
        _settled_unshown(store, alert_id)
    store.update_alert_state(shown_already, lambda s: s.with_task(TaskShown(by=AUTO_REQUESTER)))
    store.begin_task(failure_shown, NewTask(AUTO_REQUESTER, "hubspot", "s", "b", time.time(), None))
    store.task_failed(failure_shown, "HubSpot refused", uncertain=False)
    store.update_alert_state(failure_shown, lambda s: s.auto_task_failed("HubSpot refused."))
    store.begin_task(creating, NewTask(AUTO_REQUESTER, "hubspot", "s", "b", time.time(), None))

    found = store.unshown_auto_tasks(time.time())
    assert unshown in found
    assert {shown_already, failure_shown, creating, not_auto}.isdisjoint(found)
    assert unshown not in store.unshown_auto_tasks(time.time() - 60)  # its process may still show it
    _sweep(access, slack)  # and none is left for the next test's sweep (the fake's ts come again)
    assert not {unshown, creating}.intersection(store.unshown_auto_tasks(time.time()))


def test_a_change_recorded_while_the_task_is_shown_is_shown_with_it(
    store, slack, access, fake_slack, monkeypatch
):
    """Another process records a change between this one's update and its record: the task is made
    anew from the newer state and shown with it, and the message ends at the recorded state."""
    details = acme_alert(auto_task=True)
    ts = asyncio.run(post_alert(store, slack, details))
    _settled_unshown(store, details.alert_id)
    mark = FeedbackShown(by="U0CS", reason=FeedbackReason.WRONG_FIT)
    record = store.record_alert_state

    def meanwhile(alert_id: str, state: AlertState) -> bool:
        if alert_id == details.alert_id and state.feedback is None:
            store.update_alert_state(alert_id, lambda s: s.with_feedback(mark))
        return record(alert_id, state)

    monkeypatch.setattr(store, "record_alert_state", meanwhile)
    _sweep(access, slack)

    kept = AlertState.model_validate_json(stored.alert(store, details.alert_id)["state"])
    assert kept.task is not None and kept.feedback == mark and kept.version == 2
    message = shown(fake_slack, ts)
    assert message.state[0] == DONE and message.state[1].startswith(":no_entry_sign: Marked not relevant")
    assert message.block_ids == ["alert_state:2", f"alert_actions:{details.alert_id}:2"]
    assert len(_updates(fake_slack, ts)) == 2


def test_processes_sweeping_at_once_leave_the_newest_state_shown(store, slack, access, fake_slack):
    details = acme_alert(auto_task=True)
    ts = asyncio.run(post_alert(store, slack, details))
    _settled_unshown(store, details.alert_id)

    async def three() -> None:
        async with (
            _auto(access, slack, None) as a,
            _auto(access, slack, None) as b,
            _auto(access, slack, None) as c,
        ):
            await asyncio.gather(a.sweep(), b.sweep(), c.sweep())

    asyncio.run(three())

    kept = AlertState.model_validate_json(stored.alert(store, details.alert_id)["state"])
    message = shown(fake_slack, ts)
    assert message.state == [DONE]
    assert message.block_ids == [
        f"alert_state:{kept.version}",
        f"alert_actions:{details.alert_id}:{kept.version}",
    ]


def test_whether_a_task_was_automatic_follows_who_asked_for_it():
    assert TaskShown(by=AUTO_REQUESTER).auto and not TaskShown(by="U0AE").auto
    assert not AlertState.model_validate_json('{"task":{"by":"U0AE","auto":true}}').task.auto
    # still written, for a process of an earlier release that reads it during a rolling deploy
    assert '"auto":true' in to_json(AlertState(task=TaskShown(by=AUTO_REQUESTER)))
