"""Which account an event belongs to, in the SPEC's order: the `company_domain` property, the PostHog
`company` group, the domain of the person's email unless it is a free-mail domain. An event with
none of these is kept at person level, so cooldowns and snoozes still have something to hold on to.
A scheduled query's row names its account in an `account` column; without one, its `distinct_id`
(and `email`) columns make it a person's event, resolved as above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.decide.domains import is_free_mail, normalise_domain
from bot.ingest.webhook_body import WebhookBody

GROUP_TYPE = "company"


def person_key(distinct_id: str) -> str:
    """The account of a person no company is known for (what cooldowns, snoozes and `why` use)."""
    return f"person:{distinct_id[:200]}"


@dataclass(frozen=True)
class Account:
    key: str  # what cooldowns, snoozes and history hold on to
    domain: str | None  # what enrichment looks up
    source: str  # how it was found, shown in the alert
    group_key: str | None = None  # PostHog `company` group key, for $groupidentify
    group_properties: dict[str, Any] = field(default_factory=dict)

    @property
    def is_person(self) -> bool:
        return self.key.startswith("person:")


def _company_group(body: WebhookBody) -> tuple[str | None, dict[str, Any]]:
    groups = body.groups or {}
    group = groups.get(GROUP_TYPE)
    if isinstance(group, dict):
        key = group.get("id") or group.get("key")
        properties = group.get("properties")
        if isinstance(key, str | int) and str(key).strip():
            return str(key).strip(), properties if isinstance(properties, dict) else {}
    event_groups = body.event.properties.get("$groups")
    if isinstance(event_groups, dict):
        key = event_groups.get(GROUP_TYPE)
        if isinstance(key, str | int) and str(key).strip():
            return str(key).strip(), {}
    return None, {}


def person_email(body: WebhookBody) -> str | None:
    row = body.query_row or {}
    if row.get("account") not in (None, ""):
        return None  # an account's row has no person (SPEC: person.* is unknown)
    candidates = [row.get("email")]  # a person's row may name their email in an `email` column
    if body.person is not None:
        candidates += [body.person.properties.get("email"), body.person.properties.get("$email")]
    candidates += [body.event.properties.get("email"), body.event.properties.get("$email")]
    for value in candidates:
        if isinstance(value, str) and "@" in value:
            return value.strip()
    return None


def resolve_account(body: WebhookBody) -> Account | None:
    row = body.query_row
    if row is not None and row.get("account") not in (None, ""):
        return _query_account(row["account"])
    domain = normalise_domain(body.event.properties.get("company_domain"))
    if domain:
        return Account(key=domain, domain=domain, source="company_domain property")

    group_key, group_properties = _company_group(body)
    if group_key:
        domain = normalise_domain(group_properties.get("domain")) or normalise_domain(group_key)
        return Account(
            key=domain or f"group:{group_key[:200]}",
            domain=domain,
            source="PostHog company group",
            group_key=group_key[:400],
            group_properties=group_properties,
        )

    email = person_email(body)
    domain = normalise_domain(email) if email else None
    if domain and not is_free_mail(domain):
        return Account(key=domain, domain=domain, source="email domain")

    if body.event.distinct_id:
        return Account(key=person_key(body.event.distinct_id), domain=None, source="person")
    return None


def _query_account(value: Any) -> Account:
    """A query row's `account` column: a domain, as the SPEC asks; any other value (a group key, say)
    is still the account, kept apart from domains and not looked up."""
    domain = normalise_domain(value) if isinstance(value, str) else None
    if domain:
        return Account(key=domain, domain=domain, source="query")
    return Account(key=f"query:{str(value).strip()[:200]}", domain=None, source="query")
