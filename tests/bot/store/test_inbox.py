"""The inbox and the ledger on SQLite and PostgreSQL: an event is stored once however often PostHog
sends it, claimed by one process at a time under a lease, decided only by whoever holds its claim,
and alerted once per cooldown; an event given up on is recorded, never dropped; the events counted
rather than stored add up to one total per minute, event name and outcome."""

from __future__ import annotations

import time

from bot.decide.outcomes import Outcome, SignalDecision
from bot.store import Finish, InboxRow, TotalKey
from tests.support import stored
from tests.support.stored import alerted, decide, entry, ingest, new_alert, new_id

FILTERED = Outcome.FILTERED


def claimed(store, worker, limit=10, lease_s=60.0) -> list[str]:
    return [c.uuid for c in store.claim_events(worker, limit, lease_s)]


def decisions(store, event_uuid: str) -> list[dict]:
    [row] = store.ledger_entries([event_uuid])
    return row["signals"]


def test_an_event_is_stored_once_however_often_it_is_delivered(store):
    first, second, third = new_id(), new_id(), new_id()
    rows = [InboxRow(u, "ev", b"{}", time.time(), "r1") for u in (first, second, third)]
    assert store.ingest(rows[:2]) == {first, second}
    assert store.ingest(rows[1:]) == {third}
    assert store.ingest(rows) == set()
    assert sorted(claimed(store, "w1")) == sorted([first, second, third])


def test_the_ledger_totals_grow_by_what_is_added_one_per_minute_event_name_and_outcome(store):
    year_2100 = 4_102_444_800  # past 2**31: minutes are 64-bit
    store.add_totals({TotalKey(600, "$pageview", FILTERED): 3, TotalKey(600, "$autocapture", FILTERED): 1})
    store.add_totals({TotalKey(600, "$pageview", FILTERED): 2, TotalKey(year_2100, "$pageview", FILTERED): 1})
    store.add_totals({})
    assert stored.totals(store) == {
        (600, "$pageview"): 5,
        (600, "$autocapture"): 1,
        (year_2100, "$pageview"): 1,
    }
    assert stored.totals(store, "alerted") == {}
    assert claimed(store, "w1") == []  # counted, not stored: nothing for the worker


def test_event_names_that_store_alike_add_up_to_one_total(store):
    store.add_totals(
        {TotalKey(600, "$page\x00view", FILTERED): 1, TotalKey(600, "$page\ufffdview", FILTERED): 2}
    )
    store.add_totals({TotalKey(600, "x" * 500, FILTERED): 1, TotalKey(600, "x" * 400 + "y", FILTERED): 1})
    assert stored.totals(store) == {(600, "$page\ufffdview"): 3, (600, "x" * 400): 2}


def test_the_outcome_counts_are_the_ledger_entries_and_its_totals(store):
    stored.finish(store, entry(new_id(), SignalDecision(signal="S", outcome=Outcome.ALERTED, reason="r")))
    stored.finish(store, entry(new_id()))  # filtered by the worker: a signal listens to it
    store.add_totals({TotalKey(600, "$pageview", FILTERED): 4, TotalKey(660, "$autocapture", FILTERED): 2})
    assert store.outcome_counts() == {"alerted": 1, "filtered": 7}


def test_claims_take_the_oldest_due_events_up_to_the_limit_and_count_attempts(store):
    for worker in ("w1", "w2", "w3"):
        store.heartbeat(worker)
    by_age = {at: ingest(store, received_at=at) for at in (3.0, 1.0, 2.0, 5.0, 4.0)}
    events = store.claim_events("w1", 2, 60)
    assert [(e.uuid, e.attempts, e.received_at) for e in events] == [
        (by_age[1.0], 1, 1.0),
        (by_age[2.0], 1, 2.0),
    ]
    assert claimed(store, "w2", limit=10) == [by_age[3.0], by_age[4.0], by_age[5.0]]
    assert claimed(store, "w3") == []


def test_a_claim_is_kept_while_its_lease_runs_and_its_holder_beats(store):
    store.heartbeat("w1")
    held, expiring = ingest(store, received_at=1.0), ingest(store, received_at=2.0)
    assert claimed(store, "w1", limit=1) == [held]
    assert claimed(store, "w1", limit=1, lease_s=0.0) == [expiring]  # a lease that runs out at once
    [taken] = store.claim_events("w2", 10, 60)
    assert (taken.uuid, taken.attempts) == (expiring, 2)
    assert claimed(store, "w2") == []  # `held` stays with w1


def test_the_claims_of_a_process_that_stopped_beating_are_taken_over_at_once(store):
    event_uuid = ingest(store)
    assert claimed(store, "gone") == [event_uuid]  # a process that never beat, or whose beat is stale
    store.heartbeat("w2")
    [taken] = store.claim_events("w2", 10, 60)
    assert (taken.uuid, taken.attempts) == (event_uuid, 2)


def test_a_claim_takes_the_oldest_of_the_pending_events_and_the_abandoned_claims_together(store):
    store.heartbeat("w2")
    abandoned = ingest(store, received_at=2.0)
    assert claimed(store, "gone") == [abandoned]
    pending = {at: ingest(store, received_at=at) for at in (1.0, 3.0)}
    events = store.claim_events("w2", 2, 60)
    assert [(e.uuid, e.attempts) for e in events] == [(pending[1.0], 1), (abandoned, 2)]
    assert claimed(store, "w2") == [pending[3.0]]


def test_a_retry_hands_the_event_back_after_its_delay_and_only_its_holder_may_ask(store):
    store.heartbeat("w1")
    event_uuid = ingest(store)
    assert claimed(store, "w1") == [event_uuid]
    assert not store.retry_event(event_uuid, "w2", "not mine", 0.0)
    assert store.retry_event(event_uuid, "w1", "ValueError: boom", 0.1)
    assert claimed(store, "w1") == []  # not due yet
    time.sleep(0.15)
    [again] = store.claim_events("w1", 10, 60)
    assert (again.uuid, again.attempts) == (event_uuid, 2)


def test_a_decision_is_committed_only_while_its_claim_is_held(store):
    lost, kept = ingest(store, received_at=1.0), ingest(store, received_at=2.0)
    assert claimed(store, "w1") == [lost, kept]
    store.heartbeat("w2")
    assert claimed(store, "w2", limit=1) == [lost]  # w1 never beat: w2 takes its oldest event over
    lost_alert, kept_alert = new_alert(account="lost.example"), new_alert(account="kept.example")
    commits = store.finish_events(
        "w1",
        [
            Finish(lost, entry(lost, alerted(lost_alert)), [lost_alert], 1.0),
            Finish(kept, entry(kept, alerted(kept_alert)), [kept_alert], 2.0),
        ],
    )
    assert [c.committed for c in commits] == [False, True]
    assert commits[1].alerts_created == [kept_alert.id] and commits[1].outcome is Outcome.ALERTED
    assert store.ledger_entries([lost]) == [] and stored.alerts_of(store, lost) == []
    assert [a["id"] for a in stored.alerts_of(store, kept)] == [kept_alert.id]
    [decided] = store.finish_events("w2", [Finish(lost, entry(lost), [], 1.0)])
    assert decided.committed  # the holder decides it


def test_one_alert_per_signal_and_account_within_the_cooldown_the_others_are_recorded_as_cooldown(store):
    first, second, other = ingest(store), ingest(store), ingest(store)
    assert claimed(store, "w1") == [first, second, other]
    alerts = [new_alert(), new_alert(), new_alert(signal="T")]
    finishes = [
        Finish(u, entry(u, alerted(a)), [a], 1.0) for u, a in zip((first, second, other), alerts, strict=True)
    ]
    commits = store.finish_events("w1", finishes)

    assert [c.alerts_created for c in commits] == [[alerts[0].id], [], [alerts[2].id]]
    assert commits[1].outcome is Outcome.COOLDOWN and commits[1].cooled_down == {"S": 60.0}
    assert decisions(store, second) == [
        {
            "signal": "S",
            "outcome": "cooldown",
            "reason": "this account already had this alert within its 1m cooldown",
            "score": 100,
            "channel": "C0AE1",
        }
    ]
    assert stored.alerts_of(store, second) == []
    _, later = decide(store, new_alert())
    assert later.alerts_created == [] and later.outcome is Outcome.COOLDOWN


def test_a_cooldown_slot_whose_window_has_passed_is_taken_again(store):
    _, first = decide(store, new_alert(cooldown_s=0.0))
    _, second = decide(store, new_alert(cooldown_s=0.0))
    assert len(first.alerts_created) == len(second.alerts_created) == 1


def test_an_event_given_up_on_is_recorded_by_its_holder_only(store):
    store.heartbeat("w1")
    event_uuid = ingest(store)
    assert claimed(store, "w1") == [event_uuid]
    failed = entry(
        event_uuid, SignalDecision(outcome=Outcome.FAILED, reason="gave up after 6 attempts: boom")
    )
    assert not store.fail_event(event_uuid, "w2", failed)
    assert store.ledger_entries([event_uuid]) == []
    assert store.fail_event(event_uuid, "w1", failed)
    assert store.ledger_entries([event_uuid])[0]["outcome"] == "failed"
    assert claimed(store, "w2") == []


def test_history_is_the_accounts_recent_matched_events_newest_first(store):
    now = time.time()

    def record(account: str, ago_s: float, outcome: Outcome = Outcome.ALERTED) -> str:
        event_uuid = new_id()
        decided = entry(
            event_uuid,
            SignalDecision(signal="S", outcome=outcome, reason="r"),
            account=account,
            event_time=now - ago_s,
        )
        assert stored.finish(store, decided).committed
        return event_uuid

    record("acme.com", 10)
    current = record("acme.com", 0)
    record("acme.com", 20, Outcome.SNOOZED)
    record("acme.com", 5, Outcome.FILTERED)  # no signal matched: not history
    record("acme.com", 1000)  # before `since`
    record("other.example", 1)
    history = store.account_history("acme.com", now - 100, exclude_uuid=current)
    assert [(round(now - h.event_time), h.decisions[0].outcome) for h in history] == [
        (10, Outcome.ALERTED),
        (20, Outcome.SNOOZED),
    ]
