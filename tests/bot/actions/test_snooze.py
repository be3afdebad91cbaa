"""Snooze and Unsnooze on a real store, the alert's message updated through the real Slack client
against the fake Slack: Unsnooze held to the alert's channel, or (from the Home tab) to its owner;
and the snoozes `/posthog snoozes` lists for a channel."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from bot.actions.alert_access import ActionError
from bot.actions.snooze import NOT_OWNER, OVER, AsOwner, InChannel, Snoozes
from bot.alerts.model import AlertDetails
from bot.decide.routing import RouteDecision
from bot.slack.blocks.alert import slack_day
from bot.slack.ids import SnoozeChoice
from tests.support.posted_alerts import CHANNEL, acme_alert, commit_alert, post_alert, shown

OWNER = "U0OWNER1"  # examples/signals.yml routes acme.com to this owner


@pytest.fixture
def snoozes(access, store) -> Snoozes:
    return Snoozes(access, store)


def _snooze(
    snoozes: Snoozes,
    slack,
    details: AlertDetails,
    choice: SnoozeChoice = SnoozeChoice.WEEK,
    user: str = "U0AE",
    message_ts: str | None = None,
) -> str:
    """`user` snoozes the alert's account from the alert's channel; returns the snooze's id."""
    asyncio.run(snoozes.snooze(slack, details.alert_id, choice, user, CHANNEL, message_ts))
    return snoozes.store.alert(details.alert_id).state.snooze.id


def _running(store, snooze_id: str) -> bool:
    return store.get_snooze(snooze_id).until > time.time()


@pytest.mark.parametrize("choice", list(SnoozeChoice))
def test_a_snooze_holds_the_account_for_its_length_and_the_alert_offers_unsnooze(
    store, slack, snoozes, fake_slack, choice
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))

    asked = time.time()
    snooze_id = _snooze(snoozes, slack, details, choice)

    snooze = store.get_snooze(snooze_id)
    assert (snooze.account, snooze.alert_id, snooze.snoozed_by) == (
        details.account_key,
        details.alert_id,
        "U0AE",
    )
    assert asked + choice.seconds <= snooze.until <= time.time() + choice.seconds
    assert store.account_state(details.account_key, time.time()).snoozed_until == snooze.until
    message = shown(fake_slack, ts)
    assert message.state == [f":zzz: Snoozed by <@U0AE> until {slack_day(snooze.until)}"]
    assert list(message.controls) == ["create_crm_task", "unsnooze", "not_relevant", "open_posthog"]
    assert message.controls["unsnooze"]["value"] == snooze_id
    assert message.block_ids == ["alert_state:1", f"alert_actions:{details.alert_id}:1"]


def test_a_new_snooze_replaces_the_running_one_and_the_message_shows_the_latest(
    store, slack, snoozes, fake_slack
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    first = _snooze(snoozes, slack, details, SnoozeChoice.DAY)

    # Someone whose Slack still showed the select chooses 30 days.
    latest = _snooze(snoozes, slack, details, SnoozeChoice.MONTH, user="U0CS")

    until = store.get_snooze(latest).until
    assert not _running(store, first) and _running(store, latest)
    assert store.account_state(details.account_key, time.time()).snoozed_until == until
    message = shown(fake_slack, ts)
    assert message.state == [f":zzz: Snoozed by <@U0CS> until {slack_day(until)}"]
    assert message.controls["unsnooze"]["value"] == latest
    assert message.block_ids == ["alert_state:2", f"alert_actions:{details.alert_id}:2"]
    assert [s.id for s in asyncio.run(snoozes.running(CHANNEL)) if s.account == details.account_key] == [
        latest
    ]


def test_a_snooze_chosen_before_the_posts_answer_is_stored_shows_on_the_message(
    store, slack, snoozes, fake_slack
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details, answer_stored=False))

    snooze_id = _snooze(snoozes, slack, details, message_ts=ts)

    assert shown(fake_slack, ts).controls["unsnooze"]["value"] == snooze_id


def test_a_snooze_on_an_alert_not_yet_posted_holds_the_account_and_leaves_slack_alone(
    store, slack, snoozes, fake_slack
):
    details = acme_alert()
    commit_alert(store, details)

    snooze_id = _snooze(snoozes, slack, details)

    assert _running(store, snooze_id)
    assert store.alert(details.alert_id).state.snooze.id == snooze_id
    assert fake_slack.calls("chat.update") == []


def test_a_snooze_from_another_channel_changes_nothing(store, slack, snoozes, fake_slack):
    details = acme_alert()
    asyncio.run(post_alert(store, slack, details))

    with pytest.raises(ActionError, match="posted in another channel"):
        asyncio.run(snoozes.snooze(slack, details.alert_id, SnoozeChoice.DAY, "U0AE", "C0OTHER"))

    assert store.account_state(details.account_key, time.time()).snoozed_until is None
    assert fake_slack.calls("chat.update") == []


def test_unsnooze_brings_the_account_back_and_the_alert_offers_snooze_again(
    store, slack, snoozes, fake_slack
):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    snooze_id = _snooze(snoozes, slack, details)

    note = asyncio.run(snoozes.unsnooze(slack, snooze_id, "U0CS", InChannel(CHANNEL)))

    assert note == f"Alerts for {details.account_key} are back on."
    assert not _running(store, snooze_id)
    assert store.account_state(details.account_key, time.time()).snoozed_until is None
    message = shown(fake_slack, ts)
    assert message.state == [":alarm_clock: Unsnoozed by <@U0CS>"]
    assert list(message.controls) == ["create_crm_task", "snooze", "not_relevant", "open_posthog"]
    assert message.block_ids == ["alert_state:2", f"alert_actions:{details.alert_id}:2"]


def test_unsnooze_of_a_snooze_already_over_is_told_and_changes_nothing(store, slack, snoozes, fake_slack):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    ended = _snooze(snoozes, slack, details)
    asyncio.run(snoozes.unsnooze(slack, ended, "U0AE", InChannel(CHANNEL)))
    replaced = _snooze(snoozes, slack, details, SnoozeChoice.DAY)
    latest = _snooze(snoozes, slack, details, SnoozeChoice.MONTH)
    before = shown(fake_slack, ts)

    for snooze_id in (ended, replaced, "0123456789abcdef", ""):
        with pytest.raises(ActionError) as refused:
            asyncio.run(snoozes.unsnooze(slack, snooze_id, "U0CS", InChannel(CHANNEL)))
        assert str(refused.value) == OVER == "That snooze is already over."

    assert _running(store, latest)
    assert shown(fake_slack, ts) == before


def test_unsnooze_from_another_channel_leaves_the_snooze_running(store, slack, snoozes, fake_slack):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    snooze_id = _snooze(snoozes, slack, details)
    before = shown(fake_slack, ts)

    with pytest.raises(ActionError) as refused:
        asyncio.run(snoozes.unsnooze(slack, snooze_id, "U0CS", InChannel("C0OTHER")))

    assert str(refused.value) == "This alert was posted in another channel; act on it there."
    assert _running(store, snooze_id)
    assert shown(fake_slack, ts) == before


def test_a_snooze_made_on_no_alert_is_not_ended_from_slack_and_listed_nowhere(store, slack, snoozes):
    account = f"{uuid.uuid4().hex[:8]}.example"
    until = time.time() + 86_400
    snooze_id = store.snooze(account, until, "U0ADMIN")

    with pytest.raises(ActionError) as refused:
        asyncio.run(snoozes.unsnooze(slack, snooze_id, "U0AE", InChannel(CHANNEL)))

    assert str(refused.value) == (
        f"This snooze was not made on an alert, so no channel can end it; it runs out {slack_day(until)}."
    )
    with pytest.raises(ActionError) as refused:  # made on no alert: no owner either
        asyncio.run(snoozes.unsnooze(slack, snooze_id, "U0ADMIN", AsOwner()))
    assert str(refused.value) == NOT_OWNER
    assert _running(store, snooze_id)
    for channel in (CHANNEL, "C0SIGNALS", ""):
        assert account not in [s.account for s in asyncio.run(snoozes.running(channel))]


def test_running_lists_the_snoozes_made_on_this_channels_alerts_only(store, slack, snoozes):
    here, elsewhere = (f"C0{uuid.uuid4().hex[:10].upper()}" for _ in range(2))

    def routed(channel: str) -> AlertDetails:
        return acme_alert(route=RouteDecision(channel, None, "test route", 0))

    posted, waiting, other, over = routed(here), routed(here), routed(elsewhere), routed(here)
    for details in (posted, other, over):
        asyncio.run(post_alert(store, slack, details))
    commit_alert(store, waiting)  # not posted yet: it belongs to the channel it is routed to

    def snooze(details: AlertDetails, choice: SnoozeChoice) -> str:
        channel = details.route.channel
        asyncio.run(snoozes.snooze(slack, details.alert_id, choice, "U0AE", channel))
        return store.alert(details.alert_id).state.snooze.id

    month, day, other_id, ended = (
        snooze(posted, SnoozeChoice.MONTH),
        snooze(waiting, SnoozeChoice.DAY),
        snooze(other, SnoozeChoice.DAY),
        snooze(over, SnoozeChoice.DAY),
    )
    store.unsnooze(ended)

    assert [s.id for s in asyncio.run(snoozes.running(here))] == [day, month]  # soonest to end first
    assert [s.id for s in asyncio.run(snoozes.running(elsewhere))] == [other_id]


def test_the_alerts_owner_ends_a_snooze_from_the_home_tab_and_the_alert_shows_it(
    store, slack, snoozes, fake_slack
):
    details = acme_alert()
    assert details.owner == OWNER
    ts = asyncio.run(post_alert(store, slack, details))
    snooze_id = _snooze(snoozes, slack, details)

    note = asyncio.run(snoozes.unsnooze(slack, snooze_id, OWNER, AsOwner()))

    assert note == f"Alerts for {details.account_key} are back on."
    assert not _running(store, snooze_id)
    message = shown(fake_slack, ts)
    assert message.state == [f":alarm_clock: Unsnoozed by <@{OWNER}>"]
    assert list(message.controls) == ["create_crm_task", "snooze", "not_relevant", "open_posthog"]


@pytest.mark.parametrize("user", ["U0AE", "U0OWNER", ""])
def test_no_one_but_the_alerts_owner_ends_a_snooze_from_the_home_tab(store, slack, snoozes, fake_slack, user):
    details = acme_alert()
    ts = asyncio.run(post_alert(store, slack, details))
    snooze_id = _snooze(snoozes, slack, details)
    before = shown(fake_slack, ts)

    with pytest.raises(ActionError) as refused:
        asyncio.run(snoozes.unsnooze(slack, snooze_id, user, AsOwner()))

    assert str(refused.value) == NOT_OWNER
    assert NOT_OWNER == (
        "Only the owner of the alert this snooze was made on can end it here; "
        + "end it from the alert's channel."
    )
    assert _running(store, snooze_id)
    assert shown(fake_slack, ts) == before
    with pytest.raises(ActionError) as over:  # an unknown snooze is over, whoever asks
        asyncio.run(snoozes.unsnooze(slack, "0123456789abcdef", OWNER, AsOwner()))
    assert str(over.value) == OVER


def test_an_alert_routed_to_no_one_has_no_owner_to_end_its_snooze_from_the_home_tab(store, slack, snoozes):
    details = acme_alert(route=RouteDecision(CHANNEL, None, "test route", 0))
    asyncio.run(post_alert(store, slack, details))
    snooze_id = _snooze(snoozes, slack, details)

    with pytest.raises(ActionError) as refused:
        asyncio.run(snoozes.unsnooze(slack, snooze_id, OWNER, AsOwner()))

    assert str(refused.value) == NOT_OWNER

    assert _running(store, snooze_id)
    assert asyncio.run(snoozes.unsnooze(slack, snooze_id, "U0AE", InChannel(CHANNEL))).endswith("back on.")
