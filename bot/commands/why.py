"""`/posthog why <domain | email | distinct_id>`: why an account did or did not alert. Its latest
events from the ledger (each signal's outcome and reason), the score it would get now with its
breakdown, and any snooze or cooldown in force: what an AE asks when they expected an alert and got
none. Reads only; the words and blocks are made in bot/slack/blocks/why.py."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bot.config.signals_file import SignalsConfig
from bot.decide.accounts import Account, person_key
from bot.decide.domains import is_free_mail, normalise_domain
from bot.decide.enrich import Enricher
from bot.decide.scoring import Score, score
from bot.store import Store
from bot.store.why import StoryEntry

STORY_LENGTH = 20


@dataclass(frozen=True)
class Target:
    """Whom `why` asks about: the account keys and distinct ids whose ledger entries tell the story."""

    label: str
    accounts: tuple[str, ...]
    distinct_ids: tuple[str, ...]
    domain: str | None = None
    email: str | None = None


def target_of(text: str) -> Target:
    """A domain is an account; an email is its company's domain (unless free mail) and the person; any
    other text is a distinct id, the account of a person without a company."""
    typed = text.strip()
    if "@" in typed and "/" not in typed:
        email = typed.lower()
        domain = normalise_domain(email.rsplit("@", 1)[1])
        company = domain if domain and not is_free_mail(domain) else None
        accounts = ((company,) if company else ()) + (person_key(typed),)
        ids = tuple(dict.fromkeys((typed, email)))
        return Target(typed, accounts, ids, company, email)
    domain = normalise_domain(typed)
    if domain and "." in domain:
        return Target(domain, (domain,), (), domain, None)
    return Target(typed, (person_key(typed),), (typed,), None, None)


@dataclass(frozen=True)
class Cooldown:
    signal: str
    until: float


@dataclass(frozen=True)
class Story:
    """Everything `why` says, unescaped; the builder escapes."""

    target: Target
    entries: list[StoryEntry]
    score: Score | None  # what the account scores now, when it has a company to score
    company_name: str | None
    snoozed_until: float | None
    cooldowns: list[Cooldown]
    now: float


async def with_their_account(target: Target, store: Store) -> Target:
    """A bare distinct id asks about a person whose events may have been counted for a company: the
    story is then that account's (its events, score, snooze and cooldowns) with the person's own."""
    if target.domain or target.email or len(target.distinct_ids) != 1:
        return target
    account = await asyncio.to_thread(store.account_of, target.distinct_ids[0])
    if not account:
        return target
    domain = normalise_domain(account) if "." in account and ":" not in account else None
    label = f"{target.label} ({account})"
    return Target(label, (account, *target.accounts), target.distinct_ids, domain or None, None)


async def account_story(
    target: Target, config: SignalsConfig, store: Store, enricher: Enricher, now: float | None = None
) -> Story:
    now = time.time() if now is None else now
    target = await with_their_account(target, store)
    entries = await asyncio.to_thread(store.account_story, target.accounts, target.distinct_ids, STORY_LENGTH)
    key = target.domain or target.accounts[0]
    state = await asyncio.to_thread(store.account_state, key, now)
    ends = (
        (signal.name, state.cooldown_until(signal.name, signal.cooldown.total_seconds()))
        for signal in config.signals
    )
    cooldowns = sorted(
        (Cooldown(name, until) for name, until in ends if until is not None and until > now),
        key=lambda c: c.until,
    )
    icp: Score | None = None
    company_name: str | None = None
    if target.domain:
        company = await enricher.company(Account(key=target.domain, domain=target.domain, source="why"))
        person = {"email": target.email} if target.email else {}
        icp = score(config.icp, {"company": dict(company.fields), "person": person})
        name = company.fields.get("name")
        company_name = name if isinstance(name, str) and name.strip() else None
    return Story(target, entries, icp, company_name, state.snoozed_until, cooldowns, now)
