"""What the store takes and gives: plain records."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel

from bot.alerts.model import AlertDetails
from bot.decide.outcomes import Outcome, SignalDecision, in_cooldown, overall


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
    """An event a signal listens to, stored for the worker to decide."""

    uuid: str
    event_name: str
    payload: bytes
    received_at: float
    request_id: str


class TotalKey(NamedTuple):
    """What the ledger's totals count events by: those of one name in one minute with one outcome."""

    minute: int  # epoch seconds of the minute's start
    event_name: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    event_uuid: str
    event_name: str
    distinct_id: str | None
    account: str | None
    outcome: Outcome
    signals: list[SignalDecision]
    event_time: float | None
    request_id: str

    @classmethod
    def of(cls, decisions: list[SignalDecision], **fields: Any) -> LedgerEntry:
        """An entry whose outcome is the most consequential of `decisions`."""
        return cls(outcome=overall(decisions), signals=decisions, **fields)


@dataclass(frozen=True, slots=True)
class PastEntry:
    """A ledger entry of the account's recent past, for "also did X lately"."""

    event_time: float
    decisions: list[SignalDecision]


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    uuid: str
    payload: bytes
    attempts: int
    received_at: float
    request_id: str


@dataclass(slots=True)
class NewAlert:
    """An alert to commit: its details (kept with it: what message updates and a CRM task are made
    from), the message to post, and the cooldown slot it takes."""

    details: AlertDetails
    message: dict[str, Any]
    cooldown_s: float
    reports_snooze: str | None = None  # the ended snooze whose held-back signals this alert mentions

    @property
    def id(self) -> str:
        return self.details.alert_id

    @property
    def signal(self) -> str:
        return self.details.signal

    @property
    def account(self) -> str:
        return self.details.account_key

    @property
    def channel(self) -> str:
        return self.details.route.channel

    @property
    def owner(self) -> str | None:
        return self.details.route.owner

    @property
    def score(self) -> int:
        return self.details.score.value

    @property
    def threaded(self) -> bool:
        """Posted in the account's thread in its channel, when it has one."""
        return self.details.thread == "account" and not self.digested

    @property
    def digested(self) -> bool:
        """Waits for the channel's digest instead of being posted on its own."""
        return self.details.deliver == "digest"


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
    thread_of: str | None = None  # the alert whose thread this one is posted in
    auto_task: bool = False  # its CRM task is created once it is posted


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
    outcome: Outcome | None = None  # the event's final outcome, after cooldowns
    alerts_created: list[str] = field(default_factory=list)
    cooled_down: dict[str, float] = field(default_factory=dict)  # signal -> cooldown seconds


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_json(value: Any) -> str:
    return orjson.dumps(value, default=_plain).decode()


def parse_decisions(raw: str | bytes) -> list[SignalDecision]:
    """A ledger entry's decisions, from its JSON."""
    return [SignalDecision.model_validate(item) for item in orjson.loads(raw)]


def apply_cooldowns(entry: LedgerEntry, cooled: dict[str, float]) -> LedgerEntry:
    """The entry with every alert that lost its cooldown slot recorded as `cooldown` instead."""
    decisions = [
        d.model_copy(
            update={"outcome": Outcome.COOLDOWN, "reason": in_cooldown(cooled[d.signal]), "alert_id": None}
        )
        if d.outcome is Outcome.ALERTED and d.signal in cooled
        else d
        for d in entry.signals
    ]
    return replace(entry, outcome=overall(decisions), signals=decisions)
