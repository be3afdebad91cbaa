"""An alert's typed contracts. `AlertFacts`: what the pipeline decided the alert is about, everything
a summary may use and nothing else. `AlertDetails`: the alert as composed (facts, summary), stored
with it. `AlertState`: what people have done with it since. Values are raw (unescaped) and
untrusted; the builders escape them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from bot.decide.routing import RouteDecision
from bot.decide.scoring import Score
from bot.slack.ids import FeedbackReason

Priority = Literal["low", "medium", "high"]
ThreadMode = Literal["account", "none"]
DeliverMode = Literal["now", "digest"]


# A query row's columns that say whose row it is (the account, the person): shown by the alert's
# header and event line and named by the summary, so never repeated as the row's own fields.
QUERY_IDENTITY = ("account", "distinct_id")


def query_columns(query: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """A query row's own columns, in order: all but those that say whose row it is."""
    return [(name, value) for name, value in (query or {}).items() if name not in QUERY_IDENTITY]


def compact_json(value: Any, unreadable: str) -> str:
    """A column's value that is not plain text, as compact JSON (`unreadable` when it cannot be)."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):
        return unreadable


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
class Reached:
    """What an account-level threshold reached, told by the alert that fired on it."""

    what: str  # "5 invite_sent in 7 days by 3 people"
    latest: tuple[tuple[str | None, float], ...] = ()  # (distinct_id, event time), newest first


@dataclass(frozen=True)
class AlertFacts:
    alert_id: str
    signal_name: str
    action: str  # "finished onboarding"
    priority: Priority
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
    reached: Reached | None = None
    query: dict[str, Any] | None = None  # a scheduled query's row: its columns, shown as fields
    thread: ThreadMode = "account"
    deliver: DeliverMode = "now"
    auto_task: bool = False  # the signal's `auto_task` applies: its score reached `min_score`

    @property
    def company_name(self) -> str | None:
        return _company_name(self.company)

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


class PostedContent(BaseModel):
    """An alert as 0.1.0 posted it, above its controls: that release did not keep an alert's facts
    whole, so the message of such an alert keeps showing what was posted (bot/store/migrations 0002)."""

    model_config = ConfigDict(frozen=True)

    text: str
    blocks: list[dict[str, Any]]


class AlertDetails(BaseModel):
    """The alert as composed: everything its message and the actions on it need. Kept with the alert,
    so a click trusts nothing but the alert id, and every update of the message is built anew from
    it (with the alert's state) by the same builder that built the first one."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    signal: str
    priority: Priority = "medium"
    account_key: str
    account_label: str
    account_source: str
    company: dict[str, Any] = Field(default_factory=dict)
    plan: str | None = None
    score: Score
    route: RouteDecision
    event_name: str
    event_uuid: str
    event_time: float | None = None
    distinct_id: str | None = None
    person_name: str | None = None
    person_email: str | None = None
    person_url: str | None = None
    event_url: str | None = None
    posthog_url: str | None = None
    summary: str
    written: Written | None = None  # Claude's words, when it wrote the summary
    held_back: HeldBack | None = None
    reached: Reached | None = None  # the threshold the alert fired on
    query: dict[str, Any] | None = None  # the query row the alert is about (query signals)
    posted: PostedContent | None = None  # alerts posted by 0.1.0 only
    thread: ThreadMode = "none"  # alerts stored before threads never took part in one
    deliver: DeliverMode = "now"
    auto_task: bool = False  # its CRM task is created as soon as it is posted

    @classmethod
    def of(cls, facts: AlertFacts, summary: str, written: Written | None = None) -> AlertDetails:
        return cls(
            alert_id=facts.alert_id,
            signal=facts.signal_name,
            priority=facts.priority,
            account_key=facts.account_key,
            account_label=facts.account_label,
            account_source=facts.account_source,
            company=facts.company,
            plan=facts.plan,
            score=facts.score,
            route=facts.route,
            event_name=facts.event_name,
            event_uuid=facts.event_uuid,
            event_time=facts.event_time,
            distinct_id=facts.distinct_id,
            person_name=facts.person_name,
            person_email=facts.person_email,
            person_url=facts.person_url,
            event_url=facts.event_url,
            posthog_url=facts.posthog_url,
            summary=summary,
            written=written,
            held_back=facts.held_back,
            reached=facts.reached,
            query=facts.query,
            thread=facts.thread,
            deliver=facts.deliver,
            auto_task=facts.auto_task,
        )

    @property
    def company_name(self) -> str | None:
        return _company_name(self.company)

    @property
    def domain(self) -> str | None:
        domain = self.company.get("domain")
        return domain if isinstance(domain, str) and domain else None

    @property
    def owner(self) -> str | None:
        """The routed Slack owner."""
        return self.route.owner


# -- what has been done with the alert ----------------------------------------------------------------
class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class TaskShown(_Part):
    AUTO: ClassVar[str] = "auto"  # `by` of the signal's auto_task (never a Slack user id)

    by: str  # Slack user id of who asked for it, or AUTO
    url: str | None = None
    crm: Literal["hubspot", "store"] | None = None

    @computed_field  # still written with the state, for a process of an earlier release reading it
    @property
    def auto(self) -> bool:
        """Created by the signal's auto_task, not by a click."""
        return self.by == self.AUTO


class SnoozeShown(_Part):
    id: str
    by: str | None = None
    until: float


class UnsnoozeShown(_Part):
    by: str


class ThreadShown(_Part):
    """What the first alert of a thread says of the alerts posted in its thread since."""

    replies: int
    latest_signal: str
    latest_at: float


class FeedbackShown(_Part):
    by: str
    reason: FeedbackReason
    text: str | None = None


class AlertState(_Part):
    """What the message shows was done with the alert. `version` grows with every change, so each
    update gets new block ids (Slack clients then drop a stale select choice)."""

    task: TaskShown | None = None
    snooze: SnoozeShown | None = None
    unsnoozed: UnsnoozeShown | None = None
    feedback: FeedbackShown | None = None
    thread: ThreadShown | None = None
    auto_task_error: str | None = None  # why the automatic task failed (the button stays)
    version: int = 0

    def with_task(self, task: TaskShown) -> AlertState:
        return self.model_copy(update={"task": task, "auto_task_error": None})

    def auto_task_failed(self, error: str) -> AlertState:
        return self.model_copy(update={"auto_task_error": error})

    def snoozed(self, snooze: SnoozeShown) -> AlertState:
        return self.model_copy(update={"snooze": snooze, "unsnoozed": None})

    def unsnoozed_by(self, user: str) -> AlertState:
        return self.model_copy(update={"snooze": None, "unsnoozed": UnsnoozeShown(by=user)})

    def with_feedback(self, feedback: FeedbackShown) -> AlertState:
        return self.model_copy(update={"feedback": feedback})

    def with_thread(self, thread: ThreadShown) -> AlertState:
        return self.model_copy(update={"thread": thread})


def _company_name(company: dict[str, Any]) -> str | None:
    name = company.get("name")
    return str(name) if isinstance(name, str | int) and str(name).strip() else None
