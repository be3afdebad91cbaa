"""When a digest is due: the day's time in the digest's zone (across daylight saving), the day's period
once taken, and a process that starts after the time sending the day's digest at once."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.alerts.delivery import Delivery, make_slack_client
from bot.config.signals_file import Digest
from bot.ops.metrics import Metrics
from bot.schedule.digests import Digests, last_due, next_due
from bot.store import Store, tables
from testkit.slack import TOKEN
from tests.support import stored
from tests.support.stored import decide, new_alert

AMSTERDAM = Digest(at="09:00", timezone="Europe/Amsterdam")


def _at(text: str, zone: str = "Europe/Amsterdam") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_the_latest_time_at_or_before_now_and_its_local_date():
    assert last_due(_at("2026-12-07T09:00:00"), AMSTERDAM) == (_at("2026-12-07T09:00:00"), "2026-12-07")
    assert last_due(_at("2026-12-07T08:59:59"), AMSTERDAM) == (_at("2026-12-06T09:00:00"), "2026-12-06")
    assert last_due(_at("2026-12-07T23:30:00"), AMSTERDAM) == (_at("2026-12-07T09:00:00"), "2026-12-07")


def test_the_next_time_is_tomorrow_at_the_same_local_time():
    assert next_due(_at("2026-12-07T09:00:00"), AMSTERDAM) == _at("2026-12-08T09:00:00")
    assert next_due(_at("2026-12-07T08:00:00"), AMSTERDAM) == _at("2026-12-07T09:00:00")


def test_daylight_saving_keeps_the_local_time():
    """Amsterdam moves from UTC+1 to UTC+2 on 29 March 2026: 09:00 stays 09:00, a day 23 hours long."""
    before = _at("2026-03-28T09:00:00")
    after = next_due(before, AMSTERDAM)
    assert after == _at("2026-03-29T09:00:00") and after - before == 23 * 3600
    assert datetime.fromtimestamp(after, ZoneInfo("UTC")).hour == 7


def test_utc_by_default():
    digest = Digest()
    assert last_due(_at("2026-12-07T12:00:00", "UTC"), digest) == (
        _at("2026-12-07T09:00:00", "UTC"),
        "2026-12-07",
    )


@pytest.fixture
def store(worker_store):
    return worker_store


def _send(store: Store, fake_slack, now: float, digest: Digest = AMSTERDAM) -> list[str]:
    async def go() -> list[str]:
        client = make_slack_client(TOKEN, fake_slack.api_url, 0.01)
        delivery = Delivery(store, client, Metrics(), "w1", min_interval_s=0)
        taken = await Digests(store, delivery, digest, clock=lambda: now).send_due()
        await delivery.drain()
        await delivery.stop()
        return taken

    return asyncio.run(go())


def test_the_days_digest_goes_out_once_at_its_time(store, fake_slack):
    alert = new_alert(deliver="digest")
    decide(store, alert)
    created = stored.alert(store, alert.id)["created_at"]
    due, _ = last_due(created, AMSTERDAM)
    assert _send(store, fake_slack, created) == []  # created after today's time: waits for tomorrow
    tomorrow = next_due(created, AMSTERDAM)
    [digest_id] = _send(store, fake_slack, tomorrow + 60)
    assert _send(store, fake_slack, tomorrow + 120) == []  # a restart the same day sends nothing more
    [posted] = fake_slack.posted()
    assert posted["channel"] == "C0AE1" and posted["metadata"]["event_payload"]["alert_id"] == digest_id
    assert stored.alert(store, digest_id)["ts"] == fake_slack.posted_ts()[0]
    assert due < created


def test_a_digest_is_not_sent_twice_when_its_process_died_sending_it(store, fake_slack):
    """The process died after Slack took the digest and before it recorded that: the next process
    finds it in the channel by its metadata and records it, instead of posting it again."""
    decide(store, new_alert(deliver="digest"))
    [digest_id] = asyncio.run(_take_only(store))
    sent = time.time()
    fake_slack.already_posted("C0AE1", f"{sent:.6f}", stored.message_of(store, digest_id))
    with store.engine.begin() as conn:  # the claim the dead process left behind
        conn.execute(
            update(tables.alerts)
            .where(tables.alerts.c.id == digest_id)
            .values(status="sending", claimed_by="dead", lease_until=0.0, sending_since=sent)
        )

    async def resume() -> None:
        client = make_slack_client(TOKEN, fake_slack.api_url, 0.01)
        delivery = Delivery(store, client, Metrics(), "w1", min_interval_s=0)
        delivery.submit(digest_id, "C0AE1")
        await delivery.drain()
        await delivery.stop()

    asyncio.run(resume())
    assert fake_slack.posted() == []
    assert stored.alert(store, digest_id)["status"] == "posted"


async def _take_only(store: Store) -> list[str]:
    class NoDelivery:
        def submit(self, alert_id: str, channel: str) -> None:
            pass

    return await Digests(store, NoDelivery(), AMSTERDAM).send_now()  # type: ignore[arg-type]
