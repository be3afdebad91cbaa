"""What the store knows of an account, on SQLite and PostgreSQL: its snoozes (one running at a time,
the first alert after one told what it held back, listed by the channel they were made in), when
each signal last alerted it, the enrichment cache and Claude's daily token budget."""

from __future__ import annotations

import time

from bot.decide.outcomes import Outcome, SignalDecision
from bot.store.account_state import AccountState, EndedSnooze
from tests.support.stored import decide, entry, finish, new_alert, new_id

HOUR = 3600.0


def record(store, account: str, outcome: Outcome) -> None:
    """A decided event of `account` in the ledger, as the worker records one."""
    decided = entry(new_id(), SignalDecision(signal="S", outcome=outcome, reason="r"), account=account)
    assert finish(store, decided).committed


def test_a_snooze_holds_the_account_until_it_ends(store):
    now = time.time()
    assert store.account_state("snoozed.example", now) == AccountState(None, {})
    snooze_id = store.snooze("snoozed.example", now + HOUR, "U0AE")
    assert store.account_state("snoozed.example", now).snoozed_until == now + HOUR
    after = store.account_state("snoozed.example", now + HOUR + 1)
    assert after.snoozed_until is None
    assert after.ended_snooze == EndedSnooze(snooze_id, "U0AE", now + HOUR, 0)
    assert store.account_state("other.example", now) == AccountState(None, {})


def test_the_first_alert_after_a_snooze_tells_how_many_signals_it_held_back_and_no_later_one(store):
    now = time.time()
    snooze_id = store.snooze("held.example", now + HOUR, "U0AE")
    record(store, "held.example", Outcome.SNOOZED)
    record(store, "held.example", Outcome.SNOOZED)
    record(store, "held.example", Outcome.FILTERED)  # not held back: no signal wanted it
    record(store, "other.example", Outcome.SNOOZED)
    ended = store.account_state("held.example", now + 2 * HOUR).ended_snooze
    assert ended is not None and (ended.id, ended.held_back) == (snooze_id, 2)

    decide(store, new_alert(account="held.example", reports_snooze=snooze_id))
    assert store.account_state("held.example", now + 2 * HOUR).ended_snooze is None


def test_a_new_snooze_replaces_the_running_one(store):
    now = time.time()
    longer = store.snooze("twice.example", now + 24 * HOUR, "U0AE")
    shorter = store.snooze("twice.example", now + HOUR, "U0OTHER")
    assert store.account_state("twice.example", now).snoozed_until == now + HOUR
    replaced = store.get_snooze(longer)
    assert replaced.until <= time.time() and replaced.reported == 1  # the new snooze reports for both
    ended = store.account_state("twice.example", now + 2 * HOUR).ended_snooze
    assert ended is not None and (ended.id, ended.snoozed_by) == (shorter, "U0OTHER")


def test_unsnooze_ends_a_running_snooze_once(store):
    snooze_id = store.snooze("unsnoozed.example", time.time() + HOUR, "U0AE", alert_id="a" * 32)
    ended = store.unsnooze(snooze_id)
    assert ended is not None
    assert (ended.id, ended.account, ended.snoozed_by, ended.alert_id) == (
        snooze_id,
        "unsnoozed.example",
        "U0AE",
        "a" * 32,
    )
    assert ended.until <= time.time()
    assert store.account_state("unsnoozed.example", time.time()).snoozed_until is None
    assert store.unsnooze(snooze_id) is None  # already over
    assert store.unsnooze("unknown") is None
    assert store.get_snooze("unknown") is None


def test_last_alerts_say_when_each_signal_last_alerted_the_account(store):
    before = time.time()
    decide(store, new_alert(signal="S", account="alerted.example"))
    decide(store, new_alert(signal="T", account="alerted.example"))
    last = store.account_state("alerted.example", time.time()).last_alerts
    assert set(last) == {"S", "T"} and all(before <= at <= time.time() for at in last.values())


def test_running_snoozes_are_listed_in_the_channel_of_the_alert_they_were_made_on(store):
    now = time.time()
    routed, moved = new_alert(account="one.example", channel="C0ONE"), new_alert(account="two.example")
    for alert in (routed, moved):
        decide(store, alert)
    assert store.claim_alert(moved.id, "w1", 60.0) is not None
    store.mark_posted(moved.id, "w1", "C0MOVED", "1.1")  # Slack put it elsewhere (a renamed channel)
    on_routed = store.snooze("one.example", now + HOUR, "U0AE", alert_id=routed.id)
    on_moved = store.snooze("two.example", now + 2 * HOUR, "U0AE", alert_id=moved.id)
    store.snooze("three.example", now + HOUR, "U0AE")  # made on no alert: no channel owns it
    store.snooze("four.example", now - 1, "U0AE", alert_id=routed.id)  # over already

    assert [s.id for s in store.active_snoozes(now, "C0ONE")] == [on_routed]
    assert [s.id for s in store.active_snoozes(now, "C0MOVED")] == [on_moved]
    assert [s.id for s in store.active_snoozes(now, "C0AE1")] == [on_moved]
    assert store.active_snoozes(now + 3 * HOUR, "C0ONE") == []


def test_the_enrichment_cache_remembers_answers_and_unknown_companies_until_they_expire(store):
    now = time.time()
    assert store.cache_get("http", "acme.com", now) == (False, None)
    store.cache_put("http", "acme.com", {"name": "Acme", "employees": 240}, 60.0)
    store.cache_put("http", "nobody.example", None, 60.0)
    assert store.cache_get("http", "acme.com", now) == (True, {"name": "Acme", "employees": 240})
    assert store.cache_get("http", "nobody.example", now) == (True, None)  # known to be unknown
    assert store.cache_get("other", "acme.com", now) == (False, None)
    assert store.cache_get("http", "acme.com", now + 61) == (False, None)

    store.cache_put("http", "acme.com", {"name": "Acme Corp"}, 60.0)
    assert store.cache_get("http", "acme.com", now) == (True, {"name": "Acme Corp"})


def test_claude_tokens_add_up_per_day(store):
    assert store.tokens_used("2026-12-06") == 0
    store.add_tokens("2026-12-06", 908)
    store.add_tokens("2026-12-06", 812)
    assert store.tokens_used("2026-12-06") == 1720
    assert store.tokens_used("2026-12-07") == 0


def test_the_states_of_several_accounts_are_read_at_once_each_as_if_read_alone(store):
    now = time.time()
    store.snooze("snoozed.example", now + HOUR, "U0AE")
    ended = store.snooze("ended.example", now + HOUR, "U0OTHER")
    record(store, "ended.example", Outcome.SNOOZED)
    decide(store, new_alert(account="cooled.example", signal="Signup"))
    decide(store, new_alert(account="cooled.example", signal="Upgrade"))
    accounts = ["snoozed.example", "ended.example", "cooled.example", "unknown.example"]
    later = now + 2 * HOUR

    states = store.account_states(accounts, later)

    assert states == {account: store.account_state(account, later) for account in accounts}
    assert states["snoozed.example"].snoozed_until is None  # over by then, and reported by no alert
    assert states["ended.example"].ended_snooze == EndedSnooze(ended, "U0OTHER", now + HOUR, 1)
    assert set(states["cooled.example"].last_alerts) == {"Signup", "Upgrade"}
    assert states["unknown.example"] == AccountState(None, {})
    assert store.account_states(accounts, now)["snoozed.example"].snoozed_until == now + HOUR
    assert store.account_states([], now) == {}


def test_an_account_key_longer_than_its_column_reads_its_own_state(store):
    """A person key can outgrow the 300 characters an account is stored in: its state is still
    read as its own, alone or in a batch."""
    now = time.time()
    long_key = "person:" + "d" * 393
    decide(store, new_alert(account=long_key, signal="Signup"))
    store.snooze(long_key, now + HOUR, "U0AE")
    state = store.account_state(long_key, now)
    assert set(state.last_alerts) == {"Signup"} and state.snoozed_until == now + HOUR
    assert store.account_states([long_key, "other.example"], now)[long_key] == state
