"""Block Kit for the alert message: pure functions from facts to `slack_sdk.models` objects.

Every untrusted string is escaped (mrkdwn) or cleaned (plain_text) and clipped to Slack's limits
here, so nothing a PostHog property says can mention a channel, fake a link or make Slack reject the
message. mrkdwn built from data is also marked `verbatim`, so Slack does not auto-link it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot import ids
from bot.facts import AlertFacts
from bot.mrkdwn import ELLIPSIS, clip, escape_clip, link, plain, safe_url
from bot.scoring import CriterionResult
from bot.summary import employees_label, funding_label

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
CONTEXT_LIMIT = 3000
TEXT_FALLBACK_LIMIT = 3000
MAX_BLOCKS = 50
_STATUS_ICONS = {"met": ":white_check_mark:", "missed": ":x:", "unknown": ":grey_question:"}


def mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def header(facts: AlertFacts) -> HeaderBlock:
    return HeaderBlock(
        text=PlainTextObject(text=plain(f"{facts.account_label}: {facts.signal_name}", HEADER_LIMIT))
    )


def summary_section(summary: str) -> SectionBlock:
    return SectionBlock(text=mrkdwn(escape_clip(summary, SECTION_LIMIT) or "-"))


def _field(label: str, value: Any) -> MarkdownTextObject:
    text = "-" if value is None or value == "" else str(value)
    return mrkdwn(f"*{label}*\n" + escape_clip(text, FIELD_LIMIT - len(label) - 3))


def fields_section(facts: AlertFacts) -> SectionBlock:
    company = facts.company
    name = facts.company_name or company.get("domain") or "Unknown company"
    domain = company.get("domain")
    company_text = f"{name} ({domain})" if domain and domain != name else str(name)
    industry = company.get("industry")
    return SectionBlock(
        fields=[
            _field("Company", company_text),
            _field("Size", employees_label(company.get("employees"))),
            _field("Industry", industry if isinstance(industry, str) else None),
            _field("Funding", funding_label(company.get("funding_stage"))),
            _field("Plan", facts.plan),
            _field("ICP score", f"{facts.score.value}/100"),
        ]
    )


def criterion_line(result: CriterionResult) -> str:
    points = f"+{result.points:g}" if result.status == "met" else f"0/{result.weight:g}"
    name, detail = escape_clip(result.name, 100), escape_clip(result.detail, 200)
    return f"{_STATUS_ICONS[result.status]} {name}: {detail} ({points})"


def breakdown_section(facts: AlertFacts) -> SectionBlock | None:
    if not facts.score.breakdown:
        return None
    lines = [f"*Why {facts.score.value}/100*"] + [criterion_line(r) for r in facts.score.breakdown]
    text = "\n".join(lines)
    while len(text) > SECTION_LIMIT:  # drop whole lines, so no entity or emoji code is cut
        lines.pop()
        text = "\n".join([*lines, ELLIPSIS])
    return SectionBlock(text=mrkdwn(text))


def routing_context(facts: AlertFacts) -> ContextBlock:
    parts = [f"Routed by {escape_clip(facts.route.reason, 2000)}"]
    if facts.route.owner:
        parts.append(f"Owner <@{facts.route.owner}>")  # validated as a user id when the file loaded
    parts.append(f"Account from {escape_clip(facts.account_source, 200)}")
    return ContextBlock(elements=[mrkdwn(" · ".join(parts))])


def slack_date(timestamp: float) -> str:
    """A date Slack renders in each reader's time zone, with a UTC fallback."""
    fallback = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(timestamp)}^{{date_short_pretty}} at {{time}}|{fallback}>"


def event_context(facts: AlertFacts) -> ContextBlock:
    parts = []
    if facts.event_time is not None:
        parts.append(slack_date(facts.event_time))
    parts.append(f"`{escape_clip(facts.event_name, 300)}`")
    person = facts.person_name or facts.person_email or facts.distinct_id
    if person:
        parts.append(escape_clip(person, 600))
    for url, label in ((facts.person_url, "Person in PostHog"), (facts.event_url, "Event")):
        # A link is added whole or not at all: a clipped one would leave a dangling `<http…`.
        if safe_url(url) and len(" · ".join([*parts, link(url, label)])) <= CONTEXT_LIMIT:
            parts.append(link(url, label))
    return ContextBlock(elements=[mrkdwn(" · ".join(parts))])


def actions(facts: AlertFacts) -> ActionsBlock:
    elements: list[Any] = [
        ButtonElement(
            text="Create CRM task", action_id=ids.CREATE_CRM_TASK, value=facts.alert_id, style="primary"
        ),
        StaticSelectElement(
            placeholder="Snooze",
            action_id=ids.SNOOZE,
            options=[
                Option(text=f"Snooze {label}", value=f"{facts.alert_id}:{choice}")
                for choice, label in ids.SNOOZE_CHOICES.items()
            ],
        ),
        ButtonElement(text="Not relevant", action_id=ids.NOT_RELEVANT, value=facts.alert_id),
    ]
    url = safe_url(facts.posthog_url)
    if url:
        elements.append(
            ButtonElement(text="Open in PostHog", action_id=ids.OPEN_POSTHOG, url=url, value=facts.alert_id)
        )
    return ActionsBlock(block_id=f"alert_actions:{facts.alert_id}", elements=elements)


def fallback_text(facts: AlertFacts, summary: str) -> str:
    head = f"{facts.account_label}: {facts.signal_name} (ICP {facts.score.value}/100)"
    return escape_clip(f"{head}. {summary}", TEXT_FALLBACK_LIMIT)


def alert_blocks(facts: AlertFacts, summary: str) -> list[Block]:
    blocks: list[Block | None] = [
        header(facts),
        summary_section(summary),
        fields_section(facts),
        breakdown_section(facts),
        routing_context(facts),
        event_context(facts),
        actions(facts),
    ]
    return [b for b in blocks if b is not None][:MAX_BLOCKS]


def alert_message(facts: AlertFacts, summary: str) -> dict[str, Any]:
    """Arguments for `chat.postMessage` (minus the channel): text, blocks, metadata."""
    return {
        "text": fallback_text(facts, summary),
        "blocks": [block.to_dict() for block in alert_blocks(facts, summary)],
        "metadata": {
            "event_type": ids.METADATA_EVENT_TYPE,
            "event_payload": {
                "alert_id": facts.alert_id,
                "signal": clip(facts.signal_name, 100),
                "account": clip(facts.account_key, 300),
                "event_uuid": clip(facts.event_uuid, 200),
                "score": facts.score.value,
            },
        },
        "unfurl_links": False,
        "unfurl_media": False,
    }
