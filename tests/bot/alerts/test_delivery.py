"""Delivery through the real AsyncWebClient against the fake Slack, at the store level."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from bot.alerts.delivery import Delivery, make_slack_client
from bot.alerts.model import AlertDetails
from bot.decide.outcomes import Outcome, SignalDecision
from bot.decide.routing import RouteDecision
from bot.ops.metrics import Metrics
from bot.store import Finish, LedgerEntry, NewAlert, Store
from testkit.slack import TOKEN
from tests.support import stored
from tests.support.factories import acme_facts


def _details() -> AlertDetails:
    """Alert a1 of signal S for acme.com, routed to C0AE1."""
    route = RouteDecision("C0AE1", None, "default route", 0)
    return AlertDetails.of(replace(acme_facts(), alert_id="a1", signal_name="S", route=route), "summary")


def _store_with_alert(db_url: str) -> Store:
    store = Store.from_url(db_url)
    store.upgrade()
    from bot.store import InboxRow

    store.ingest([InboxRow("e1", "ev", b"{}", time.time(), "r1")])
    store.heartbeat("w1")
    store.claim_events("w1", 1, 60)
    entry = LedgerEntry.of(
        [SignalDecision(signal="S", outcome=Outcome.ALERTED, reason="routed to C0AE1", alert_id="a1")],
        event_uuid="e1",
        event_name="ev",
        distinct_id="u1",
        account="acme.com",
        event_time=time.time(),
        request_id="r1",
    )
    message = {
        "text": "hello",
        "blocks": [],
        "metadata": {"event_type": "posthog_signal", "event_payload": {"alert_id": "a1"}},
    }
    store.finish_events("w1", [Finish("e1", entry, [NewAlert(_details(), message, 60)], 1.0)])
    return store


def _deliver(store: Store, fake_slack, **options) -> None:
    async def go():
        client = make_slack_client(TOKEN, fake_slack.api_url, 0.01)
        delivery = Delivery(store, client, Metrics(), "w1", min_interval_s=0, **options)
        delivery.submit("a1", "C0AE1")
        await delivery.drain()

    asyncio.run(go())


def test_posts_once_and_stores_the_ts(db_url, fake_slack):
    store = _store_with_alert(db_url)
    _deliver(store, fake_slack)
    _deliver(store, fake_slack)  # submitting again does nothing: it is posted
    assert len(fake_slack.posted()) == 1
    alert = stored.alert(store, "a1")
    assert alert["status"] == "posted" and alert["ts"] == fake_slack.posted_ts()[0]


def test_a_process_whose_heartbeat_is_late_does_not_post(sqlite_url, fake_slack):
    store = _store_with_alert(sqlite_url)
    _deliver(store, fake_slack, may_act=lambda: False)
    assert fake_slack.posted() == []
    alert = stored.alert(store, "a1")
    assert alert["status"] == "pending" and alert["sending_since"] is None  # safe to post later


def test_refused_connections_spend_no_attempts_and_give_up_after_the_outage_limit(sqlite_url):
    """Slack refusing connections (an outage, or a wrong SLACK_API_URL) is retried every retry
    interval without spending the alert's attempts (2 here); the alert is recorded as failed only
    once Slack has been unreachable for the outage limit (0.5 s here, an hour in production)."""
    store = _store_with_alert(sqlite_url)
    created = stored.alert(store, "a1")["created_at"]

    async def go() -> None:
        client = make_slack_client(TOKEN, "http://127.0.0.1:9/api/", 0.01)  # nothing listens there
        delivery = Delivery(
            store,
            client,
            Metrics(),
            "w1",
            min_interval_s=0,
            poll_s=0.05,
            max_attempts=2,
            retry_base_s=0.05,
            outage_limit_s=0.5,
        )
        running = asyncio.create_task(delivery.run())
        delivery.submit("a1", "C0AE1")
        deadline = time.time() + 5
        while stored.alert(store, "a1")["status"] != "failed" and time.time() < deadline:
            await asyncio.sleep(0.02)
        await delivery.stop()
        running.cancel()

    asyncio.run(go())
    alert = stored.alert(store, "a1")
    assert alert["status"] == "failed"
    assert alert["posted_at"] is None
    assert time.time() - created >= 0.5
    assert "cannot connect to Slack" in alert["error"]
    entry = store.ledger_entries(["e1"])[0]
    assert entry["outcome"] == "failed"


def test_a_channel_keeps_its_pace_across_quiet_spells_with_short_bursts(sqlite_url, fake_slack):
    """Alerts that arrive one at a time for one channel, each finding the channel's queue empty, are
    still paced: a burst goes at once, then one per interval. (The pace used to start afresh each
    time the queue emptied, so a steady trickle went out faster than Slack allows.)"""
    store = Store.from_url(sqlite_url)
    store.upgrade()
    store.heartbeat("w1")
    alerts = [stored.new_alert(account=f"account{n}.com", channel="C0AE1") for n in range(5)]
    for alert in alerts:
        stored.decide(store, alert)

    async def go() -> None:
        client = make_slack_client(TOKEN, fake_slack.api_url, 0.01)
        delivery = Delivery(store, client, Metrics(), "w1", min_interval_s=0.5, burst=2)
        for alert in alerts:
            delivery.submit(alert.id, alert.channel)
            await delivery.drain()  # each alert finds the channel's queue empty
            await asyncio.sleep(0.1)

    asyncio.run(go())
    posted = [r.at for r in fake_slack.requests if r.path.endswith("chat.postMessage")]
    assert len(posted) == 5
    assert posted[1] - posted[0] < 0.4  # the burst: the second goes without waiting out the interval
    # then the pace: five messages with a burst of two take at least three intervals
    assert posted[-1] - posted[0] >= 3 * 0.5 - 0.05
    store.dispose()
