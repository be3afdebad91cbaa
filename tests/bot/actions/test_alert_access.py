"""The alert a click reaches, held to its channel, and its message rebuilt whole after each change:
AlertAccess on a real store, updating through the real Slack client against the fake Slack."""

from __future__ import annotations

import asyncio

import pytest

from bot.actions.alert_access import UNKNOWN_ALERT, ActionError, AlertAccess
from bot.alerts.model import AlertState, FeedbackShown, TaskShown
from bot.slack.ids import FeedbackReason
from testkit.base import Reply
from tests.support.posted_alerts import CHANNEL, acme_alert, commit_alert, post_alert, shown

TASK = TaskShown(by="U0AE", crm="store")
TASK_LINE = ":white_check_mark: Task created by <@U0AE> · kept in posthog-slack-signals (no CRM configured)"
FEEDBACK = FeedbackShown(by="U0PM", reason=FeedbackReason.WRONG_FIT)
FEEDBACK_LINE = ":no_entry_sign: Marked not relevant by <@U0PM>: wrong fit"
CONTROLS = ["create_crm_task", "snooze", "not_relevant", "open_posthog"]


def test_a_click_from_the_alerts_channel_reaches_the_alert_as_stored(store, slack, access):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))

    # The message ts a click names never replaces the one the store holds.
    record = asyncio.run(access.find(details.alert_id, CHANNEL, "1.000001"))

    assert (record.id, record.account, record.signal) == (
        details.alert_id,
        details.account_key,
        details.signal,
    )
    assert (record.channel, record.posted_channel, record.ts) == (CHANNEL, CHANNEL, ts)
    assert record.details == details and record.state == AlertState()


@pytest.mark.parametrize(
    ("alert_id", "channel", "told"),
    [
        ("0123456789abcdef", CHANNEL, UNKNOWN_ALERT),
        ("", CHANNEL, UNKNOWN_ALERT),
        (None, "", "Slack did not say which channel this came from; act on the alert there."),
        (None, "C0OTHER", "This alert was posted in another channel; act on it there."),
    ],
    ids=["unknown alert", "no alert", "no channel", "another channel"],
)
def test_a_click_that_reaches_no_alert_of_its_channel_is_told_why(
    store, slack, access, alert_id, channel, told
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))

    with pytest.raises(ActionError) as refused:
        asyncio.run(access.find(details.alert_id if alert_id is None else alert_id, channel, ts))

    assert str(refused.value) == told


def test_a_click_before_the_posts_answer_is_stored_updates_the_message_it_came_from(
    store, slack, access, fake_slack
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details, answer_stored=False))

    async def click() -> None:
        record = await access.find(details.alert_id, CHANNEL, ts)
        assert (record.ts, record.posted_channel) == (ts, CHANNEL)
        await access.show(slack, record, lambda state: state.with_task(TASK))

    asyncio.run(click())

    assert shown(fake_slack, ts).state == [TASK_LINE]
    assert store.alert(details.alert_id).state.task == TASK
    assert store.alert(details.alert_id).ts is None  # recording the post is delivery's to do


def test_a_message_ts_opens_no_other_channel(store, slack, access):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details, answer_stored=False))

    with pytest.raises(ActionError, match="posted in another channel"):
        asyncio.run(access.find(details.alert_id, "C0OTHER", ts))


def test_a_change_is_kept_and_the_whole_message_rebuilt_with_new_block_ids(store, slack, access, fake_slack):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    posted = shown(fake_slack, ts)

    record = asyncio.run(access.find(details.alert_id, CHANNEL))
    asyncio.run(access.show(slack, record, lambda state: state.with_task(TASK)))

    assert store.alert(details.alert_id).state == AlertState(task=TASK, version=1)
    updated = shown(fake_slack, ts)
    assert updated.header == posted.header == "Acme Corp: Trial finished onboarding"
    assert updated.rest == posted.rest  # summary, fields, breakdown, routing and event lines as posted
    assert posted.state == [] and updated.state == [TASK_LINE]
    assert list(posted.controls) == CONTROLS
    assert list(updated.controls) == ["snooze", "not_relevant", "open_posthog"]  # no CRM: nothing to open
    assert posted.block_ids == [f"alert_actions:{details.alert_id}:0"]
    assert updated.block_ids == ["alert_state:1", f"alert_actions:{details.alert_id}:1"]
    [update] = fake_slack.calls("chat.update")
    assert update["text"] == fake_slack.posted()[0]["text"]
    assert update["metadata"]["event_payload"]["alert_id"] == details.alert_id


def test_each_change_shows_with_what_was_done_before(store, slack, access, fake_slack):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))

    async def two_changes() -> None:
        await access.show(slack, await access.find(details.alert_id, CHANNEL), lambda s: s.with_task(TASK))
        await access.show(
            slack, await access.find(details.alert_id, CHANNEL), lambda s: s.with_feedback(FEEDBACK)
        )

    asyncio.run(two_changes())

    updated = shown(fake_slack, ts)
    assert updated.state == [TASK_LINE, FEEDBACK_LINE]
    assert list(updated.controls) == ["snooze", "open_posthog"]
    assert updated.block_ids == ["alert_state:2", f"alert_actions:{details.alert_id}:2"]


def test_slack_refusing_the_update_is_told_and_the_change_kept(store, slack, access, fake_slack):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    fake_slack.script("chat.update", Reply(200, {"ok": False, "error": "cant_update_message"}))
    record = asyncio.run(access.find(details.alert_id, CHANNEL))

    with pytest.raises(ActionError) as refused:
        asyncio.run(access.show(slack, record, lambda state: state.with_task(TASK)))

    assert str(refused.value) == "Done, but Slack would not update the message (cant_update_message)."
    assert store.alert(details.alert_id).state == AlertState(task=TASK, version=1)
    assert shown(fake_slack, ts).state == []
    # The next change shows what Slack would not show before.
    asyncio.run(access.show(slack, record, lambda state: state.with_feedback(FEEDBACK)))
    assert shown(fake_slack, ts).state == [TASK_LINE, FEEDBACK_LINE]


def test_an_alert_not_yet_posted_keeps_the_change_and_leaves_slack_alone(store, slack, access, fake_slack):
    details = acme_alert()
    commit_alert(store, details)

    record = asyncio.run(access.find(details.alert_id, CHANNEL))
    asyncio.run(access.show(slack, record, lambda state: state.with_task(TASK)))

    assert record.ts is None
    assert store.alert(details.alert_id).state == AlertState(task=TASK, version=1)
    assert fake_slack.calls("chat.update") == []


def test_changes_made_at_the_same_moment_are_all_kept_and_the_message_ends_showing_them_all(
    store, slack, access, fake_slack
):
    """Three people act on each alert at once; none of their changes is lost, each gets a version,
    and whichever update Slack applies last, the message ends showing the newest state."""

    async def at_once(access: AlertAccess, alert_id: str) -> None:
        record = await access.find(alert_id, CHANNEL)
        await asyncio.gather(
            access.show(slack, record, lambda state: state.with_task(TASK)),
            access.show(slack, record, lambda state: state.with_feedback(FEEDBACK)),
            access.show(slack, record, lambda state: state.unsnoozed_by("U0CS")),
        )

    alerts = [acme_alert() for _ in range(4)]
    posted = {}
    for details in alerts:
        posted[details.alert_id] = asyncio.run(post_alert(store, slack, details))
        asyncio.run(at_once(access, details.alert_id))
        assert shown(fake_slack, posted[details.alert_id]).block_ids[0] == "alert_state:3"

    for details in alerts:
        state = store.alert(details.alert_id).state
        assert (state.task, state.feedback, state.unsnoozed is not None, state.version) == (
            TASK,
            FEEDBACK,
            True,
            3,
        )
