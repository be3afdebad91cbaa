"""From a stored event to a decision: which signals match, whose account it is, what we know of the
company, how it scores, whether a snooze or cooldown holds it, and, for each signal that passes, the
facts of the routed alert. Words and Block Kit are made from those facts in bot/alerts/compose.

The decision is returned, not applied: the worker commits it atomically (where cooldowns are
enforced), so this module does reads only and can be re-run safely after a crash.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.alerts.model import AlertFacts, HeldBack, PastSignal, Reached
from bot.clients.posthog_writer import WriteBack
from bot.config.signals_file import Signal, SignalsConfig, Threshold
from bot.decide.accounts import Account, person_email, resolve_account
from bot.decide.enrich import Company, Enricher
from bot.decide.markers import is_test_command_event
from bot.decide.matching import all_conditions_hold, describe_condition, lookup
from bot.decide.outcomes import (
    NO_ACCOUNT,
    Outcome,
    SignalDecision,
    a_test_command_event,
    below_threshold,
    in_cooldown,
    no_signal_listens,
    routed_to,
    snoozed_until,
)
from bot.decide.persons import PersonLookup, needs_person
from bot.decide.routing import RouteDecision, route
from bot.decide.scoring import Score, score
from bot.decide.thresholds import Tally, contribution, progress, reached, reached_phrase
from bot.ingest.webhook_body import WebhookBody, WebhookPerson, parse_timestamp
from bot.store import ClaimedEvent, LedgerEntry, Store
from bot.store.account_state import AccountState

if TYPE_CHECKING:
    from bot.decide.owners import OwnerResolver

HISTORY_WINDOW_S = 30 * 86400
_LATE_ROOTS = ("company.", "account.")
WRITEBACK_FIELDS = ("name", "domain", "employees", "industry", "funding_stage", "country", "tech_stack")


@dataclass(frozen=True)
class AlertPlan:
    """An alert the event earned: its facts, and what committing it takes."""

    facts: AlertFacts
    cooldown_s: float
    reports_snooze: str | None = None  # the ended snooze whose held-back signals this alert tells


@dataclass(frozen=True)
class Prepared:
    """A claimed batch read ahead of deciding it: bodies by event uuid, account states by key."""

    bodies: Mapping[str, WebhookBody]
    states: Mapping[str, AccountState]


@dataclass
class Decision:
    """What happened to one event and why (its ledger entry), the alerts it earned, and what to
    write back to PostHog. No Slack, no prose: bot/alerts composes those."""

    entry: LedgerEntry
    alerts: list[AlertPlan]
    writeback: WriteBack | None = None


def build_context(body: WebhookBody, account: Account | None, company: Mapping[str, Any]) -> dict[str, Any]:
    """The namespace that `where`, `when` and ICP paths read: event.*, properties.*, person.*, company.*,
    query.* (a query row's columns)."""
    event = body.event
    person = dict(body.person.properties) if body.person else {}
    email = person_email(body)
    if email and "email" not in person:
        person["email"] = email
    return {
        "event": {
            "event": event.event,
            "uuid": event.uuid,
            "distinct_id": event.distinct_id,
            "timestamp": event.timestamp,
            "properties": event.properties,
        },
        "properties": event.properties,
        "person": person,
        "company": dict(company),
        "groups": body.groups or {},
        "query": dict(body.query_row or {}),  # a scheduled query's columns (bot/schedule)
        "account": {"key": account.key, "domain": account.domain, "source": account.source}
        if account
        else {},
    }


def _split_where(signal: Signal) -> tuple[dict[str, Any], dict[str, Any]]:
    early = {k: v for k, v in signal.where.items() if not k.startswith(_LATE_ROOTS)}
    late = {k: v for k, v in signal.where.items() if k.startswith(_LATE_ROOTS)}
    return early, late


def _why_not(conditions: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    for path, expected in conditions.items():
        if not all_conditions_hold({path: expected}, context):
            actual = lookup(context, path)
            shown = (
                "missing"
                if actual is None or not isinstance(actual, str | int | float | bool)
                else repr(actual)
            )
            return f"needs {describe_condition(path, expected)} (got {shown})"[:300]
    return "conditions not met"


def _person_name(person: WebhookPerson | None) -> str | None:
    """The person's own name when PostHog has one; else PostHog's display name (often the email)."""
    if person is None:
        return None
    name = person.properties.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    return person.name or None


def action_phrase(signal: Signal) -> str:
    return signal.action or f"triggered “{signal.name}”"


def _scored(signal: Signal, icp: Score, outcome: Outcome, reason: str) -> SignalDecision:
    return SignalDecision(signal=signal.name, outcome=outcome, reason=reason, score=icp.value)


class Pipeline:
    def __init__(
        self,
        config: SignalsConfig,
        store: Store,
        enricher: Enricher,
        posthog_app_host: str,
        project_id: str | None = None,
        clock: Callable[[], float] = time.time,
        owners: OwnerResolver | None = None,
        persons: PersonLookup | None = None,
    ):
        self.config = config
        self.owners = owners  # looks up `owner: crm` routes; without it they have no owner
        self.persons = persons  # a query row's person from PostHog; without it the row has none
        self.store = store
        self.enricher = enricher
        self.app_host = posthog_app_host.rstrip("/")
        self.project_id = project_id
        self.clock = clock
        self._actions = {s.name: action_phrase(s) for s in config.signals}
        self._events = {s.event for s in config.signals}

    async def prepare(self, claimed: Sequence[ClaimedEvent]) -> Prepared:
        """Read a claimed batch ahead of deciding it: each event's body, and the state of every account
        the batch names in one read (a read costs a round trip on PostgreSQL, however many accounts
        it returns). An event whose body does not parse is left for `decide` to report."""
        bodies: dict[str, WebhookBody] = {}
        keys: set[str] = set()
        for event in claimed:
            try:
                body = WebhookBody.model_validate_json(event.payload)
            except ValueError:
                continue
            bodies[event.uuid] = body
            if body.event.event in self._events and not is_test_command_event(body.event.properties):
                if self.persons is not None and needs_person(body):
                    continue  # its account is known once its person is: `evaluate` reads its state
                account = resolve_account(body)
                if account is not None:
                    keys.add(account.key)
        states = await self.store.call(self.store.account_states, keys, self.clock()) if keys else {}
        return Prepared(bodies, states)

    async def decide(self, claimed: ClaimedEvent, prepared: Prepared | None = None) -> Decision:
        body = prepared.bodies.get(claimed.uuid) if prepared is not None else None
        if body is None:
            body = WebhookBody.model_validate_json(claimed.payload)
        states = prepared.states if prepared is not None else None
        return await self.evaluate(body, claimed.received_at, claimed.request_id, states, record=True)

    async def evaluate(
        self,
        body: WebhookBody,
        received_at: float,
        request_id: str,
        states: Mapping[str, AccountState] | None = None,
        record: bool = False,
        as_if_real: bool = False,
    ) -> Decision:
        """The decision for one event. Without `record` it has no side effects but the enrichment
        cache: how a dry run (`/posthog test`, `replay`) shows what would happen. With it (the
        worker), the event is counted towards its thresholds, once however often it is decided.
        `states` holds account states already read (`prepare`); any other is read now.

        An event `/posthog test` captured (bot/decide/markers) never alerts when PostHog sends it
        back: each signal it reaches records why, and nothing is counted, enriched or written back.
        `as_if_real` is the command's own dry run, which shows what the event would produce."""
        event = body.event
        now = self.clock()
        event_time = body.event_time or received_at
        decisions: list[SignalDecision] = []

        def entry(account: Account | None) -> LedgerEntry:
            return LedgerEntry.of(
                decisions,
                event_uuid=event.uuid,
                event_name=event.event,
                distinct_id=event.distinct_id,
                account=account.key if account else None,
                event_time=event_time,
                request_id=request_id,
            )

        candidates = [s for s in self.config.signals if s.event == event.event]
        if candidates and self.persons is not None:
            body = await self.persons.with_person(body)  # a query row's person: `person.*`, the account
        early_context = build_context(body, None, {})
        passing: list[tuple[Signal, dict[str, Any]]] = []
        for signal in candidates:
            early, late = _split_where(signal)
            if all_conditions_hold(early, early_context):
                passing.append((signal, late))
            else:
                reason = _why_not(early, early_context)
                decisions.append(SignalDecision(signal=signal.name, outcome=Outcome.FILTERED, reason=reason))
        if not candidates:
            decisions.append(no_signal_listens())
        if passing and not as_if_real and is_test_command_event(event.properties):
            decisions += [a_test_command_event(signal.name) for signal, _ in passing]
            passing = []
        if not passing:
            # The account is still named (a pure read of the body), so `why` finds what was filtered.
            return Decision(entry(resolve_account(body) if candidates else None), [])

        account = resolve_account(body)
        if account is None:
            decisions += [
                SignalDecision(signal=signal.name, outcome=Outcome.NO_ACCOUNT, reason=NO_ACCOUNT)
                for signal, _ in passing
            ]
            return Decision(entry(None), [])

        company = await self.enricher.company(account)
        context = build_context(body, account, company.fields)
        icp = score(self.config.icp, context)
        state = states.get(account.key) if states is not None else None
        if state is None:
            state = await self.store.call(self.store.account_state, account.key, now)

        alerts: list[AlertPlan] = []
        history: tuple[PastSignal, ...] | None = None
        routed: RouteDecision | None = None  # one route per event, decided for its first alert
        for signal, late in passing:
            if not all_conditions_hold(late, context):
                reason = _why_not(late, context)
                decisions.append(SignalDecision(signal=signal.name, outcome=Outcome.FILTERED, reason=reason))
                continue
            reached_what: Reached | None = None
            threshold = signal.threshold
            if threshold is not None:
                tally = await self._count(signal, threshold, account, body, context, event_time, record)
                if not reached(threshold, tally):
                    why = progress(threshold, tally, event.event)
                    decisions.append(_scored(signal, icp, Outcome.ACCUMULATING, why))
                    continue
                reached_what = Reached(reached_phrase(threshold, tally, event.event), tally.latest)
            held = self._held(signal, icp, state, now)
            if held is not None:
                decisions.append(held)
                continue
            if history is None:
                history = await self._history(account, event.uuid, now)
            if routed is None:
                routed = await self._route(context, account)
            facts = self._facts(
                signal, body, account, company, icp, context, history, event_time, now, state, routed
            )
            if reached_what is not None:
                facts = replace(facts, reached=reached_what)
            alerts.append(
                AlertPlan(
                    facts,
                    signal.cooldown.total_seconds(),
                    state.ended_snooze.id if state.ended_snooze else None,
                )
            )
            channel = facts.route.channel
            decisions.append(
                _scored(
                    signal, icp, Outcome.ALERTED, routed_to(channel, signal.deliver == "digest")
                ).model_copy(update={"alert_id": facts.alert_id, "channel": channel})
            )
        return Decision(entry(account), alerts, self._writeback(body, account, company, icp))

    @staticmethod
    def _held(signal: Signal, icp: Score, state: AccountState, now: float) -> SignalDecision | None:
        """Why this signal may not alert the account now, if it may not."""
        if icp.value < signal.min_score:
            return _scored(signal, icp, Outcome.BELOW_THRESHOLD, below_threshold(icp.value, signal.min_score))
        if state.snoozed_until is not None:
            return _scored(signal, icp, Outcome.SNOOZED, snoozed_until(state.snoozed_until))
        window = signal.cooldown.total_seconds()
        until = state.cooldown_until(signal.name, window)
        if until is not None and now < until:
            # Settled early to skip composing an alert; the commit re-checks atomically.
            return _scored(signal, icp, Outcome.COOLDOWN, in_cooldown(window))
        return None

    async def _count(
        self,
        signal: Signal,
        threshold: Threshold,
        account: Account,
        body: WebhookBody,
        context: Mapping[str, Any],
        event_time: float,
        record: bool,
    ) -> Tally:
        """The account's window the event reached for a threshold signal (the event kept, with
        `record`)."""
        counted = contribution(threshold, body.event.uuid, event_time, body.event.distinct_id, context)
        count = self.store.count_towards
        return await self.store.call(count, signal.name, account.key, counted, threshold, record)

    async def _history(self, account: Account, exclude: str, now: float) -> tuple[PastSignal, ...]:
        rows = await self.store.call(self.store.account_history, account.key, now - HISTORY_WINDOW_S, exclude)
        return tuple(
            PastSignal(self._actions.get(d.signal, f"triggered “{d.signal}”"), row.event_time)
            for row in rows
            if row.event_time is not None
            for d in row.decisions
            if d.signal and d.outcome is not Outcome.FILTERED
        )

    async def _route(self, context: Mapping[str, Any], account: Account) -> RouteDecision:
        """The route, its owner looked up in the CRM when it says `owner: crm` (only for an event that
        alerts: the lookup may cost HTTP calls, bounded and cached by the resolver)."""
        decided = route(self.config.routing, context)
        if not decided.owner_from_crm:
            return decided
        if self.owners is None:
            return replace(decided, owner_note="the owner lookup is not configured")
        domain = account.domain or lookup(context, "company.domain")
        return await self.owners.apply(decided, domain if isinstance(domain, str) else None)

    def _links(self, body: WebhookBody) -> tuple[str | None, str | None, str]:
        person_url = body.person.url if body.person else None
        event_url = body.event.url
        if person_url:
            return person_url, event_url, person_url
        project = f"/project/{quote(self.project_id, safe='')}" if self.project_id else ""
        distinct = quote(body.event.distinct_id or "", safe="")
        fallback = f"{self.app_host}{project}/person/{distinct}" if distinct else (event_url or self.app_host)
        return None, event_url, fallback

    def _facts(
        self,
        signal: Signal,
        body: WebhookBody,
        account: Account,
        company: Company,
        icp: Score,
        context: Mapping[str, Any],
        history: tuple[PastSignal, ...],
        event_time: float,
        now: float,
        state: AccountState,
        routed: RouteDecision,
    ) -> AlertFacts:
        ended = state.ended_snooze
        person_url, event_url, posthog_url = self._links(body)
        return AlertFacts(
            alert_id=uuid.uuid4().hex,
            signal_name=signal.name,
            action=self._actions[signal.name],
            priority=signal.priority,
            event_name=body.event.event,
            event_uuid=body.event.uuid,
            event_time=parse_timestamp(body.event.timestamp) or event_time,
            distinct_id=body.event.distinct_id,
            person_name=_person_name(body.person),
            person_email=person_email(body),
            account_key=account.key,
            account_source=account.source,
            company=company.fields,
            properties=body.event.properties,
            score=icp,
            route=routed,
            history=history,
            person_url=person_url,
            event_url=event_url,
            posthog_url=posthog_url,
            now=now,
            held_back=HeldBack(ended.held_back, ended.snoozed_by, ended.until) if ended else None,
            query=body.query_row,
            thread=signal.thread,
            deliver=signal.deliver,
            auto_task=signal.auto_task is not None and icp.value >= signal.auto_task.min_score,
        )

    @staticmethod
    def _writeback(body: WebhookBody, account: Account, company: Company, icp: Score) -> WriteBack | None:
        learned = [s for s in company.sources if s != "PostHog group"]
        if not learned:
            return None
        fields = {
            k: company.fields[k] for k in WRITEBACK_FIELDS if company.fields.get(k) not in (None, "", [])
        }
        person = {f"company_{k}": v for k, v in fields.items()}
        person["icp_score"] = icp.value
        group = {**fields, "icp_score": icp.value} if account.group_key else {}
        return WriteBack(
            distinct_id=body.event.distinct_id, person=person, group_key=account.group_key, group=group
        )
