"""The facts an alert is made of: everything the summary and the Slack message may use, and nothing
else. Values are raw (unescaped) and untrusted; the builders escape them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.routing import RouteDecision
from bot.scoring import Score


@dataclass(frozen=True)
class PastSignal:
    """Something the account did before, from the ledger."""

    action: str  # "activated the API integration"
    event_time: float


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
