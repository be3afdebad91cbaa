"""Not relevant on a real store: the reason kept with the alert, shown on its message through the real
Slack client against the fake Slack, and captured as `signal_feedback` by the real PostHog client
against the fake PostHog when the signals file asks for it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot import LIB_NAME
from bot.actions.alert_access import ActionError
from bot.actions.not_relevant import NotRelevant
from bot.alerts.model import AlertDetails
from bot.clients.posthog_capture import PostHogCapture
from bot.config.signals_file import SignalsConfig
from bot.decide.routing import RouteDecision
from bot.slack.ids import FeedbackReason
from testkit.base import Reply
from testkit.posthog import PROJECT_KEY, FakePostHog
from tests.support import stored
from tests.support.factories import example_config
from tests.support.posted_alerts import CHANNEL, acme_alert, commit_alert, post_alert, shown

CONFIG = example_config()  # feedback_events: true


def _record(
    access,
    slack,
    posthog: FakePostHog | None,
    details: AlertDetails,
    reason: FeedbackReason,
    text: str | None = None,
    user: str = "U0AE",
    config: SignalsConfig = CONFIG,
    key: str = PROJECT_KEY,
) -> None:
    """`user` submits the Not relevant form of the alert, opened in its channel."""

    async def submit() -> None:
        capture = None if posthog is None else PostHogCapture(key, posthog.url, timeout_s=2.0)
        try:
            await NotRelevant(access, access.store, config, capture).record(
                slack, details.alert_id, CHANNEL, user, reason, text
            )
        finally:
            if capture is not None:
                await capture.aclose()

    asyncio.run(submit())


def test_the_form_is_opened_only_for_an_alert_of_the_channel(store, slack, access):
    details = acme_alert()
    asyncio.run(post_alert(store, slack, details))
    service = NotRelevant(access, store, CONFIG, None)

    assert asyncio.run(service.alert(details.alert_id, CHANNEL)).details == details
    with pytest.raises(ActionError) as refused:
        asyncio.run(service.alert(details.alert_id, "C0OTHER"))
    assert str(refused.value) == "This alert was posted in another channel; act on it there."


def test_the_reason_is_kept_shown_and_captured_in_posthog(store, slack, access, fake_slack, fake_posthog):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))

    _record(
        access, slack, fake_posthog, details, FeedbackReason.ALREADY_WORKING, "  <!channel> we own this \n"
    )

    kept = stored.feedback_on(store, details.alert_id)
    assert (kept["reason"], kept["text"], kept["user_id"]) == (
        "already_working",
        "<!channel> we own this",
        "U0AE",
    )
    message = shown(fake_slack, ts)
    assert message.state == [
        ":no_entry_sign: Marked not relevant by <@U0AE>: already working it (&lt;!channel&gt; we own this)"
    ]
    assert list(message.controls) == ["create_crm_task", "snooze", "open_posthog"]
    assert message.block_ids == ["alert_state:1", f"alert_actions:{details.alert_id}:1"]
    [event] = fake_posthog.captured("signal_feedback")
    assert event["distinct_id"] == "user_42"
    properties = event["properties"]
    expected = {
        "alert_id": details.alert_id,
        "signal": "Trial finished onboarding",
        "account": details.account_key,
        "reason": "already_working",
        "comment": "<!channel> we own this",
        "icp_score": 100,
        "slack_user": "U0AE",
        "source_event": "onboarding_completed",
        "source_event_uuid": details.event_uuid,
    }
    assert {key: properties.get(key) for key in expected} == expected
    assert properties["$groups"] == {"company": "acme.com"}
    assert properties["$lib"] == LIB_NAME


def test_feedback_on_an_alert_with_no_person_or_company_is_captured_for_the_slack_user(
    store, slack, access, fake_posthog
):
    details = acme_alert(
        distinct_id=None,
        company={},
        route=RouteDecision(CHANNEL, None, "test route", 0),
    )
    asyncio.run(post_alert(store, slack, details))

    _record(access, slack, fake_posthog, details, FeedbackReason.BAD_DATA, "   ")

    assert stored.feedback_on(store, details.alert_id)["text"] is None  # nothing but spaces: no comment
    [event] = fake_posthog.captured("signal_feedback")
    assert event["distinct_id"] == "slack:U0AE"
    assert event["properties"]["comment"] is None and "$groups" not in event["properties"]


def test_a_corrected_reason_replaces_the_first_everywhere(store, slack, access, fake_slack, fake_posthog):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))

    _record(access, slack, fake_posthog, details, FeedbackReason.WRONG_FIT)
    _record(
        access, slack, fake_posthog, details, FeedbackReason.OTHER, "duplicate of yesterday's", user="U0CS"
    )

    kept = stored.feedback_on(store, details.alert_id)
    assert (kept["reason"], kept["text"], kept["user_id"]) == ("other", "duplicate of yesterday's", "U0CS")
    message = shown(fake_slack, ts)
    assert message.state == [
        ":no_entry_sign: Marked not relevant by <@U0CS>: other (duplicate of yesterday's)"
    ]
    assert [e["properties"]["reason"] for e in fake_posthog.captured("signal_feedback")] == [
        "wrong_fit",
        "other",
    ]


def test_a_long_comment_is_kept_to_2000_characters(store, slack, access, fake_posthog):
    details = acme_alert()
    asyncio.run(post_alert(store, slack, details))

    _record(access, slack, fake_posthog, details, FeedbackReason.OTHER, "x" * 2500)

    assert stored.feedback_on(store, details.alert_id)["text"] == "x" * 2000
    assert fake_posthog.captured("signal_feedback")[0]["properties"]["comment"] == "x" * 2000


@pytest.mark.parametrize(
    ("feedback_events", "with_posthog"),
    [(False, True), (True, False)],
    ids=["feedback_events false", "no PostHog project key"],
)
def test_without_feedback_events_nothing_is_captured_and_the_reason_is_kept(
    store, slack, access, fake_slack, fake_posthog, feedback_events, with_posthog
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    config = CONFIG.model_copy(update={"feedback_events": feedback_events})

    _record(
        access,
        slack,
        fake_posthog if with_posthog else None,
        details,
        FeedbackReason.WRONG_FIT,
        config=config,
    )

    assert stored.feedback_on(store, details.alert_id)["reason"] == "wrong_fit"
    assert shown(fake_slack, ts).state == [":no_entry_sign: Marked not relevant by <@U0AE>: wrong fit"]
    assert fake_posthog.requests == []


def test_a_capture_posthog_refuses_is_logged_and_the_reason_kept(
    store, slack, access, fake_slack, fake_posthog, caplog
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    caplog.set_level(logging.WARNING, logger="bot.actions.not_relevant")

    _record(access, slack, fake_posthog, details, FeedbackReason.WRONG_FIT, key="phc_another_project")

    assert fake_posthog.captured("signal_feedback")  # sent, and refused: the key is another project's
    assert stored.feedback_on(store, details.alert_id)["reason"] == "wrong_fit"
    assert shown(fake_slack, ts).state == [":no_entry_sign: Marked not relevant by <@U0AE>: wrong fit"]
    logged = [r for r in caplog.records if r.name == "bot.actions.not_relevant"]
    assert [(r.levelname, r.getMessage(), r.alert_id) for r in logged] == [
        (
            "WARNING",
            "signal_feedback not captured: PostHog rejected POSTHOG_PROJECT_API_KEY "
            "(the project key, phc_…): check it belongs to this project.",
            details.alert_id,
        )
    ]


def test_feedback_on_an_alert_not_yet_posted_is_kept_and_captured(
    store, slack, access, fake_slack, fake_posthog
):
    details = acme_alert()
    commit_alert(store, details)

    _record(access, slack, fake_posthog, details, FeedbackReason.WRONG_FIT)

    assert store.alert(details.alert_id).state.feedback.reason is FeedbackReason.WRONG_FIT
    assert fake_slack.calls("chat.update") == []
    assert len(fake_posthog.captured("signal_feedback")) == 1


def test_slack_refusing_the_update_is_told_and_the_reason_still_kept_and_captured(
    store, slack, access, fake_slack, fake_posthog
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    fake_slack.script("chat.update", Reply(200, {"ok": False, "error": "message_not_found"}))

    with pytest.raises(ActionError) as refused:
        _record(access, slack, fake_posthog, details, FeedbackReason.WRONG_FIT)

    assert str(refused.value) == "Done, but Slack would not update the message (message_not_found)."
    assert stored.feedback_on(store, details.alert_id)["reason"] == "wrong_fit"
    assert shown(fake_slack, ts).state == []
    [event] = fake_posthog.captured("signal_feedback")
    assert event["properties"]["reason"] == "wrong_fit"
