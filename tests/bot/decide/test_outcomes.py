"""Outcomes, their precedence and the ledger's JSON shape of a decision."""

from __future__ import annotations

import orjson
import pytest

from bot.decide.outcomes import (
    PRECEDENCE,
    Outcome,
    SignalDecision,
    below_threshold,
    in_cooldown,
    no_signal_listens,
    overall,
    slack_refused,
    snoozed_until,
)
from bot.store.records import LedgerEntry, apply_cooldowns, parse_decisions, to_json


def _decision(outcome: Outcome, signal: str = "S") -> SignalDecision:
    return SignalDecision(signal=signal, outcome=outcome, reason="because")


def test_the_most_consequential_outcome_wins_whatever_the_order() -> None:
    for index, outcome in enumerate(PRECEDENCE):
        weaker = [_decision(o) for o in PRECEDENCE[index:]]
        assert overall(reversed(weaker)) is outcome


def test_an_event_nothing_decided_is_filtered() -> None:
    assert overall([]) is Outcome.FILTERED


def test_delivery_outcomes_never_rank_in_the_ledger() -> None:
    assert Outcome.DUPLICATE not in PRECEDENCE and Outcome.PENDING not in PRECEDENCE
    assert set(Outcome) - set(PRECEDENCE) == {Outcome.DUPLICATE, Outcome.PENDING}


def test_labels_read_as_words() -> None:
    assert Outcome.BELOW_THRESHOLD.label == "below threshold"
    assert Outcome.NO_ACCOUNT.label == "no account"


def test_a_decision_is_stored_in_the_ledgers_shape() -> None:
    alerted = SignalDecision(
        signal="Trial finished onboarding",
        outcome=Outcome.ALERTED,
        reason="routed to C0AE1",
        score=80,
        alert_id="a1",
        channel="C0AE1",
    )
    assert orjson.loads(to_json([alerted, no_signal_listens()])) == [
        {
            "signal": "Trial finished onboarding",
            "outcome": "alerted",
            "reason": "routed to C0AE1",
            "score": 80,
            "alert_id": "a1",
            "channel": "C0AE1",
        },
        {"outcome": "filtered", "reason": "no signal listens to this event"},
    ]


def test_decisions_written_by_0_1_0_are_read_back() -> None:
    stored = (
        b'[{"signal": "S", "score": 35, "outcome": "below_threshold", "reason": "ICP score 35 is below 50"},'
        b' {"outcome": "filtered", "reason": "no signal listens to this event"}]'
    )
    first, second = parse_decisions(stored)
    assert (first.signal, first.outcome, first.score) == ("S", Outcome.BELOW_THRESHOLD, 35)
    assert second.signal is None and second.outcome is Outcome.FILTERED


def test_an_alert_that_lost_its_cooldown_slot_is_recorded_as_cooldown() -> None:
    entry = LedgerEntry.of(
        [
            SignalDecision(
                signal="S",
                outcome=Outcome.ALERTED,
                reason="routed to C1",
                score=70,
                alert_id="a1",
                channel="C1",
            ),
            _decision(Outcome.BELOW_THRESHOLD, signal="T"),
        ],
        event_uuid="e1",
        event_name="ev",
        distinct_id=None,
        account="acme.com",
        event_time=None,
        request_id="r1",
    )
    assert entry.outcome is Outcome.ALERTED
    cooled = apply_cooldowns(entry, {"S": 86400.0})
    assert cooled.outcome is Outcome.COOLDOWN
    first = cooled.signals[0]
    assert (first.outcome, first.alert_id, first.channel, first.score) == (Outcome.COOLDOWN, None, "C1", 70)
    assert first.reason == "this account already had this alert within its 1d cooldown"
    assert cooled.signals[1] == entry.signals[1]


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (below_threshold(35, 50), "ICP score 35 is below 50"),
        (in_cooldown(3600), "this account already had this alert within its 1h cooldown"),
        (snoozed_until(1_764_662_400), "account snoozed until Tue 2 Dec 08:00 UTC"),
        (slack_refused("channel_not_found"), "Slack refused the alert: channel_not_found"),
    ],
)
def test_reasons_are_worded_once(reason: str, text: str) -> None:
    assert reason == text


def test_a_long_slack_error_is_cut_to_fit_the_ledger() -> None:
    assert len(slack_refused("x" * 1000)) == 500
