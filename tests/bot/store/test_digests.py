"""Taking a channel's waiting alerts into its digest: one digest per channel and period whoever asks and
however often, every waiting alert in exactly one digest, the later ones left for the next."""

from __future__ import annotations

import threading
import time

import pytest

from bot.alerts.model import AlertState, TaskShown
from bot.slack.blocks.digest import digest_message
from bot.store import Store, tables
from bot.store.messages import DIGEST_SIGNAL
from tests.support import stored
from tests.support.stored import decide, new_alert


@pytest.fixture
def store(worker_store):
    return worker_store


def _waiting(store: Store, channel: str = "C0AE1", account: str = "acme.com", signal: str = "S") -> str:
    alert = new_alert(signal=signal, channel=channel, account=account, deliver="digest", cooldown_s=0)
    decide(store, alert)
    return alert.id


def test_a_channels_waiting_alerts_go_into_one_digest(store):
    first, second = _waiting(store, signal="A"), _waiting(store, account="globex.com", signal="B")
    other = _waiting(store, channel="C0OTHER")
    assert store.digest_channels(time.time()) == ["C0AE1", "C0OTHER"]

    digest_id = store.take_digest("C0AE1", "2026-12-07", time.time(), digest_message)
    assert digest_id is not None
    for alert_id in (first, second):
        row = stored.alert(store, alert_id)
        assert row["status"] == "digested" and row["digest_id"] == digest_id
    assert stored.alert(store, other)["status"] == "digest"
    digest = stored.alert(store, digest_id)
    assert (
        digest["signal"] == DIGEST_SIGNAL and digest["status"] == "pending" and digest["channel"] == "C0AE1"
    )
    assert "Signals digest: 2 accounts" in str(stored.message_of(store, digest_id))
    assert store.alert(digest_id) is None  # a digest is no alert a click can act on
    assert store.digest_channels(time.time()) == ["C0OTHER"]


def test_one_digest_per_channel_and_period(store):
    _waiting(store, signal="A")
    assert store.take_digest("C0AE1", "2026-12-07", time.time(), digest_message) is not None
    late = _waiting(store, signal="B")
    assert store.take_digest("C0AE1", "2026-12-07", time.time(), digest_message) is None
    assert stored.alert(store, late)["status"] == "digest"  # waits for the next period
    assert store.take_digest("C0AE1", "2026-12-08", time.time(), digest_message) is not None
    assert store.take_digest("C0AE1", "2026-12-09", time.time(), digest_message) is None  # nothing waits


def test_alerts_created_after_the_digest_time_wait_for_the_next(store):
    before = time.time()
    time.sleep(0.01)
    later = _waiting(store)
    assert store.digest_channels(before) == []
    assert store.take_digest("C0AE1", "2026-12-07", before, digest_message) is None
    assert stored.alert(store, later)["status"] == "digest"


def test_processes_due_at_once_send_one_digest_with_every_alert(db_url):
    stores = [Store.from_url(db_url) for _ in range(4)]
    stores[0].upgrade()
    stores[0].heartbeat("w1")
    waiting = {_waiting(stores[0], account=f"a{i}.com", signal=f"S{i}") for i in range(6)}
    barrier = threading.Barrier(4)
    taken: list[str | None] = []

    def take(s: Store) -> None:
        barrier.wait()
        taken.append(s.take_digest("C0AE1", "2026-12-07", time.time(), digest_message))

    threads = [threading.Thread(target=take, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        ids = [t for t in taken if t is not None]
        assert len(taken) == 4 and len(ids) == 1
        rows = stored.rows(stores[0], tables.alerts, digest_id=ids[0])
        assert {r["id"] for r in rows} == waiting
    finally:
        for s in stores:
            s.dispose()


def test_a_posted_digest_lends_its_channel_to_the_alerts_it_lists(store):
    """A route may name `#sales`; Slack answers with the id, and a click in the digest comes from it."""
    listed = _waiting(store, channel="#sales")
    digest_id = store.take_digest("#sales", "2026-12-07", time.time(), digest_message)
    claimed = store.claim_alert(digest_id, "w1", 60)
    assert store.mark_posted(claimed.id, "w1", "C0SALES", "1.000001")
    assert stored.alert(store, listed)["posted_channel"] == "C0SALES"
    assert store.alert(listed).posted_channel == "C0SALES"


def test_a_digest_slack_refuses_fails_the_alerts_it_lists_in_the_ledger(store):
    first, second = _waiting(store, signal="A"), _waiting(store, account="globex.com", signal="B")
    digest_id = store.take_digest("C0AE1", "2026-12-07", time.time(), digest_message)
    claimed = store.claim_alert(digest_id, "w1", 60)
    store.alert_failed(claimed.id, "w1", "channel_not_found", claimed.event_uuid, claimed.signal)
    for alert_id in (first, second):
        row = stored.alert(store, alert_id)
        assert row["status"] == "failed"
        [entry] = store.ledger_entries([row["event_uuid"]])
        assert entry["outcome"] == "failed"
        assert entry["signals"][0]["reason"] == "Slack refused the alert: channel_not_found"


def test_a_posted_digest_is_read_back_with_the_alerts_it_lists_and_their_states_now(store):
    """What rebuilds a digest when something is done with an alert it lists: nothing before it is in
    Slack, then its channel and ts, the alerts it was taken with (and the same `since`) and their
    current states."""
    first, second = _waiting(store, signal="A"), _waiting(store, account="globex.com", signal="B")
    later = _waiting(store, channel="C0OTHER")
    digest_id = store.take_digest("C0AE1", "2026-12-07", time.time(), digest_message)
    assert store.posted_digest_of(first) is None  # taken, not yet in Slack
    assert store.posted_digest_of(later) is None  # in no digest
    claimed = store.claim_alert(digest_id, "w1", 60)
    assert store.mark_posted(claimed.id, "w1", "C0AE1", "1.000001")

    store.update_alert_state(second, lambda s: s.with_task(TaskShown(by="U0AE", crm="store")))
    digest = store.posted_digest_of(first)
    assert digest is not None and store.posted_digest_of(second) == digest
    assert (digest.id, digest.channel, digest.ts) == (digest_id, "C0AE1", "1.000001")
    assert [d.alert_id for d in digest.items] == [first, second]
    assert digest.since == min(stored.alert(store, a)["created_at"] for a in (first, second))
    assert digest.states[first] == AlertState()
    assert digest.states[second].task == TaskShown(by="U0AE", crm="store")
    assert digest.versions == tuple(sorted([(first, 0), (second, 1)]))
    rebuilt = digest_message(digest_id, digest.items, digest.since)
    assert rebuilt == stored.message_of(store, digest_id)  # unchanged states: the digest as posted
