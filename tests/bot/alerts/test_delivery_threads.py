"""Replies in an account's thread, through the real AsyncWebClient against the fake Slack: posted under
their first alert once it is in Slack, that alert updated to say what followed, on their own when it
never made it, and an interrupted reply found in its thread instead of posted twice."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from bot.alerts.delivery import Delivery, make_slack_client
from bot.ops.metrics import Metrics
from bot.store import Store, tables
from testkit.base import Reply
from testkit.slack import TOKEN
from tests.support import stored
from tests.support.stored import decide, new_alert

CHANNEL = "C0AE1"


@pytest.fixture
def store(worker_store):
    return worker_store


def _deliver(store: Store, fake_slack, *alert_ids: str) -> None:
    async def go():
        client = make_slack_client(TOKEN, fake_slack.api_url, 0.01)
        delivery = Delivery(store, client, Metrics(), "w1", min_interval_s=0)
        for alert_id in alert_ids:
            delivery.submit(alert_id, CHANNEL)
        await delivery.drain()
        await delivery.stop()

    asyncio.run(go())


def _text(message: dict) -> str:
    return str(message)


def test_a_reply_goes_in_the_first_alerts_thread_and_the_first_alert_says_so(store, fake_slack):
    root = new_alert(signal="Trial finished onboarding")
    reply = new_alert(signal="Team is inviting", priority="medium")
    decide(store, root)
    decide(store, reply)
    _deliver(store, fake_slack, root.id, reply.id)

    first, second = fake_slack.posted()
    root_ts = stored.alert(store, root.id)["ts"]
    assert "thread_ts" not in first and second["thread_ts"] == root_ts
    assert "reply_broadcast" not in second  # medium priority stays in the thread
    assert stored.alert(store, reply.id)["status"] == "posted"
    shown = _text(fake_slack.current(CHANNEL, root_ts))
    assert "1 more signal in the thread · latest: Team is inviting" in shown
    assert root.id in shown  # still the first alert, with its own buttons


def test_the_count_grows_with_each_reply(store, fake_slack):
    alerts = [new_alert(signal=f"Signal {i}", cooldown_s=0) for i in range(3)]
    for alert in alerts:
        decide(store, alert)
    _deliver(store, fake_slack, *(a.id for a in alerts))
    root_ts = stored.alert(store, alerts[0].id)["ts"]
    assert len(fake_slack.replies(CHANNEL, root_ts)) == 2
    assert "2 more signals in the thread · latest: Signal 2" in _text(fake_slack.current(CHANNEL, root_ts))


def test_a_high_priority_reply_also_shows_in_the_channel(store, fake_slack):
    root, reply = new_alert(signal="A"), new_alert(signal="B", priority="high")
    decide(store, root)
    decide(store, reply)
    _deliver(store, fake_slack, root.id, reply.id)
    assert fake_slack.posted()[1]["reply_broadcast"] is True
    history = fake_slack.calls("chat.postMessage")
    assert len(history) == 2


def test_a_reply_waits_for_its_first_alert_and_goes_in_its_thread_once_posted(store, fake_slack):
    """The first alert is another process's to post and not in Slack yet: the reply waits (its
    attempts untouched) rather than starting a thread of its own."""
    root, reply = new_alert(signal="A"), new_alert(signal="B")
    decide(store, root)
    decide(store, reply)
    _deliver(store, fake_slack, reply.id)
    waiting = stored.alert(store, reply.id)
    assert fake_slack.posted() == [] and waiting["status"] == "pending" and waiting["attempts"] == 0

    with store.engine.begin() as conn:  # the retry comes due
        conn.execute(update(tables.alerts).values(next_attempt_at=0.0))
    _deliver(store, fake_slack, root.id, reply.id)
    root_ts = stored.alert(store, root.id)["ts"]
    assert [m.get("thread_ts") for m in fake_slack.posted()] == [None, root_ts]


def test_a_reply_whose_thread_cannot_be_read_goes_back_at_once_and_is_posted_in_it_later(store, fake_slack):
    """The database fails right after the reply is claimed: the claim is handed back (not held until
    its lease runs out), no attempt is spent, and the next try posts it in its thread."""
    root, reply = new_alert(signal="A"), new_alert(signal="B")
    decide(store, root)
    decide(store, reply)
    _deliver(store, fake_slack, root.id)
    reads = store.thread_root

    def unreachable_once(alert_id: str):
        store.thread_root = reads  # the next read answers again
        raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))

    store.thread_root = unreachable_once
    _deliver(store, fake_slack, reply.id)
    waiting = stored.alert(store, reply.id)
    assert len(fake_slack.posted()) == 1
    assert waiting["status"] == "pending" and waiting["attempts"] == 0
    with store.engine.begin() as conn:  # the retry comes due
        conn.execute(update(tables.alerts).values(next_attempt_at=0.0))
    _deliver(store, fake_slack, reply.id)
    assert fake_slack.posted()[1]["thread_ts"] == stored.alert(store, root.id)["ts"]


def test_a_reply_whose_first_alert_never_made_it_is_posted_on_its_own(store, fake_slack):
    root, reply = new_alert(signal="A"), new_alert(signal="B", priority="high")
    decide(store, root)
    decide(store, reply)
    claimed = store.claim_alert(root.id, "w1", 60)
    store.alert_failed(claimed.id, "w1", "channel_not_found", claimed.event_uuid, claimed.signal)
    _deliver(store, fake_slack, reply.id)
    [posted] = fake_slack.posted()
    assert "thread_ts" not in posted and "reply_broadcast" not in posted


def test_an_interrupted_reply_is_found_in_its_thread_not_posted_again(store, fake_slack):
    """The reply reached Slack but the process died before recording it: the next claimer reads the
    thread (a channel's history does not list replies) and records what it finds."""
    root, reply = new_alert(signal="A"), new_alert(signal="B")
    decide(store, root)
    decide(store, reply)
    _deliver(store, fake_slack, root.id)
    root_ts = stored.alert(store, root.id)["ts"]
    sent = time.time()
    fake_slack.already_posted(
        CHANNEL, f"{sent:.6f}", {**stored.message_of(store, reply.id), "thread_ts": root_ts}
    )
    with store.engine.begin() as conn:  # as a claim the dead process left behind
        conn.execute(
            update(tables.alerts)
            .where(tables.alerts.c.id == reply.id)
            .values(status="sending", claimed_by="dead", lease_until=0.0, sending_since=sent)
        )
    _deliver(store, fake_slack, reply.id)
    assert len(fake_slack.posted()) == 1  # only the first alert was posted here
    assert fake_slack.calls("conversations.replies")[0]["ts"] == root_ts
    assert stored.alert(store, reply.id)["ts"] == f"{sent:.6f}"
    assert "1 more signal in the thread" in _text(fake_slack.current(CHANNEL, root_ts))  # and said so


def test_a_reply_whose_thread_is_gone_is_posted_on_its_own_and_the_next_alert_starts_anew(store, fake_slack):
    """The first alert was deleted in Slack (or its thread locked): Slack answers the reply with
    `thread_not_found`. The reply goes out on its own, not lost, and the account's next alert starts a
    new thread instead of failing into the dead one."""
    root, reply = new_alert(signal="A"), new_alert(signal="B", priority="high")
    decide(store, root)
    decide(store, reply)
    _deliver(store, fake_slack, root.id)
    fake_slack.script("chat.postMessage", Reply(200, {"ok": False, "error": "thread_not_found"}))
    _deliver(store, fake_slack, reply.id)
    _first, alone = fake_slack.posted()
    assert "thread_ts" not in alone and "reply_broadcast" not in alone
    assert stored.alert(store, reply.id)["status"] == "posted"
    later = new_alert(signal="C")
    decide(store, later)
    assert stored.alert(store, later.id)["thread_of"] is None
