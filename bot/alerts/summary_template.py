"""The template summary: what happened, who the account is, and what else it did lately, in the words
an SDR would use ("Trial user from Acme Corp finished onboarding. Series B fintech, 240 people. Also
activated the API integration 2 days ago."). It is also the fallback whenever a model is unavailable.
A query signal's row has no event to tell of, so its summary says what the query found instead
("… triggered “Heavy users”: calls_this_week 3, plan team."). Text is returned raw; the builders escape
it.
"""

from __future__ import annotations

from typing import Any

from bot.alerts.model import AlertFacts, PastSignal, compact_json, query_columns
from bot.slack.mrkdwn import clip, one_line

_STAGES = {
    "pre_seed": "Pre-seed",
    "seed": "Seed-stage",
    "series_a": "Series A",
    "series_b": "Series B",
    "series_c": "Series C",
    "series_d": "Series D",
    "series_e": "Series E",
    "growth": "Growth-stage",
    "public": "Public",
    "bootstrapped": "Bootstrapped",
    "private_equity": "PE-backed",
}


def funding_label(stage: Any) -> str | None:
    if not isinstance(stage, str) or not stage.strip():
        return None
    key = stage.strip().lower().replace("-", "_").replace(" ", "_")
    return _STAGES.get(key, stage.strip().replace("_", " ").capitalize())


def employees_label(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        count = int(value)
        return f"{count:,} {'person' if count == 1 else 'people'}"
    if isinstance(value, str) and value.strip():
        return f"{value.strip()} people"
    return None


def relative_time(then: float, now: float) -> str:
    seconds = max(0, int(now - then))
    if seconds < 90:
        return "just now"
    minutes = seconds // 60
    if minutes < 60:
        return "a minute ago" if minutes == 1 else f"{minutes} minutes ago"
    hours = minutes // 60
    if hours < 24:
        return "an hour ago" if hours == 1 else f"{hours} hours ago"
    days = hours // 24
    if days == 1:
        return "yesterday"
    if days < 14:
        return f"{days} days ago"
    return f"{days // 7} weeks ago"


def who(facts: AlertFacts) -> str:
    plan = facts.plan
    if plan:
        subject = "Trial user" if "trial" in plan.lower() else f"{plan.strip().capitalize()} plan user"
    else:
        subject = facts.person_name or facts.person_email or "Someone"
    if facts.company_name:
        return f"{subject} from {facts.company_name}"
    if facts.company.get("domain"):
        return f"{subject} at {facts.company['domain']}"
    return subject


def firmographics(company: dict[str, Any]) -> str | None:
    """`Series B fintech, 240 people, US`; None when nothing is known."""
    stage = funding_label(company.get("funding_stage"))
    industry = company.get("industry") if isinstance(company.get("industry"), str) else None
    kind = " ".join(part for part in (stage, industry) if part)
    parts = [kind] if kind else []
    size = employees_label(company.get("employees"))
    if size:
        parts.append(size)
    return ", ".join(parts) if parts else None


def recent_activity(history: tuple[PastSignal, ...], now: float, limit: int = 2) -> str | None:
    seen: list[PastSignal] = []
    for past in history:
        if all(p.action != past.action for p in seen):
            seen.append(past)
        if len(seen) == limit:
            break
    if not seen:
        return None
    return "Also " + " and ".join(f"{p.action} {relative_time(p.event_time, now)}" for p in seen)


QUERY_FOUND_LIMIT = 120  # what a query found, in the summary's first sentence
_QUERY_PART_LIMIT = 40  # a column's name, and its value, each at most


def _column_text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else compact_json(value, "?")
    return text[: _QUERY_PART_LIMIT * 2]


def query_found(query: dict[str, Any] | None, limit: int = QUERY_FOUND_LIMIT) -> str | None:
    """`calls_this_week 3, plan team`: a query row's columns (not its account or person), as many
    whole ones as fit in `limit`, names and values cut short; None when it has no other column."""
    columns = query_columns(query)
    parts: list[str] = []
    for name, value in columns:
        name_text = clip(one_line(str(name)[: _QUERY_PART_LIMIT * 2]).strip(), _QUERY_PART_LIMIT)
        value_text = clip(one_line(_column_text(value)).strip(), _QUERY_PART_LIMIT) or "-"
        part = f"{name_text} {value_text}".strip()
        if len(", ".join([*parts, part])) > limit:
            break
        parts.append(part)
    if not parts:  # (one column always fits: its name and value are cut short)
        return None
    more = len(columns) - len(parts)
    return ", ".join(parts) + (f" and {more} more" if more else "")


def template_summary(facts: AlertFacts) -> str:
    # A query's account row has no person: the account itself is the subject.
    person = facts.distinct_id or facts.person_name or facts.person_email
    subject = facts.account_label if facts.query is not None and not person else who(facts)
    sentences = [f"{subject} {facts.action}"]
    found = query_found(facts.query)
    if found:
        sentences[0] = f"{sentences[0].rstrip().rstrip('.')}: {found}"
    firmo = firmographics(facts.company)
    if firmo:
        sentences.append(firmo[0].upper() + firmo[1:])
    elif facts.company.get("domain"):
        sentences.append(f"No firmographics for {facts.company['domain']} yet")
    activity = recent_activity(facts.history, facts.now)
    if activity:
        sentences.append(activity)
    # Names and values from the event go in as they are; a line break in one must not start a line.
    return one_line(" ".join(s.rstrip(".") + "." for s in sentences))
