"""Forgetting old ledger entries (`LEDGER_RETENTION_DAYS`), on SQLite and PostgreSQL: entries decided
before the cut go, oldest first, a batch per transaction, newer ones stay; the inbox rows and the
per-signal hours stay (so `stats` still counts the whole hours of an older period), and the forgotten
entries join the ledger's totals; an entry a snooze not yet reported holds back stays until an alert
has told about it."""

from __future__ import annotations

import time

from bot.decide.outcomes import Outcome, SignalDecision
from bot.store import Finish, InboxRow, TotalKey
from bot.store.stats import HOUR_S
from bot.store.tables import inbox, ledger, ledger_totals, signal_hours
from tests.support.stored import decide, entry, finish, ingest, new_alert, new_id, rows

DAY = 86_400.0


def decided_at(monkeypatch, store, at: float, *decisions: SignalDecision, account: str = "acme.com") -> str:
    """An event decided by the worker at `at` (its entry, and its count in `signal_hours`)."""
    uuid = new_id()
    with monkeypatch.context() as then:
        then.setattr(time, "time", lambda: at)
        finish(store, entry(uuid, *decisions, account=account))
    return uuid


def seen(signal: str, outcome: Outcome = Outcome.BELOW_THRESHOLD) -> SignalDecision:
    return SignalDecision(signal=signal, outcome=outcome, reason="r")


def kept(store) -> set[str]:
    return {r["event_uuid"] for r in rows(store, ledger)}


def test_entries_decided_before_the_cut_go_and_newer_ones_stay(store, monkeypatch):
    store.heartbeat("w1")
    now = time.time()
    old = [decided_at(monkeypatch, store, now - age * DAY, seen("A")) for age in (400, 396, 395.01)]
    new = [decided_at(monkeypatch, store, now - age * DAY, seen("A")) for age in (394.99, 30, 0)]
    store.add_totals({TotalKey(int(now - 400 * DAY) // 60 * 60, "ev", Outcome.FILTERED): 7})
    hours_before, counts_before = rows(store, signal_hours), store.outcome_counts()

    assert store.forget_ledger_entries(now - 395 * DAY) == 3
    assert kept(store) == set(new)
    # What makes a redelivery a duplicate and the per-signal hours stay; the forgotten entries join
    # the totals, so the events counted by outcome (a Prometheus counter) do not go down.
    assert {r["uuid"] for r in rows(store, inbox)} == set(old + new)
    assert store.ingest([InboxRow(old[0], "ev", b"{}", now, "r2")]) == set()
    assert rows(store, signal_hours) == hours_before
    assert store.outcome_counts() == counts_before
    assert sum(r["count"] for r in rows(store, ledger_totals)) == 7 + 3
    assert store.forget_ledger_entries(now - 395 * DAY) == 0


def test_a_big_ledger_goes_over_several_batches_oldest_first(store, monkeypatch):
    """Batches of 3: 11 old entries (7 of them decided in one commit, at one moment, as the worker
    commits a batch of events) go in four transactions; the entry decided at the cut stays."""
    store.heartbeat("w1")
    now = time.time()
    cut = now - 200 * DAY
    old = [decided_at(monkeypatch, store, cut - n * DAY, seen("A")) for n in range(1, 5)]
    together = [new_id() for _ in range(7)]
    for uuid in together:
        ingest(store, uuid)
    claimed = store.claim_events("w1", 7, 60)
    with monkeypatch.context() as then:
        then.setattr(time, "time", lambda: cut - 0.5)
        store.finish_events("w1", [Finish(c.uuid, entry(c.uuid, seen("A")), [], 1.0) for c in claimed])
    at_the_cut = decided_at(monkeypatch, store, cut, seen("A"))

    batches = []
    real_write = store._write

    def counted_write():
        batches.append(1)
        return real_write()

    monkeypatch.setattr(store, "_write", counted_write)
    assert store.forget_ledger_entries(cut, batch=3) == 11
    assert len(batches) == 4  # 3 + 3 + 3 + 2
    assert kept(store) == {at_the_cut}
    assert not set(old + together) & kept(store)


def test_entries_a_snooze_still_has_to_report_stay_until_an_alert_tells_about_them(store, monkeypatch):
    """An account snoozed 200 days ago that no alert has mentioned since: the next alert counts what
    the snooze held back, so those entries outlive the retention until it has."""
    store.heartbeat("w1")
    now = time.time()
    start = now - 200 * DAY
    with monkeypatch.context() as then:
        then.setattr(time, "time", lambda: start)
        snooze_id = store.snooze("held.example", start + 7 * DAY, "U0AE")
    held = [
        decided_at(monkeypatch, store, start + n * DAY, seen("A", Outcome.SNOOZED), account="held.example")
        for n in (1, 2)
    ]
    # Not held back by it: another outcome, another account, after the snooze ended.
    others = [
        decided_at(monkeypatch, store, start + DAY, seen("A"), account="held.example"),
        decided_at(monkeypatch, store, start + DAY, seen("A", Outcome.SNOOZED), account="other.example"),
        decided_at(monkeypatch, store, start + 8 * DAY, seen("A", Outcome.SNOOZED), account="held.example"),
    ]
    reported_before = store.account_state("held.example", now).ended_snooze

    assert store.forget_ledger_entries(now - 100 * DAY, batch=2) == 3
    assert kept(store) == set(held)
    assert store.account_state("held.example", now).ended_snooze == reported_before
    assert reported_before is not None and reported_before.held_back == 2

    decide(store, new_alert(account="held.example", reports_snooze=snooze_id))  # tells about them
    assert store.forget_ledger_entries(now - 100 * DAY) == 2
    assert not set(held + others) & kept(store)


def test_stats_of_a_period_past_the_retention_still_count_its_whole_hours(store, monkeypatch):
    """`stats` counts a period's whole hours from `signal_hours` and the part of an hour it starts
    (or ends) with from the ledger: once the entries are gone, a period older than the retention
    still counts its whole hours; only the entries of its part-hours are no longer counted."""
    store.heartbeat("w1")
    hour = (time.time() // HOUR_S - 500 * 24) * HOUR_S  # 500 days ago, on the hour
    for offset in (10, 1800, 3700, 7300):
        decided_at(monkeypatch, store, hour + offset, seen("A"), seen("B"))
    decided_at(monkeypatch, store, hour + 20, seen("A"))

    def events(since: float, until: float) -> dict[str, int]:
        return {s.signal: s.events for s in store.signal_stats(since, until) if s.events}

    before = (events(hour, hour + 3 * HOUR_S), events(hour + 900, hour + 3 * HOUR_S))
    assert before == ({"A": 5, "B": 4}, {"A": 3, "B": 3})
    assert store.forget_ledger_entries(time.time() - 395 * DAY) == 5
    assert kept(store) == set()
    assert events(hour, hour + 3 * HOUR_S) == {"A": 5, "B": 4}  # whole hours: as before
    assert events(hour, hour + 2 * HOUR_S + 1800) == {"A": 4, "B": 3}  # the part-hour at its end: lost
    assert events(hour + 900, hour + 3 * HOUR_S) == {"A": 2, "B": 2}  # the part-hour it starts with: lost


def test_nothing_to_forget_reads_nothing_and_deletes_nothing(store, monkeypatch):
    store.heartbeat("w1")
    now = time.time()
    recent = decided_at(monkeypatch, store, now - DAY, seen("A"))
    assert store.forget_ledger_entries(now - 395 * DAY) == 0
    assert kept(store) == {recent}
