"""The worker between the inbox and delivery, on SQLite and PostgreSQL: the real pipeline and composer
decide, the real Delivery posts to the fake Slack. What the store holds afterwards is what counts: one
ledger entry per event, alerts handed to delivery, a decision that keeps failing recorded as `failed`
after its attempts, and nothing at all from a worker whose claim was taken over."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from bot.alerts.compose import Composer
from bot.alerts.delivery import Delivery, make_slack_client
from bot.alerts.summary_claude import Summarizer, make_client
from bot.app.worker import Worker
from bot.clients.posthog_writer import PostHogWriter
from bot.config.signals_file import Pii
from bot.decide.enrich import Enricher
from bot.decide.pipeline import Pipeline
from bot.ingest.webhook_body import parse_body
from bot.ops.metrics import Metrics
from bot.store import InboxRow, Store
from bot.store.tables import inbox
from testkit.anthropic import API_KEY, GOOD, FakeAnthropic, message
from testkit.base import Reply
from testkit.slack import TOKEN, FakeSlack
from testkit.webhook_bodies import activation, webhook_body
from tests.support import stored
from tests.support.factories import example_config

Done = Callable[[], Any]


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store.from_url(db_url)
    store.upgrade()
    yield store
    store.dispose()


def enqueue(store: Store, *bodies: dict[str, Any]) -> list[str]:
    """Store events in the inbox as the webhook does; returns their uuids."""
    for body in bodies:
        stored = parse_body(orjson.dumps(body))[0].stored()
        store_raw(store, body["event"]["uuid"], body["event"]["event"], stored)
    return [body["event"]["uuid"] for body in bodies]


def store_raw(store: Store, event_uuid: str, event_name: str, payload: bytes) -> None:
    store.ingest([InboxRow(event_uuid, event_name, payload, time.time(), "r")])


def work(
    store: Store,
    slack: FakeSlack,
    done: Done,
    claude: FakeAnthropic | None = None,
    **options: Any,
) -> tuple[Metrics, float]:
    """Run a worker "w1" and its delivery until `done()`, then let what they started finish; returns
    the metrics and how long it took."""

    async def run() -> tuple[Metrics, float]:
        metrics = Metrics()
        config = example_config()
        summarizer = None
        if claude is not None:
            client = make_client(API_KEY, claude.base_url, 5.0)
            summarizer = Summarizer(client, "claude-haiku-4-5", 5.0, Pii(), metrics, _zero, _ignore, 100_000)
        async with httpx.AsyncClient() as http:
            enricher = Enricher(config.enrichment, store, http, metrics)
            pipeline = Pipeline(config, store, enricher, "https://us.posthog.com", "12345")
            slack_client = make_slack_client(TOKEN, slack.api_url, 0.01)
            delivery = Delivery(store, slack_client, metrics, "w1", min_interval_s=0, poll_s=0.05)
            worker = Worker(
                store,
                pipeline,
                Composer(metrics, summarizer),
                delivery,
                PostHogWriter(None, metrics),
                metrics,
                "w1",
                poll_s=0.05,
                **options,
            )
            started = time.monotonic()
            tasks = [asyncio.create_task(worker.run()), asyncio.create_task(delivery.run())]
            while not done():
                assert time.monotonic() - started < 10, "the worker did not get there within 10 s"
                await asyncio.sleep(0.02)
            await worker.drain()
            await delivery.drain()
            elapsed = time.monotonic() - started
            await worker.stop()
            await delivery.stop(1.0)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return metrics, elapsed

    return asyncio.run(run())


async def _zero() -> int:
    return 0


async def _ignore(tokens: int) -> None:
    return None


def inbox_row(store: Store, event_uuid: str) -> dict[str, Any]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(inbox).where(inbox.c.uuid == event_uuid)).mappings().one())


def test_each_claimed_event_is_decided_committed_once_and_its_alert_delivered(store, fake_slack):
    alerting, filtered = (
        activation("acme.com"),
        webhook_body("onboarding_completed", properties={"plan": "paid"}),
    )
    uuids = enqueue(store, alerting, filtered)
    work(store, fake_slack, lambda: len(store.ledger_entries(uuids)) == 2 and fake_slack.posted())

    outcomes = {e["event_uuid"]: e["outcome"] for e in store.ledger_entries(uuids)}
    assert outcomes == {uuids[0]: "alerted", uuids[1]: "filtered"}
    [alert] = stored.alerts_of(store, uuids[0])
    [posted] = fake_slack.posted()
    assert posted["channel"] == alert["channel"] == "C0AE1"
    assert posted["metadata"]["event_payload"]["alert_id"] == alert["id"]
    assert alert["status"] == "posted" and alert["ts"] is not None
    assert [inbox_row(store, u)["status"] for u in uuids] == ["done", "done"]
    assert store.claim_events("w2", 10, 60) == []  # nothing left for anyone to decide again
    assert stored.alerts_of(store, uuids[1]) == []


def test_a_decision_that_keeps_failing_is_retried_with_backoff_then_recorded_as_failed(store, fake_slack):
    # A stored event the pipeline cannot read (its properties are a list): every attempt fails alike.
    unreadable = {"uuid": "e-unreadable", "event": "onboarding_completed", "properties": []}
    store_raw(store, "e-unreadable", "onboarding_completed", orjson.dumps({"event": unreadable}))
    metrics, elapsed = work(
        store, fake_slack, lambda: store.ledger_entries(["e-unreadable"]), max_attempts=3, retry_base_s=0.1
    )

    [entry] = store.ledger_entries(["e-unreadable"])
    assert entry["outcome"] == "failed" and entry["event_name"] == "onboarding_completed"
    [decision] = entry["signals"]
    assert decision["reason"].startswith("gave up after 3 attempts: ValidationError: ")
    assert elapsed >= 0.1 + 0.2  # waited 0.1 s after the first attempt, 0.2 s after the second
    assert metrics.registry.get_sample_value("signals_pipeline_errors_total") == 3.0
    row = inbox_row(store, "e-unreadable")
    assert (row["status"], row["attempts"]) == ("done", 3)
    assert fake_slack.posted() == []


def test_a_worker_whose_claim_was_taken_over_commits_nothing(store, fake_slack, caplog):
    [event_uuid] = enqueue(store, activation("acme.com"))
    taken: list[Any] = []

    def take_over() -> bool:
        """While w1 waits for Claude, a process that found w1 dead takes the event over."""
        if not taken and claude.sent():
            store.heartbeat("w2")  # w2 is alive; w1 has no heartbeat, so its claim is open
            taken.extend(store.claim_events("w2", 1, 60))
        return bool(taken)

    with FakeAnthropic() as claude, caplog.at_level(logging.WARNING, logger="bot.app.worker"):
        claude.script(Reply(200, message("claude-haiku-4-5", "write_alert", GOOD), delay_s=0.5))
        work(store, fake_slack, take_over, claude=claude)

    assert [c.uuid for c in taken] == [event_uuid]
    assert store.ledger_entries([event_uuid]) == [] and stored.alerts_of(store, event_uuid) == []
    assert fake_slack.posted() == []
    row = inbox_row(store, event_uuid)
    assert (row["status"], row["claimed_by"]) == ("claimed", "w2")  # the event is w2's to decide
    assert "lost the claim before committing; another worker decides" in caplog.messages
