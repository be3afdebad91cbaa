"""A follow-up task for an alert, as pure functions: subject, body, due date, priority, owner.

The body is what the AE reads in the CRM: the summary, the score with its reasons, links back to
PostHog, and a marker line that lets the bot find a task it may already have created. HubSpot
renders the body as HTML, and everything in it came from PostHog, so it is HTML-escaped.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config.signals_file import Crm
from bot.slack.mrkdwn import clip, safe_url

SUBJECT_LIMIT = 250
_PRIORITIES = {"high": "HIGH", "medium": "MEDIUM", "low": "LOW"}
_MARKS = {"met": "✓", "missed": "✗", "unknown": "?"}


def marker(alert_id: str) -> str:
    """A token unique to the alert, written into the task so a lost answer can be recovered."""
    return f"pss-alert-{alert_id}"


def add_business_days(start: datetime, days: int) -> datetime:
    """`days` working days after `start` (Saturdays and Sundays skipped), same time of day."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    while current.weekday() >= 5:  # a task never falls due on a weekend
        current += timedelta(days=1)
    return current


def due_date(now: float, config: Crm) -> datetime:
    return add_business_days(datetime.fromtimestamp(now, UTC), config.due_in_business_days)


def priority(details: dict[str, Any]) -> str:
    return _PRIORITIES.get(str(details.get("priority", "medium")), "MEDIUM")


def subject(details: dict[str, Any]) -> str:
    account = details.get("account_label") or details.get("domain") or "account"
    text = f"Follow up: {account} — {details.get('signal')}"
    return clip(" ".join(text.split()), SUBJECT_LIMIT)


def body(details: dict[str, Any], alert_id: str) -> str:
    """HTML for HubSpot's task body; plain enough to read as text in the bot's own store."""
    e = html.escape
    parts = [f"<p>{e(str(details.get('summary', '')))}</p>"]
    parts.append(f"<p><strong>ICP score {int(details.get('score', 0))}/100</strong></p>")
    lines = [
        f"<li>{_MARKS.get(str(r.get('status')), '?')} {e(str(r.get('name')))}: {e(str(r.get('detail')))}</li>"
        for r in details.get("breakdown", [])
    ]
    if lines:
        parts.append("<ul>" + "".join(lines) + "</ul>")
    links = []
    for key, label in (("person_url", "Person in PostHog"), ("event_url", "Event in PostHog")):
        url = safe_url(details.get(key))
        if url:
            links.append(f'<a href="{e(url)}">{label}</a>')
    if links:
        parts.append("<p>" + " · ".join(links) + "</p>")
    parts.append(f"<p>Created from Slack by posthog-slack-signals ({marker(alert_id)})</p>")
    return "".join(parts)


def owner(details: dict[str, Any], config: Crm, company_owner: str | None) -> str | None:
    """The HubSpot owner mapped from the alert's Slack owner; else the company's owner; else none."""
    slack_owner = details.get("owner")
    if isinstance(slack_owner, str) and slack_owner in config.owners:
        return config.owners[slack_owner]
    return company_owner
