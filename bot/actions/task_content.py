"""A follow-up task for an alert, as pure functions: subject, body, due date, priority, owner.

The body is what the AE reads in the CRM: the summary, the score with its reasons, links back to
PostHog, and a marker line that lets the bot find a task it may already have created. HubSpot
renders the body as HTML, and everything in it came from PostHog, so it is HTML-escaped.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from bot.alerts.model import AlertDetails
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


def priority(details: AlertDetails) -> str:
    return _PRIORITIES.get(details.priority, "MEDIUM")


def subject(details: AlertDetails) -> str:
    account = details.account_label or details.domain or "account"
    text = f"Follow up: {account} — {details.signal}"
    return clip(" ".join(text.split()), SUBJECT_LIMIT)


def body(details: AlertDetails) -> str:
    """HTML for HubSpot's task body; plain enough to read as text in the bot's own store."""
    e = html.escape
    parts = [f"<p>{e(details.summary)}</p>"]
    parts.append(f"<p><strong>ICP score {details.score.value}/100</strong></p>")
    lines = [
        f"<li>{_MARKS.get(r.status, '?')} {e(r.name)}: {e(r.detail)}</li>" for r in details.score.breakdown
    ]
    if lines:
        parts.append("<ul>" + "".join(lines) + "</ul>")
    links = []
    for link, label in ((details.person_url, "Person in PostHog"), (details.event_url, "Event in PostHog")):
        url = safe_url(link)
        if url:
            links.append(f'<a href="{e(url)}">{label}</a>')
    if links:
        parts.append("<p>" + " · ".join(links) + "</p>")
    parts.append(f"<p>Created from Slack by posthog-slack-signals ({marker(details.alert_id)})</p>")
    return "".join(parts)


def owner(details: AlertDetails, config: Crm, company_owner: str | None) -> str | None:
    """The HubSpot owner an `owner: crm` route found (the one the alert names, even when Slack has no
    user for them); else the one mapped from the alert's Slack owner; else the company's; else none."""
    if details.route.hubspot_owner_id:
        return details.route.hubspot_owner_id
    if details.owner is not None and details.owner in config.owners:
        return config.owners[details.owner]
    return company_owner
