"""Create CRM task on a real store: in the bot's own store without a CRM, in HubSpot through the real
client against the fake HubSpot otherwise, exactly one task per alert, and the message updated
through the real Slack client against the fake Slack."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from bot.actions import task_content as crm
from bot.actions.alert_access import ActionError, AlertAccess
from bot.actions.crm_task import CrmTasks
from bot.alerts.model import AlertDetails
from bot.clients.hubspot import HubSpot
from bot.decide.routing import RouteDecision
from bot.slack.blocks.digest import digest_message
from bot.store import Store
from testkit.base import Reply
from testkit.hubspot import (
    PORTAL_ID,
    TOKEN,
    FakeHubSpot,
    SlowHubSpot,
    rate_limited,
    server_error,
    unauthorized,
    validation_error,
)
from tests.support import stored
from tests.support.factories import example_config
from tests.support.posted_alerts import CHANNEL, WORKER, acme_alert, commit_alert, post_alert, shown

TASKS = "/crm/v3/objects/tasks"
SEARCH = "/crm/v3/objects/tasks/search"
CONFIG = example_config()  # crm.owners: U0OWNER1 -> HubSpot owner 111; tasks due in 2 business days


@pytest.fixture
def fake_hubspot():
    with SlowHubSpot() as server:
        yield server


@asynccontextmanager
async def _tasks(
    access: AlertAccess, hubspot: FakeHubSpot | None, timeout_s: float = 5.0, recovery_wait_s: float = 0.1
) -> AsyncIterator[CrmTasks]:
    """The service as the app builds it: HubSpot's real client when there is a HubSpot."""
    async with httpx.AsyncClient() as http:
        client = None if hubspot is None else HubSpot(hubspot.api_url, TOKEN, http, timeout_s=timeout_s)
        yield CrmTasks(access, access.store, CONFIG, client, recovery_wait_s=recovery_wait_s)


def _click(
    access, slack, hubspot, alert_id: str, user: str = "U0AE", channel: str = CHANNEL, **options: float
) -> str | None:
    """`user` clicks Create CRM task on the alert, in its channel; returns the note they are told."""

    async def click() -> str | None:
        async with _tasks(access, hubspot, **options) as tasks:
            return await tasks.create(slack, alert_id, user, channel)

    return asyncio.run(click())


def _refused(access, slack, hubspot, alert_id: str, **options: float) -> str:
    with pytest.raises(ActionError) as refused:
        _click(access, slack, hubspot, alert_id, **options)
    return str(refused.value)


def _task_url(task_id: str) -> str:
    return f"https://app.hubspot.com/tasks/{PORTAL_ID}/view/all/task/{task_id}"


def _due_between(before: float, after: float) -> tuple[datetime, datetime]:
    return crm.due_date(before, CONFIG.crm), crm.due_date(after, CONFIG.crm)


# -- without a CRM: the bot's own store ----------------------------------------------------------------
def test_without_a_crm_the_task_is_kept_in_the_store_and_the_message_says_so(
    store, slack, access, fake_slack
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))

    asked = time.time()
    assert _click(access, slack, None, details.alert_id) is None  # the message says it all
    earliest, latest = _due_between(asked, time.time())

    task = stored.task(store, details.alert_id)
    assert (task["status"], task["crm"], task["requested_by"], task["owner"]) == (
        "created",
        "store",
        "U0AE",
        "111",
    )
    assert task["subject"] == "Follow up: Acme Corp — Trial finished onboarding"
    assert task["body"].startswith("<p>Trial user from Acme Corp finished onboarding.")
    assert f"pss-alert-{details.alert_id}" in task["body"]
    assert earliest.timestamp() <= task["due_at"] <= latest.timestamp()
    message = shown(fake_slack, ts)
    assert message.state == [
        ":white_check_mark: Task created by <@U0AE> · kept in posthog-slack-signals (no CRM configured)"
    ]
    assert "create_crm_task" not in message.controls and "open_crm_task" not in message.controls


def test_a_second_click_is_told_who_created_the_task_and_the_message_shown_again(
    store, slack, access, fake_slack
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    _click(access, slack, None, details.alert_id)

    note = _click(access, slack, None, details.alert_id, user="U0CS")

    assert note == "A task already exists (created by <@U0AE>)."
    assert stored.task(store, details.alert_id)["requested_by"] == "U0AE"
    message = shown(fake_slack, ts)
    assert message.state[0].startswith(":white_check_mark: Task created by <@U0AE>")
    assert message.block_ids == ["alert_state:2", f"alert_actions:{details.alert_id}:2"]


# -- HubSpot -------------------------------------------------------------------------------------------
def test_the_task_is_created_in_hubspot_for_the_company_and_the_routed_owner(
    store, slack, access, fake_slack, fake_hubspot
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))

    asked = time.time()
    assert _click(access, slack, fake_hubspot, details.alert_id) is None
    earliest, latest = _due_between(asked, time.time())

    [task] = fake_hubspot.tasks()
    props = task.properties
    assert props["hs_task_subject"] == "Follow up: Acme Corp — Trial finished onboarding"
    assert props["hs_task_body"] == crm.body(details)
    assert f"pss-alert-{details.alert_id}" in props["hs_task_body"]
    assert (props["hs_task_priority"], props["hs_task_status"], props["hs_task_type"]) == (
        "HIGH",
        "NOT_STARTED",
        "TODO",
    )
    assert props["hubspot_owner_id"] == "111"  # U0OWNER1, mapped in the signals file
    assert earliest <= datetime.fromisoformat(props["hs_timestamp"]) <= latest
    assert task.associations == [{"to": "101", "category": "HUBSPOT_DEFINED", "typeId": 192}]
    kept = stored.task(store, details.alert_id)
    assert (kept["status"], kept["crm"], kept["crm_id"]) == ("created", "hubspot", task.id)
    assert kept["url"] == _task_url(task.id)
    message = shown(fake_slack, ts)
    assert message.state == [
        f":white_check_mark: Task created by <@U0AE> · <{_task_url(task.id)}|Open in HubSpot>"
    ]
    assert list(message.controls) == ["open_crm_task", "snooze", "not_relevant", "open_posthog"]
    assert message.controls["open_crm_task"]["url"] == _task_url(task.id)


def test_a_task_the_database_could_not_record_at_once_is_recorded_and_shown_when_it_answers(
    store, slack, access, fake_slack, fake_hubspot
):
    """HubSpot made the task, then the database dropped the connection as it was recorded: it is
    recorded once the database answers (not left `creating` for a minute), and shown to the clicker."""
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    records, failures = store.task_created, [OperationalError("UPDATE", {}, Exception("closed"))]

    def unreachable_once(*args):
        if failures:
            raise failures.pop()
        return records(*args)

    store.task_created = unreachable_once
    assert _click(access, slack, fake_hubspot, details.alert_id) is None
    [task] = fake_hubspot.tasks()
    assert stored.task(store, details.alert_id)["status"] == "created"
    assert shown(fake_slack, ts).state == [
        f":white_check_mark: Task created by <@U0AE> · <{_task_url(task.id)}|Open in HubSpot>"
    ]


@pytest.mark.parametrize(
    ("domain", "owner", "company", "hubspot_owner"),
    [
        ("umbrella.io", "U0OWNER9", "103", "222"),  # a Slack owner with no HubSpot owner: the company's
        ("umbrella.io", None, "103", "222"),
        ("unknown.example", None, None, None),  # a company HubSpot does not know: no association, no owner
    ],
)
def test_without_a_mapped_owner_the_task_goes_to_the_companys_owner(
    store, slack, access, fake_hubspot, domain, owner, company, hubspot_owner
):
    details = acme_alert(
        company={"name": "Umbrella Corp", "domain": domain},
        route=RouteDecision(CHANNEL, owner, "test route", 0),
    )
    asyncio.run(post_alert(store, slack, details))

    _click(access, slack, fake_hubspot, details.alert_id)

    [task] = fake_hubspot.tasks()
    assert task.properties.get("hubspot_owner_id") == hubspot_owner
    assert task.associations == (
        [{"to": company, "category": "HUBSPOT_DEFINED", "typeId": 192}] if company else []
    )
    assert stored.task(store, details.alert_id)["owner"] == (CONFIG.crm.owners.get(owner) if owner else None)


def test_a_click_while_hubspot_is_creating_the_task_is_told_who_is(
    store, slack, access, fake_slack, fake_hubspot
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    fake_hubspot.answer_after_s = 0.3

    async def two_people() -> tuple[str | None, str | None, str | None]:
        async with _tasks(access, fake_hubspot) as tasks:
            first = asyncio.create_task(tasks.create(slack, details.alert_id, "U0AE", CHANNEL))
            await asyncio.to_thread(fake_hubspot.wait_for, lambda fake: fake.calls(TASKS))
            busy = await tasks.create(slack, details.alert_id, "U0CS", CHANNEL)
            return await first, busy, await tasks.create(slack, details.alert_id, "U0PM", CHANNEL)

    created, busy, done = asyncio.run(two_people())

    assert created is None
    assert busy == "<@U0AE> is creating the task right now."
    assert done == "A task already exists (created by <@U0AE>)."
    assert len(fake_hubspot.calls(TASKS)) == 1 and len(fake_hubspot.tasks()) == 1
    assert shown(fake_slack, ts).state[0].startswith(":white_check_mark: Task created by <@U0AE>")


def test_a_timed_out_create_is_found_by_its_marker_not_made_again(
    store, slack, access, fake_slack, fake_hubspot
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    fake_hubspot.answer_after_s = 1.0  # HubSpot creates the task, but answers after the client gave up

    _refused(access, slack, fake_hubspot, details.alert_id, timeout_s=0.2)

    failed = stored.task(store, details.alert_id)
    assert (failed["status"], failed["uncertain"]) == ("failed", 1)
    assert fake_slack.calls("chat.update") == []

    fake_hubspot.answer_after_s = 0.0
    assert _click(access, slack, fake_hubspot, details.alert_id, user="U0CS") is None

    [task] = fake_hubspot.tasks()
    assert len(fake_hubspot.calls(TASKS)) == 1  # found by search, never created twice
    assert len(fake_hubspot.calls(SEARCH)) == 1
    kept = stored.task(store, details.alert_id)
    assert (kept["status"], kept["crm_id"], kept["url"]) == ("created", task.id, _task_url(task.id))
    assert shown(fake_slack, ts).controls["open_crm_task"]["url"] == _task_url(task.id)


def test_a_task_hubspots_search_does_not_see_yet_is_looked_for_again_after_a_pause(
    store, slack, access, fake_hubspot
):
    details = acme_alert()
    asyncio.run(post_alert(store, slack, details))
    fake_hubspot.answer_after_s = 1.0
    _refused(access, slack, fake_hubspot, details.alert_id, timeout_s=0.2)
    fake_hubspot.answer_after_s = 0.0
    fake_hubspot.index_delay_s = 1.0  # the search index lags: the task is found on the second look

    assert _click(access, slack, fake_hubspot, details.alert_id, recovery_wait_s=1.0) is None

    assert len(fake_hubspot.calls(SEARCH)) == 2
    assert len(fake_hubspot.calls(TASKS)) == 1
    assert stored.task(store, details.alert_id)["crm_id"] == fake_hubspot.tasks()[0].id


def test_an_unanswered_create_that_made_nothing_is_made_once_after_looking(
    store, slack, access, fake_hubspot
):
    details = acme_alert()
    asyncio.run(post_alert(store, slack, details))
    fake_hubspot.script(Reply(503, {"status": "error"}, delay_s=1.0), path=TASKS)
    _refused(access, slack, fake_hubspot, details.alert_id, timeout_s=0.2)

    assert _click(access, slack, fake_hubspot, details.alert_id) is None

    assert len(fake_hubspot.calls(SEARCH)) == 2  # looked, and looked again after the pause
    [task] = fake_hubspot.tasks()
    assert stored.task(store, details.alert_id)["crm_id"] == task.id


@pytest.mark.parametrize(
    ("reply", "told"),
    [
        (rate_limited(), "HubSpot is rate limiting; try again in 10 s."),
        (server_error(), "HubSpot had a problem on its side (500); try again in a minute."),
        (unauthorized(), "HubSpot rejected the access token (401): check HUBSPOT_ACCESS_TOKEN."),
        (
            validation_error("Property <!channel> is not <https://evil.example|valid>"),
            "HubSpot rejected the request (400): Property &lt;!channel&gt; is not "
            "&lt;https://evil.example|valid&gt;.",
        ),
        (validation_error("Invalid input JSON."), "HubSpot rejected the request (400): Invalid input JSON."),
        (Reply(503, {"status": "error"}, delay_s=1.0), "HubSpot did not answer within 0.2 s."),
    ],
    ids=["rate limited", "server error", "token refused", "markup in the answer", "a sentence", "no answer"],
)
def test_a_hubspot_failure_is_explained_and_the_button_works_again(
    store, slack, access, fake_slack, fake_hubspot, reply, told
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    fake_hubspot.script(reply, path=TASKS)

    note = _refused(access, slack, fake_hubspot, details.alert_id, timeout_s=0.2)

    assert note == f"{told} The button still works: try again."
    assert stored.task(store, details.alert_id)["status"] == "failed"
    assert fake_hubspot.tasks() == [] and fake_slack.calls("chat.update") == []
    assert _click(access, slack, fake_hubspot, details.alert_id, user="U0CS") is None
    [task] = fake_hubspot.tasks()
    assert shown(fake_slack, ts).controls["open_crm_task"]["url"] == _task_url(task.id)


# -- in a digest: the digest shows the task ------------------------------------------------------------
async def _post_digest(
    store: Store, slack, *names: str, answer_stored: str | None = None
) -> tuple[dict[str, AlertDetails], str, str]:
    """One `deliver: digest` alert per company, in a channel of their own, taken into its digest and
    posted as delivery does; ({company name: its alert}, channel, digest ts). `answer_stored`: the
    ts the store records instead of Slack's (a digest no longer in Slack)."""
    channel = f"C0D{uuid.uuid4().hex[:8].upper()}"
    alerts = {
        name: acme_alert(
            company={"name": name, "domain": f"{name.split()[0].lower()}.com"},
            route=RouteDecision(channel, None, "test route", 0),
            deliver="digest",
        )
        for name in names
    }
    for details in alerts.values():
        commit_alert(store, details)
    digest_id = store.take_digest(channel, "2026-12-07", time.time(), digest_message)
    assert digest_id is not None
    claimed = store.claim_alert(digest_id, WORKER, 60)
    answer = await slack.chat_postMessage(channel=channel, **claimed.message)
    assert store.mark_posted(digest_id, WORKER, answer["channel"], answer_stored or answer["ts"])
    return alerts, channel, str(answer["ts"])


def _digest_sections(fake_slack, channel: str, ts: str) -> dict[str, dict]:
    """The digest's account sections as it reads now, by company name."""
    message = fake_slack.current(channel, ts)
    assert message is not None
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    return {s["text"]["text"].split("*")[1]: s for s in sections}


def test_a_click_in_a_digest_updates_the_digest_and_a_second_click_is_told_the_task_exists(
    store, slack, access, fake_slack
):
    alerts, channel, ts = asyncio.run(_post_digest(store, slack, "Globex Corp", "Initech"))
    before = _digest_sections(fake_slack, channel, ts)
    initech = alerts["Initech"].alert_id

    assert _click(access, slack, None, initech, channel=channel) is None  # the digest says it all

    assert stored.task(store, initech)["status"] == "created"
    after = _digest_sections(fake_slack, channel, ts)
    lines = after["Initech"]["text"]["text"].split("\n")
    assert lines[0] == before["Initech"]["text"]["text"].split("\n")[0]
    assert lines[1] == (
        ":white_check_mark: Task created by <@U0AE> · kept in posthog-slack-signals (no CRM configured)"
    )
    assert "accessory" not in after["Initech"]  # no link to offer, and no button to click again
    assert after["Globex Corp"] == before["Globex Corp"]  # the other account keeps its button
    assert after["Globex Corp"]["accessory"]["action_id"] == "create_crm_task"
    assert len(fake_slack.calls("chat.update")) == 1

    note = _click(access, slack, None, initech, user="U0CS", channel=channel)

    assert note == "A task already exists (created by <@U0AE>)."
    assert stored.task(store, initech)["requested_by"] == "U0AE"
    assert _digest_sections(fake_slack, channel, ts) == after


def test_a_hubspot_task_from_a_digest_shows_the_alerts_open_task_link(
    store, slack, access, fake_slack, fake_hubspot
):
    alerts, channel, ts = asyncio.run(_post_digest(store, slack, "Acme Corp", "Initech"))

    assert _click(access, slack, fake_hubspot, alerts["Acme Corp"].alert_id, channel=channel) is None

    [task] = fake_hubspot.tasks()
    sections = _digest_sections(fake_slack, channel, ts)
    acme = sections["Acme Corp"]
    assert acme["text"]["text"].split("\n")[1] == (
        f":white_check_mark: Task created by <@U0AE> · <{_task_url(task.id)}|Open in HubSpot>"
    )
    assert (acme["accessory"]["action_id"], acme["accessory"]["url"]) == ("open_crm_task", _task_url(task.id))
    assert sections["Initech"]["accessory"]["action_id"] == "create_crm_task"


def test_when_slack_will_not_update_the_digest_the_clicker_is_told_instead(store, slack, access, fake_slack):
    alerts, channel, ts = asyncio.run(_post_digest(store, slack, "Initech", answer_stored="1.000009"))
    initech = alerts["Initech"].alert_id

    note = _click(access, slack, None, initech, channel=channel)

    assert note == "Task created for Initech"
    assert stored.task(store, initech)["status"] == "created"
    assert len(fake_slack.calls("chat.update")) == 1  # tried, and refused (message_not_found)
    assert _digest_sections(fake_slack, channel, ts)["Initech"]["accessory"]["action_id"] == "create_crm_task"


class _HeldUpdates:
    """The Slack client of a process whose first chat.update reaches Slack only once `go` is set:
    it read the digest, then another process recorded and showed a newer state before it."""

    def __init__(self, client, go: asyncio.Event):
        self.client, self.go, self.held = client, go, False

    async def chat_update(self, **kwargs):
        if not self.held:
            self.held = True
            await self.go.wait()
        return await self.client.chat_update(**kwargs)


def test_clicks_on_two_accounts_at_once_both_show_in_the_digest(store, slack, access, fake_slack):
    """chat.update shows a whole message: the process whose update reaches Slack last, though made
    from an older read, reads again and shows both tasks."""
    alerts, channel, ts = asyncio.run(_post_digest(store, slack, "Globex Corp", "Initech"))

    async def both() -> tuple[str | None, str | None]:
        go = asyncio.Event()
        async with _tasks(access, None) as first, _tasks(access, None) as second:
            held = _HeldUpdates(slack, go)
            late = asyncio.create_task(first.create(held, alerts["Globex Corp"].alert_id, "U0AE", channel))
            while not held.held:
                await asyncio.sleep(0.01)
            early = await second.create(slack, alerts["Initech"].alert_id, "U0CS", channel)
            go.set()
            return await late, early

    assert asyncio.run(both()) == (None, None)

    sections = _digest_sections(fake_slack, channel, ts)
    assert (
        sections["Globex Corp"]["text"]["text"]
        .split("\n")[1]
        .startswith(":white_check_mark: Task created by <@U0AE>")
    )
    assert (
        sections["Initech"]["text"]["text"]
        .split("\n")[1]
        .startswith(":white_check_mark: Task created by <@U0CS>")
    )
    assert len(fake_slack.calls("chat.update")) == 3  # the late one showed its old read, then both
