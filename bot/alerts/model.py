"""The facts an alert is made of: everything the summary and the Slack message may use, and nothing
else. Values are raw (unescaped) and untrusted; the builders escape them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.decide.routing import RouteDecision
from bot.decide.scoring import Score


class Written(BaseModel):
    """What the model writes; anything else is treated as a failure."""

    model_config = ConfigDict(extra="forbid")

    headline: str = Field(min_length=3, max_length=140)
    why_now: str = Field(min_length=10, max_length=400)
    next_step: str = Field(min_length=5, max_length=220)

    def text(self) -> str:
        return f"{self.why_now} Next step: {self.next_step}"


@dataclass(frozen=True)
class PastSignal:
    """Something the account did before, from the ledger."""

    action: str  # "activated the API integration"
    event_time: float


@dataclass(frozen=True)
class HeldBack:
    """Signals a snooze held back, told by the first alert after it ends."""

    count: int
    snoozed_by: str | None  # Slack user id
    until: float


@dataclass(frozen=True)
class AlertFacts:
    alert_id: str
    signal_name: str
    action: str  # "finished onboarding"
    priority: str
    event_name: str
    event_uuid: str
    event_time: float | None
    distinct_id: str | None
    person_name: str | None
    person_email: str | None
    account_key: str
    account_source: str
    company: dict[str, Any]
    properties: dict[str, Any]
    score: Score
    route: RouteDecision
    history: tuple[PastSignal, ...] = ()
    person_url: str | None = None
    event_url: str | None = None
    posthog_url: str | None = None
    now: float = 0.0
    held_back: HeldBack | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def company_name(self) -> str | None:
        name = self.company.get("name")
        return str(name) if isinstance(name, str | int) and str(name).strip() else None

    @property
    def account_label(self) -> str:
        """What to call the account: company name, domain, or the person."""
        if self.company_name:
            return self.company_name
        if self.company.get("domain"):
            return str(self.company["domain"])
        return self.person_name or self.person_email or self.distinct_id or self.account_key

    @property
    def plan(self) -> str | None:
        plan = self.properties.get("plan")
        return str(plan) if isinstance(plan, str | int) and str(plan).strip() else None


def alert_details(facts: AlertFacts, summary: str) -> dict[str, Any]:
    """What later actions on the alert need (a CRM task, message updates), kept with the alert so a
    click never has to trust anything but the alert id."""
    return {
        "signal": facts.signal_name,
        "priority": facts.priority,
        "account_label": facts.account_label,
        "domain": facts.company.get("domain"),
        "summary": summary,
        "score": facts.score.value,
        "breakdown": [
            {"name": r.name, "status": r.status, "points": r.points, "weight": r.weight, "detail": r.detail}
            for r in facts.score.breakdown
        ],
        "owner": facts.route.owner,
        "distinct_id": facts.distinct_id,
        "event_name": facts.event_name,
        "event_uuid": facts.event_uuid,
        "person_url": facts.person_url,
        "event_url": facts.event_url,
        "posthog_url": facts.posthog_url,
    }
