"""What the store takes and gives: plain records, and how per-signal decisions sum up to one outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from bot.config.durations import format_duration


class StoreUnavailable(Exception):
    """The database could not take or give the data (locked, down, disk full)."""


_ROW_ERRORS = frozenset({"DataError", "IntegrityError"})


def is_row_error(error: Exception) -> bool:
    """Whether a failed transaction failed on what a row holds (a value the database refuses, a
    broken constraint) rather than on the database itself (down, locked, timed out). Both drivers'
    and SQLAlchemy's classes follow PEP 249's names."""
    if isinstance(error, UnicodeError | ValueError | TypeError):
        return True
    return any(kind.__name__ in _ROW_ERRORS for kind in type(error).__mro__)


@dataclass(frozen=True, slots=True)
class InboxRow:
    uuid: str
    event_name: str
    payload: bytes | None
    received_at: float
    request_id: str
    status: str  # "pending" for the worker, "done" when decided at ingest


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    event_uuid: str
    event_name: str
    distinct_id: str | None
    account: str | None
    outcome: str
    signals: list[dict[str, Any]]
    event_time: float | None
    request_id: str


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    uuid: str
    payload: bytes
    attempts: int
    received_at: float
    request_id: str


@dataclass(slots=True)
class NewAlert:
    id: str
    signal: str
    account: str
    channel: str
    owner: str | None
    score: int
    message: dict[str, Any]
    cooldown_s: float
    details: dict[str, Any] = field(default_factory=dict)  # what a CRM task and message updates need
    reports_snooze: str | None = None  # the ended snooze whose held-back signals this alert mentions


@dataclass(frozen=True, slots=True)
class ClaimedAlert:
    id: str
    event_uuid: str
    signal: str
    account: str
    channel: str
    message: dict[str, Any]
    attempts: int
    received_at: float
    request_id: str
    sending_since: float | None  # set when a previous claimer may have reached Slack
    created_at: float


@dataclass(frozen=True, slots=True)
class Finish:
    """A decided event to commit: its ledger entry and the alerts that should go out."""

    uuid: str
    entry: LedgerEntry
    alerts: list[NewAlert]
    received_at: float


@dataclass
class Commit:
    """What a finished event commits: its ledger entry and the alerts that passed every check."""

    committed: bool
    outcome: str = ""  # the event's final outcome, after cooldowns
    alerts_created: list[str] = field(default_factory=list)
    cooled_down: dict[str, float] = field(default_factory=dict)  # signal -> cooldown seconds


def to_json(value: Any) -> str:
    return orjson.dumps(value).decode()


OUTCOME_PRECEDENCE = ("alerted", "failed", "cooldown", "snoozed", "below_threshold", "no_account", "filtered")


def summarise_outcomes(decisions: Sequence[dict[str, Any]]) -> str:
    """The event's single outcome: the most consequential of its per-signal decisions."""
    outcomes = {d.get("outcome") for d in decisions}
    for outcome in OUTCOME_PRECEDENCE:
        if outcome in outcomes:
            return outcome
    return "filtered"


def cooldown_reason(window_s: float) -> str:
    window = format_duration(timedelta(seconds=window_s))
    return f"this account already had this alert within its {window} cooldown"


def apply_cooldowns(entry: LedgerEntry, cooled: dict[str, float]) -> LedgerEntry:
    decisions = []
    for decision in entry.signals:
        signal = decision.get("signal")
        if signal in cooled and decision.get("outcome") == "alerted":
            decision = {**decision, "outcome": "cooldown", "reason": cooldown_reason(cooled[signal])}
            decision.pop("alert_id", None)
        decisions.append(decision)
    return LedgerEntry(
        event_uuid=entry.event_uuid,
        event_name=entry.event_name,
        distinct_id=entry.distinct_id,
        account=entry.account,
        outcome=summarise_outcomes(decisions),
        signals=decisions,
        event_time=entry.event_time,
        request_id=entry.request_id,
    )
