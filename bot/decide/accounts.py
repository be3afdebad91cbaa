"""Which account an event belongs to, in the SPEC's order: the `company_domain` property, the PostHog
`company` group, the domain of the person's email unless it is a free-mail domain. An event with
none of these is kept at person level, so cooldowns and snoozes still have something to hold on to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from bot.ingest.webhook_body import WebhookBody

_DOMAIN = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$"
)
GROUP_TYPE = "company"


@cache
def free_mail_domains() -> frozenset[str]:
    text = resources.files("bot.data").joinpath("free_mail_domains.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def normalise_domain(value: Any) -> str | None:
    """`https://www.Acme.com/pricing` -> `acme.com`; None when it is not a plausible domain."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value.strip().lower())
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.rsplit("@", 1)[-1]  # an email, or user info in a URL; only after cutting the path
    text = text.split(":", 1)[0].rstrip(".")
    text = text.removeprefix("www.")
    return text if _DOMAIN.match(text) else None


def is_free_mail(domain: str) -> bool:
    return domain in free_mail_domains()


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
    candidates = []
    if body.person is not None:
        candidates += [body.person.properties.get("email"), body.person.properties.get("$email")]
    candidates += [body.event.properties.get("email"), body.event.properties.get("$email")]
    for value in candidates:
        if isinstance(value, str) and "@" in value:
            return value.strip()
    return None


def resolve_account(body: WebhookBody) -> Account | None:
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
        return Account(key=f"person:{body.event.distinct_id[:200]}", domain=None, source="person")
    return None
