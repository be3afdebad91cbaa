"""Block Kit for the alert message: pure functions from facts to `slack_sdk.models` objects.

Every untrusted string is escaped (mrkdwn) or cleaned (plain_text) and clipped to Slack's limits
here, so nothing a PostHog property says can mention a channel, fake a link or make Slack reject the
message. Invisible characters never reach Slack, and single-line places (header, field values, names,
the routing and event lines, the fallback text) get line breaks as spaces; only the summary and the
breakdown keep their lines. mrkdwn built from data is also marked `verbatim`, so Slack does not
auto-link it.
"""

from __future__ import annotations

import re
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

from bot.alerts.model import AlertFacts, Written
from bot.alerts.summary_template import employees_label, funding_label
from bot.decide.scoring import CriterionResult
from bot.slack import ids
from bot.slack.mrkdwn import ELLIPSIS, clip, escape, escape_clip, escape_line, link, plain, safe_url

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
CONTEXT_LIMIT = 3000
TEXT_FALLBACK_LIMIT = 3000
MAX_BLOCKS = 50
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_STATUS_ICONS = {"met": ":white_check_mark:", "missed": ":x:", "unknown": ":grey_question:"}


def mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def header(facts: AlertFacts) -> HeaderBlock:
    return HeaderBlock(
        text=PlainTextObject(text=plain(f"{facts.account_label}: {facts.signal_name}", HEADER_LIMIT))
    )


def summary_section(summary: str, written: Written | None = None) -> SectionBlock:
    """The template summary, or Claude's headline, why-now and next step (escaped like any data)."""
    if written is None:
        return SectionBlock(text=mrkdwn(escape_clip(summary, SECTION_LIMIT) or "-"))
    text = (
        f"*{escape_line(written.headline, 200)}*\n{escape_clip(written.why_now, 1200)}\n"
        f"*Next step:* {escape_line(written.next_step, 600)}"
    )
    return SectionBlock(text=mrkdwn(text))


def _field(label: str, value: Any) -> MarkdownTextObject:
    text = "-" if value is None or value == "" else str(value)
    return mrkdwn(f"*{label}*\n" + escape_line(text, FIELD_LIMIT - len(label) - 3))


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
    name, detail = escape_line(result.name, 100), escape_line(result.detail, 200)
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
    parts = [f"Routed by {escape_line(facts.route.reason, 2000)}"]
    if facts.route.owner:
        parts.append(f"Owner <@{facts.route.owner}>")  # validated as a user id when the file loaded
    parts.append(f"Account from {escape_line(facts.account_source, 200)}")
    return ContextBlock(elements=[mrkdwn(" · ".join(parts))])


def slack_date(timestamp: float) -> str:
    """A date Slack renders in each reader's time zone, with a UTC fallback."""
    fallback = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(timestamp)}^{{date_short_pretty}} at {{time}}|{fallback}>"


def event_context(facts: AlertFacts) -> ContextBlock:
    parts = []
    if facts.event_time is not None:
        parts.append(slack_date(facts.event_time))
    parts.append(f"`{escape_line(facts.event_name, 300)}`")
    person = escape_line(facts.person_name or facts.person_email or facts.distinct_id or "", 600).strip()
    if person:
        parts.append(person)
    for url, label in ((facts.person_url, "Person in PostHog"), (facts.event_url, "Event")):
        # A link is added whole or not at all: a clipped one would leave a dangling `<http…`.
        if safe_url(url) and len(" · ".join([*parts, link(url, label)])) <= CONTEXT_LIMIT:
            parts.append(link(url, label))
    return ContextBlock(elements=[mrkdwn(" · ".join(parts))])


def actions(facts: AlertFacts) -> ActionsBlock:
    return alert_actions(facts.alert_id, facts.posthog_url, {})


def alert_actions(alert_id: str, posthog_url: str | None, state: dict[str, Any]) -> ActionsBlock:
    """The alert's controls, given what has been done with it: a created task becomes a link to it,
    a snooze becomes Unsnooze, a not-relevant mark retires its button."""
    elements: list[Any] = []
    task = state.get("task")
    if task is None:
        elements.append(
            ButtonElement(
                text="Create CRM task", action_id=ids.CREATE_CRM_TASK, value=alert_id, style="primary"
            )
        )
    elif safe_url(task.get("url")):
        elements.append(
            ButtonElement(
                text="Open task", action_id=ids.OPEN_CRM_TASK, url=safe_url(task["url"]), value=alert_id
            )
        )
    snooze = state.get("snooze")
    if snooze is None:
        elements.append(
            StaticSelectElement(
                placeholder="Snooze",
                action_id=ids.SNOOZE,
                options=[
                    Option(text=f"Snooze {label}", value=f"{alert_id}:{choice}")
                    for choice, label in ids.SNOOZE_CHOICES.items()
                ],
            )
        )
    else:
        elements.append(ButtonElement(text="Unsnooze", action_id=ids.UNSNOOZE, value=str(snooze["id"])))
    if state.get("feedback") is None:
        elements.append(ButtonElement(text="Not relevant", action_id=ids.NOT_RELEVANT, value=alert_id))
    url = safe_url(posthog_url)
    if url:
        elements.append(
            ButtonElement(text="Open in PostHog", action_id=ids.OPEN_POSTHOG, url=url, value=alert_id)
        )
    # A new block_id on every update, so Slack clients drop a stale select choice.
    return ActionsBlock(block_id=f"alert_actions:{alert_id}:{state.get('version', 0)}", elements=elements)


def mention(user: Any) -> str:
    """`<@U…>` for a Slack user id, else "someone": ids come from Slack's payloads, and whatever else
    a payload says there must not reach a message as markup."""
    return f"<@{user}>" if isinstance(user, str) and _USER_ID.match(user) else "someone"


def state_lines(state: dict[str, Any]) -> list[str]:
    """What has been done with the alert, one mrkdwn line each."""
    lines = []
    task = state.get("task")
    if task:
        line = f":white_check_mark: Task created by {mention(task.get('by'))}"
        if safe_url(task.get("url")):
            line += " · " + link(task["url"], "Open in HubSpot")
        elif task.get("crm") == "store":
            line += " · kept in posthog-slack-signals (no CRM configured)"
        lines.append(line)
    snooze = state.get("snooze")
    if snooze:
        lines.append(
            f":zzz: Snoozed by {mention(snooze.get('by'))} until {slack_day(float(snooze['until']))}"
        )
    unsnoozed = state.get("unsnoozed")
    if unsnoozed and not snooze:
        lines.append(f":alarm_clock: Unsnoozed by {mention(unsnoozed.get('by'))}")
    mark = state.get("feedback")
    if mark:
        reason = ids.FEEDBACK_REASONS.get(str(mark.get("reason")), "other")
        line = f":no_entry_sign: Marked not relevant by {mention(mark.get('by'))}: {escape(reason)}"
        if mark.get("text"):
            line += f" ({escape_line(str(mark['text']), 500)})"
        lines.append(line)
    return lines


def slack_day(timestamp: float) -> str:
    """`Tue 2 Dec` in each reader's time zone (UTC fallback)."""
    fallback = datetime.fromtimestamp(timestamp, UTC).strftime("%a %-d %b")
    return f"<!date^{int(timestamp)}^{{date_short_pretty}}|{fallback}>"


def updated_message(
    message: dict[str, Any], alert_id: str, posthog_url: str | None, state: dict[str, Any]
) -> dict[str, Any]:
    """The posted alert with its status lines and controls rebuilt from `state` (for chat.update)."""
    kept = [
        b
        for b in message.get("blocks", [])
        if b.get("type") != "actions" and not str(b.get("block_id", "")).startswith("alert_state")
    ]
    lines = state_lines(state)
    if lines:
        kept.append(
            ContextBlock(
                block_id=f"alert_state:{state.get('version', 0)}",
                elements=[mrkdwn(clip(line, CONTEXT_LIMIT)) for line in lines[:10]],
            ).to_dict()
        )
    kept.append(alert_actions(alert_id, posthog_url, state).to_dict())
    return {"text": message.get("text", ""), "blocks": kept[:MAX_BLOCKS], "metadata": message.get("metadata")}


def fallback_text(facts: AlertFacts, summary: str, written: Written | None = None) -> str:
    head = f"{facts.account_label}: {facts.signal_name} (ICP {facts.score.value}/100)"
    body = f"{written.headline}. {written.text()}" if written else summary
    return escape_line(f"{head}. {body}", TEXT_FALLBACK_LIMIT)


def held_back_context(facts: AlertFacts) -> ContextBlock | None:
    held = facts.held_back
    if held is None or held.count == 0:
        return None
    noun = "signal was" if held.count == 1 else "signals were"
    return ContextBlock(
        elements=[
            mrkdwn(
                f":alarm_clock: {held.count} {noun} held back while {mention(held.snoozed_by)} "
                f"snoozed this account (until {slack_day(held.until)})"
            )
        ]
    )


def alert_blocks(facts: AlertFacts, summary: str, written: Written | None = None) -> list[Block]:
    blocks: list[Block | None] = [
        header(facts),
        summary_section(summary, written),
        held_back_context(facts),
        fields_section(facts),
        breakdown_section(facts),
        routing_context(facts),
        event_context(facts),
        actions(facts),
    ]
    return [b for b in blocks if b is not None][:MAX_BLOCKS]


def alert_message(facts: AlertFacts, summary: str, written: Written | None = None) -> dict[str, Any]:
    """Arguments for `chat.postMessage` (minus the channel): text, blocks, metadata."""
    return {
        "text": fallback_text(facts, summary, written),
        "blocks": [block.to_dict() for block in alert_blocks(facts, summary, written)],
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
