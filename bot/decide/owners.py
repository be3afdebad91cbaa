"""`owner: crm`: the Slack user who owns an account in HubSpot, found by a chain of lookups.

account domain -> HubSpot company (search by domain) -> its `hubspot_owner_id` -> the owner
(`GET /crm/v3/owners/{id}`: email, name) -> the Slack user with that email (`users.lookupByEmail`).

Each answer is cached for a day in the store's enrichment cache, per domain (`hubspot_owner`) and per
email (`slack_user`), including "there is none", so a busy account costs no HTTP. Failures that may
pass (no answer, 429, 5xx, Slack's `ratelimited`) are never cached: the next alert asks again. The whole
chain is bounded by a short timeout, and nothing here raises for an API's sake: the alert goes out on
time without an owner, and the note says which step failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from pydantic import BaseModel, ValidationError
from slack_sdk.errors import SlackApiError

from bot.clients.hubspot import HubSpot, HubSpotError
from bot.decide.domains import normalise_domain
from bot.decide.routing import RouteDecision
from bot.slack.ids import is_user_id

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.store import Store

log = logging.getLogger(__name__)

HUBSPOT_PROVIDER = "hubspot_owner"  # enrichment_cache provider: domain -> company and owner
SLACK_PROVIDER = "slack_user"  # enrichment_cache provider: email -> Slack user id
CACHE_TTL_S = 86400.0

StepStatus = Literal["ok", "missing", "failed"]


@dataclass(frozen=True)
class Step:
    """One lookup of the chain, as `check --online --owner-of` reports it."""

    name: str  # "HubSpot company", "HubSpot owner", "Slack user"
    status: StepStatus
    detail: str
    cached: bool = False


@dataclass(frozen=True)
class OwnerLookup:
    """What the chain found: the Slack user (None when a step failed), a note for the routing line,
    and the HubSpot owner the CRM task is assigned to (set even when Slack has no such user)."""

    slack_user: str | None
    note: str
    hubspot_owner_id: str | None = None
    steps: tuple[Step, ...] = ()


class _SlackUser(BaseModel):
    id: str
    deleted: bool = False
    is_bot: bool = False


class _Stop(Exception):
    """A step that ends the chain: the `Step` that `check --owner-of` lists, and the note for the routing
    line, which is the step's detail unless it needs more context to stand alone. `resolve` records the
    step. Raised before a transient failure is cached, so it never is."""

    def __init__(self, step: Step, note: str | None = None) -> None:
        self.step = step
        self.note = step.detail if note is None else note
        super().__init__(self.note)


class OwnerResolver:
    """Resolves `owner: crm` routes. `hubspot` None (no token) or `slack` None resolve to no owner,
    saying so; `store` None asks every time (`check --online --owner-of`)."""

    def __init__(
        self,
        store: Store | None,
        hubspot: HubSpot | None,
        slack: AsyncWebClient | None,
        timeout_s: float = 3.0,
        ttl_s: float = CACHE_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.hubspot = hubspot
        self.slack = slack
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s
        self.clock = clock
        self._inflight: dict[str, asyncio.Future[OwnerLookup]] = {}

    async def apply(self, decision: RouteDecision, domain: str | None) -> RouteDecision:
        """The route with its owner looked up, when the route says `owner: crm`; else unchanged.
        Events of one account decided at once share one lookup: a burst of a new account's events
        costs HubSpot one search, not one each (its search API allows a few a second)."""
        if not decision.owner_from_crm:
            return decision
        key = normalise_domain(domain) if domain else None
        if key is None:
            found = await self.resolve(domain)
        else:
            shared = self._inflight.get(key)
            if shared is None:
                shared = asyncio.ensure_future(self.resolve(domain))
                self._inflight[key] = shared
                shared.add_done_callback(lambda _: self._inflight.pop(key, None))
            found = await asyncio.shield(shared)  # one waiter giving up does not stop the others
        return replace(
            decision,
            owner=found.slack_user,
            owner_note=found.note,
            hubspot_owner_id=found.hubspot_owner_id,
        )

    async def resolve(self, domain: str | None) -> OwnerLookup:
        """Every step for this domain, bounded by `timeout_s`; never raises for HubSpot's or Slack's sake."""
        wanted = normalise_domain(domain) if domain else None
        if wanted is None:
            return OwnerLookup(None, "no account domain to find a HubSpot owner by")
        if self.hubspot is None:
            return OwnerLookup(None, "HubSpot is not configured (HUBSPOT_ACCESS_TOKEN)")
        steps: list[Step] = []
        owner_id: str | None = None
        stage = "HubSpot"
        try:
            async with asyncio.timeout(self.timeout_s):
                company = await self._company(wanted, steps)
                owner_id = company.get("owner_id")
                owner = company.get("owner")
                name = owner.get("name") or owner.get("email") or owner_id
                email = owner.get("email")
                if not email:
                    raise _Stop(Step("Slack user", "missing", f"HubSpot owner {name} has no email"))
                stage = "Slack"
                user = await self._slack_user(email, steps)
                return OwnerLookup(user, f"owner from HubSpot: {name}", owner_id, tuple(steps))
        except _Stop as stop:
            steps.append(stop.step)
            return OwnerLookup(None, stop.note, owner_id, tuple(steps))
        except TimeoutError:
            note = f"{stage} did not answer (timeout)"
            steps.append(Step(f"{stage} lookup", "failed", f"no answer within {self.timeout_s:g} s"))
            log.info("owner lookup for %s: %s", wanted, note)
            return OwnerLookup(None, note, owner_id, tuple(steps))

    # -- cache -------------------------------------------------------------------------------------
    async def _cached(self, provider: str, key: str) -> tuple[bool, dict[str, Any] | None]:
        if self.store is None:
            return False, None
        return await self.store.call(self.store.cache_get, provider, key, self.clock())

    async def _keep(self, provider: str, key: str, value: dict[str, Any] | None) -> None:
        """A definitive answer, found or not; transient failures never get here. Written on a thread:
        a commit waits for the disk, and the worker's loop has alerts to post meanwhile."""
        if self.store is not None:
            await asyncio.to_thread(self.store.cache_put, provider, key, value, self.ttl_s)

    # -- HubSpot -----------------------------------------------------------------------------------
    async def _company(self, domain: str, steps: list[Step]) -> dict[str, Any]:
        """The company and its owner, from the cache or HubSpot; `_Stop` when either is missing.

        The cached value is `{company_id, company_name, owner_id, owner: {email, name} | None}`, or
        None for "no company with this domain".
        """
        hit, value = await self._cached(HUBSPOT_PROVIDER, domain)
        if not hit:
            value = await self._ask_hubspot(domain, steps)
            await self._keep(HUBSPOT_PROVIDER, domain, value)
        elif value is not None:
            steps.append(Step("HubSpot company", "ok", _company_label(value), cached=True))
        if value is None:
            missing = Step("HubSpot company", "missing", f"none with domain {domain}", cached=hit)
            raise _Stop(missing, f"no HubSpot company for {domain}")
        owner_id = value.get("owner_id")
        if not owner_id:
            missing = Step("HubSpot owner", "missing", "the company has no owner", cached=hit)
            raise _Stop(missing, f"no HubSpot owner for {domain}")
        if not isinstance(value.get("owner"), dict):
            missing = Step("HubSpot owner", "missing", f"HubSpot has no owner {owner_id}", cached=hit)
            raise _Stop(missing, f"HubSpot owner {owner_id} of {domain} not found")
        owner = value["owner"]
        if hit:
            steps.append(Step("HubSpot owner", "ok", _owner_label(owner_id, owner), cached=True))
        return value

    async def _ask_hubspot(self, domain: str, steps: list[Step]) -> dict[str, Any] | None:
        assert self.hubspot is not None
        try:
            company = await self.hubspot.find_company(domain)
            if company is None:
                return None
            value: dict[str, Any] = {
                "company_id": company.id,
                "company_name": company.name,
                "owner_id": company.owner_id,
                "owner": None,
            }
            steps.append(Step("HubSpot company", "ok", _company_label(value)))
            if company.owner_id:
                owner = await self.hubspot.get_owner(company.owner_id)
                if owner is not None:
                    value["owner"] = {"email": owner.email, "name": owner.name}
                    steps.append(Step("HubSpot owner", "ok", _owner_label(company.owner_id, value["owner"])))
            return value
        except HubSpotError as exc:
            log.info("owner lookup for %s: %s", domain, exc)
            raise _Stop(Step("HubSpot lookup", "failed", _hubspot_note(exc))) from None

    # -- Slack -------------------------------------------------------------------------------------
    async def _slack_user(self, email: str, steps: list[Step]) -> str:
        key = email.strip().lower()
        hit, value = await self._cached(SLACK_PROVIDER, key)
        if not hit:
            value = await self._ask_slack(key, steps)
            await self._keep(SLACK_PROVIDER, key, value)
        user_id = value.get("user_id") if value else None
        if not isinstance(user_id, str):
            missing = Step("Slack user", "missing", f"no Slack user with email {email}", cached=hit)
            raise _Stop(missing, f"HubSpot owner {email} has no Slack user")
        steps.append(Step("Slack user", "ok", f"{user_id} ({email})", cached=hit))
        return user_id

    async def _ask_slack(self, email: str, steps: list[Step]) -> dict[str, Any] | None:
        """`{user_id}`, or None when Slack has no (active, human) member with this email."""
        if self.slack is None:
            raise _Stop(Step("Slack user", "failed", "no Slack client"), "Slack is not configured")
        try:
            response = await self.slack.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "error")
            if error in ("users_not_found", "user_not_found"):
                return None
            note = f"Slack refused the lookup ({error})"
            if error == "ratelimited":
                note = "Slack is rate limiting"
            raise _Stop(Step("Slack user", "failed", note)) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            note = "Slack did not answer" if isinstance(exc, TimeoutError) else "Slack could not be reached"
            raise _Stop(Step("Slack user", "failed", f"{note} ({type(exc).__name__})"), note) from None
        try:
            user = _SlackUser.model_validate(response.get("user"))
        except ValidationError:
            failed = Step("Slack user", "failed", "Slack answered without a user")
            raise _Stop(failed, "Slack answered users.lookupByEmail without a user") from None
        if user.deleted or user.is_bot or not is_user_id(user.id):
            return None
        return {"user_id": user.id}


def _company_label(value: dict[str, Any]) -> str:
    return f"{value.get('company_name') or 'unnamed'} ({value.get('company_id')})"


def _owner_label(owner_id: str, owner: dict[str, Any]) -> str:
    who = " ".join(str(p) for p in (owner.get("name"), owner.get("email") and f"<{owner['email']}>") if p)
    return f"{who or 'no name or email'} (id {owner_id})"


def _hubspot_note(exc: HubSpotError) -> str:
    """Which way HubSpot failed, short enough for the routing line."""
    if exc.status is None:
        if exc.category == "TIMEOUT":
            return "HubSpot did not answer (timeout)"
        return "HubSpot could not be reached"
    if exc.status == 429:
        return "HubSpot is rate limiting (429)"
    if exc.status >= 500:
        return f"HubSpot had a problem on its side ({exc.status})"
    return exc.explain()
