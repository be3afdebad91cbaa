"""What happened to an event: one outcome per signal that looked at it, the event's own outcome (the
most consequential of those), and the reason, worded once here for the ledger, `/metrics`, the demo,
`replay` and `/posthog test` alike.

The ledger keeps each decision as JSON (`[{signal, outcome, reason, score?, alert_id?, channel?}]`);
`SignalDecision` reads and writes exactly that shape, so entries written by any release stay readable.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from bot.config.durations import format_duration


class Outcome(StrEnum):
    """Ledger outcomes, most consequential first (see PRECEDENCE); then two that only describe a
    delivery that was never decided."""

    ALERTED = "alerted"
    FAILED = "failed"
    COOLDOWN = "cooldown"
    SNOOZED = "snoozed"
    ACCUMULATING = "accumulating"  # counted towards a threshold the account has not reached yet
    BELOW_THRESHOLD = "below_threshold"
    NO_ACCOUNT = "no_account"
    FILTERED = "filtered"
    DUPLICATE = "duplicate"  # a redelivered event.uuid: counted, never decided twice
    PENDING = "pending"  # accepted, not decided yet

    @property
    def label(self) -> str:
        """`below threshold`: how people read it."""
        return self.value.replace("_", " ")


PRECEDENCE: tuple[Outcome, ...] = (
    Outcome.ALERTED,
    Outcome.FAILED,
    Outcome.COOLDOWN,
    Outcome.SNOOZED,
    Outcome.ACCUMULATING,
    Outcome.BELOW_THRESHOLD,
    Outcome.NO_ACCOUNT,
    Outcome.FILTERED,
)


class SignalDecision(BaseModel):
    """What one signal decided about one event (or, without `signal`, what became of an event no
    signal could take)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    signal: str | None = None
    outcome: Outcome
    reason: str
    score: int | None = None
    alert_id: str | None = None
    channel: str | None = None

    @model_serializer(mode="wrap")
    def _absent_parts_left_out(self, serialize: SerializerFunctionWrapHandler) -> dict[str, object]:
        """The ledger's JSON shape: parts a decision does not have are left out."""
        return {key: value for key, value in serialize(self).items() if value is not None}


def overall(decisions: Iterable[SignalDecision]) -> Outcome:
    """The event's single outcome: the most consequential of its per-signal decisions."""
    present = {d.outcome for d in decisions}
    return next((outcome for outcome in PRECEDENCE if outcome in present), Outcome.FILTERED)


# -- reasons -----------------------------------------------------------------------------------------
NO_SIGNAL_LISTENS = "no signal listens to this event"
NO_ACCOUNT = "no company_domain, company group, work email or distinct_id"
TEST_COMMAND_EVENT = "a /posthog test event: shown to whoever sent it, never alerted"


def below_threshold(score: int, min_score: int) -> str:
    return f"ICP score {score} is below {min_score}"


def snoozed_until(until: float) -> str:
    return f"account snoozed until {datetime.fromtimestamp(until, UTC).strftime('%a %-d %b %H:%M UTC')}"


def in_cooldown(window_s: float) -> str:
    window = format_duration(timedelta(seconds=window_s))
    return f"this account already had this alert within its {window} cooldown"


def routed_to(channel: str, digest: bool = False) -> str:
    return f"routed to the {channel} digest" if digest else f"routed to {channel}"


def slack_refused(error: str) -> str:
    return f"Slack refused the alert: {error}"[:500]


def gave_up(attempts: int, summary: str) -> str:
    return f"gave up after {attempts} attempts: {summary}"


def a_test_command_event(signal: str) -> SignalDecision:
    """A `/posthog test` event back from PostHog: the signal it would have reached does not alert."""
    return SignalDecision(signal=signal, outcome=Outcome.FILTERED, reason=TEST_COMMAND_EVENT)


def no_signal_listens() -> SignalDecision:
    return SignalDecision(outcome=Outcome.FILTERED, reason=NO_SIGNAL_LISTENS)
