"""What starting and stopping the app means for the people who run it: a stop is prompt and hands its
work to the next process at once, a post in flight is recorded before the process goes, a process
that may be presumed dead posts nothing, a woken worker looks at once, and the SQLite file holds what
was decided while the app runs."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import sqlite3
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from bot.app.container import Role, Services
from bot.app.lifecycle import Lifecycle
from bot.config.signals_file import load_signals
from bot.ingest.webhook_body import parse_request
from bot.store.engine import make_engine
from bot.store.tables import workers
from testkit.base import Reply
from testkit.enrichment import API_KEY, FakeEnrichment, signals_with_http_provider
from testkit.postgres import postgres_schema
from testkit.slack import FakeSlack
from testkit.webhook_bodies import activation
from tests.conftest import fast_tuning, make_settings, serve
from tests.support import stored


def test_a_stop_waits_for_no_slow_enrichment_api_and_the_next_process_decides_at_once(
    sqlite_url, fake_slack, tmp_path, monkeypatch
):
    """The enrichment API takes 30 s to answer the first lookup. Stopping does not wait for it (the
    decision has had no effect yet), and the event's claim goes back with the stop: the next process
    decides and alerts it within seconds, where a dead process's claims would wait a minute (its
    heartbeat going stale) and a lease two. (The bounds leave room for a loaded machine.)"""
    monkeypatch.setenv("ENRICH_TEST_KEY", API_KEY)
    tuning = fast_tuning(stale_after_s=60.0, event_lease_s=120.0)
    with FakeEnrichment() as enrichment:
        config = load_signals(signals_with_http_provider(tmp_path / "signals.yml", enrichment.url))
        settings = make_settings(sqlite_url, fake_slack)
        enrichment.script(Reply(200, {"name": "never seen"}, delay_s=30))
        with serve(settings, config, tuning) as first:
            assert first.post_webhook(activation("umbrella.io")).status_code == 202
            enrichment.wait_for(lambda s: s.lookups())
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 5
        assert fake_slack.posted() == []

        with serve(settings, config, tuning):
            fake_slack.wait_for(lambda s: s.posted(), timeout=15)
            time.sleep(0.3)
        posted = fake_slack.posted()
        assert len(posted) == 1 and "Umbrella Corp" in posted[0]["text"]


def test_a_post_in_flight_when_stopping_is_recorded_before_the_process_goes(
    sqlite_url, fake_slack, example_config
):
    """Slack has the message but answers half a second later. The stop waits for that answer and
    records the post, so the next process neither looks for the message in the channel nor posts it
    again."""
    fake_slack.answer_late(0.5)
    settings = make_settings(sqlite_url, fake_slack)
    body = activation("initech.com")
    with serve(settings, example_config) as first:
        assert first.post_webhook(body).status_code == 202
        fake_slack.wait_for(lambda s: s.calls("chat.postMessage"))
    store = first.services.store
    [alert] = stored.alerts_of(store, body["event"]["uuid"])
    assert alert["status"] == "posted" and alert["ts"] == fake_slack.posted_ts()[0]

    with serve(settings, example_config):
        time.sleep(0.5)
    assert fake_slack.calls("conversations.history") == []
    assert len(fake_slack.calls("chat.postMessage")) == 1


@pytest.mark.postgres
def test_a_process_whose_heartbeat_is_late_posts_nothing_until_it_beats_again(fake_slack, example_config):
    """Another transaction holds this process's row in the workers table, so its heartbeat cannot be
    written and other processes would soon take its claims over. Once the heartbeat is half the stale
    time late (1 s here) the process still decides, but posts nothing; when it beats again, the alert
    is posted once."""
    body = activation("initech.com")
    with postgres_schema() as url, serve(make_settings(url, fake_slack), example_config) as app:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                mine = workers.c.id == app.services.worker_id
                assert conn.execute(select(workers.c.id).where(mine).with_for_update()).all()
                time.sleep(app.services.tuning.stale_after_s / 2 + 0.3)
                assert app.post_webhook(body).status_code == 202
                assert app.wait_decided([body["event"]["uuid"]])[0]["outcome"] == "alerted"
                time.sleep(0.5)
                assert fake_slack.posted() == []
            fake_slack.wait_for(lambda s: s.posted(), timeout=5)
            time.sleep(0.3)
            assert len(fake_slack.posted()) == 1
        finally:
            engine.dispose()


def test_a_woken_worker_decides_at_once_rather_than_at_its_next_poll(sqlite_url, fake_slack, example_config):
    """`serve`'s web process wakes the worker after each commit it makes for it: the event is
    decided and posted at once, although this worker looks on its own only every 30 s."""
    settings = make_settings(sqlite_url, fake_slack)
    tuning = fast_tuning(worker_poll_s=30.0)
    events = parse_request(orjson.dumps(activation("initech.com")))

    async def store_and_wait() -> float:
        worker = Lifecycle(Services(settings, example_config, tuning, role=Role.WORKER))
        web = Lifecycle(Services(settings, example_config, tuning, role=Role.WEB, wake_worker=worker.wake))
        await worker.start()
        await web.start()
        try:
            await asyncio.sleep(0.2)  # the worker has looked once, found nothing, and waits
            stored_at = time.monotonic()
            assert (await web.services.ingest.submit(events, "r1")).pending == 1
            while not fake_slack.posted() and time.monotonic() - stored_at < 10:
                await asyncio.sleep(0.02)
            return time.monotonic() - stored_at
        finally:
            await web.stop()
            await worker.stop()

    assert asyncio.run(store_and_wait()) < 5
    assert len(fake_slack.posted()) == 1


def _decided_in_file_alone(database: str, copy: Path) -> int:
    """How many decisions a copy of the database file holds without its write-ahead log, as a backup
    that copies only the file would."""
    shutil.copyfile(database, copy)
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM ledger").fetchone()[0])
        except sqlite3.DatabaseError:  # the tables have not reached the file yet, or a write was mid-way
            return 0


def test_the_sqlite_file_itself_holds_what_was_decided_while_the_app_runs(
    sqlite_url, fake_slack: FakeSlack, example_config, tmp_path
):
    """No commit copies SQLite's write-ahead log into the database file (that would hold the write
    lock while it copies); the running app does it in the background, about once a second."""
    database = sqlite_url.removeprefix("sqlite:///")
    bodies = [activation(f"co{i}.example.com", distinct_id=f"u{i}") for i in range(5)]
    with serve(make_settings(sqlite_url, fake_slack), example_config) as app:
        for body in bodies:
            assert app.post_webhook(body).status_code == 202
        app.wait_decided([b["event"]["uuid"] for b in bodies])
        deadline = time.monotonic() + 10
        for attempt in itertools.count():
            if _decided_in_file_alone(database, tmp_path / f"copy-{attempt}.db") == len(bodies):
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
