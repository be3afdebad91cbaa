"""Block Kit for the alert message: pure functions from an alert's details and state to
`slack_sdk.models` objects. The first post and every update are built by the same functions.

Every untrusted string is escaped (mrkdwn) or cleaned (plain_text) and clipped to Slack's limits
here, so nothing a PostHog property says can mention a channel, fake a link or make Slack reject the
message. Invisible characters never reach Slack, and single-line places (header, field values, names,
the routing and event lines, the fallback text) get line breaks as spaces; only the summary and the
breakdown keep their lines. mrkdwn built from data is also marked `verbatim`, so Slack does not
auto-link it.
"""

from __future__ import annotations

import json
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

from bot.alerts.model import AlertDetails, AlertState, Written, query_columns
from bot.alerts.summary_template import employees_label, funding_label
from bot.decide.scoring import CriterionResult
from bot.slack.ids import (
    METADATA_EVENT_TYPE,
    AlertAction,
    AlertRef,
    SnoozeChoice,
    SnoozeRef,
    SnoozeRequest,
    encode,
    is_user_id,
)
from bot.slack.mrkdwn import (
    ELLIPSIS,
    clip,
    escape,
    escape_clip,
    escape_line,
    inline_code,
    link,
    plain,
    safe_url,
)

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
CONTEXT_LIMIT = 3000
TEXT_FALLBACK_LIMIT = 3000
MAX_BLOCKS = 50
_STATUS_ICONS = {"met": ":white_check_mark:", "missed": ":x:", "unknown": ":grey_question:"}


def mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def header(details: AlertDetails) -> HeaderBlock:
    return HeaderBlock(
        text=PlainTextObject(text=plain(f"{details.account_label}: {details.signal}", HEADER_LIMIT))
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


def fields_section(details: AlertDetails) -> SectionBlock:
    company = details.company
    name = details.company_name or company.get("domain") or "Unknown company"
    domain = company.get("domain")
    company_text = f"{name} ({domain})" if domain and domain != name else str(name)
    industry = company.get("industry")
    return SectionBlock(
        fields=[
            _field("Company", company_text),
            _field("Size", employees_label(company.get("employees"))),
            _field("Industry", industry if isinstance(industry, str) else None),
            _field("Funding", funding_label(company.get("funding_stage"))),
            _field("Plan", details.plan),
            _field("ICP score", f"{details.score.value}/100"),
        ]
    )


QUERY_FIELDS = 10  # Slack's limit of fields in one section


def query_value(value: Any) -> str:
    """One column's value as text: arrays joined, maps as JSON, numbers as they came."""
    if isinstance(value, list):
        return ", ".join(query_value(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else str(value)


def query_section(details: AlertDetails) -> SectionBlock | None:
    """The query row's other columns as fields, names and values escaped like any data; past
    Slack's ten fields, the last says how many more there are."""
    columns = query_columns(details.query)
    if not columns:
        return None
    shown = columns if len(columns) <= QUERY_FIELDS else columns[: QUERY_FIELDS - 1]
    fields = [
        mrkdwn(f"*{escape_line(name, 100)}*\n" + (escape_line(query_value(value), FIELD_LIMIT - 120) or "-"))
        for name, value in shown
    ]
    if len(shown) < len(columns):
        fields.append(mrkdwn(f"*…*\n{len(columns) - len(shown)} more columns"))
    return SectionBlock(fields=fields)


def criterion_line(result: CriterionResult) -> str:
    points = f"+{result.points:g}" if result.status == "met" else f"0/{result.weight:g}"
    name, detail = escape_line(result.name, 100), escape_line(result.detail, 200)
    return f"{_STATUS_ICONS[result.status]} {name}: {detail} ({points})"


def breakdown_section(details: AlertDetails) -> SectionBlock | None:
    if not details.score.breakdown:
        return None
    lines = [f"*Why {details.score.value}/100*"] + [criterion_line(r) for r in details.score.breakdown]
    text = "\n".join(lines)
    while len(text) > SECTION_LIMIT:  # drop whole lines, so no entity or emoji code is cut
        lines.pop()
        text = "\n".join([*lines, ELLIPSIS])
    return SectionBlock(text=mrkdwn(text))


def routing_context(details: AlertDetails) -> ContextBlock:
    parts = [f"Routed by {escape_line(details.route.reason, 2000)}"]
    # A user id, validated when the file loaded or, for `owner: crm`, when Slack named it.
    if details.route.owner:
        parts.append(f"Owner <@{details.route.owner}>")
    if details.route.owner_note:  # where the CRM owner came from, or which lookup step failed
        note = escape_line(details.route.owner_note, 300)
        parts.append(note if details.route.owner else f"No owner: {note}")
    parts.append(f"Account from {escape_line(details.account_source, 200)}")
    return ContextBlock(elements=[mrkdwn(" · ".join(parts))])


def slack_date(timestamp: float) -> str:
    """A date Slack renders in each reader's time zone, with a UTC fallback."""
    fallback = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(timestamp)}^{{date_short_pretty}} at {{time}}|{fallback}>"


def event_context(details: AlertDetails) -> ContextBlock:
    parts = []
    if details.event_time is not None:
        parts.append(slack_date(details.event_time))
    parts.append(inline_code(details.event_name, 300))
    who = details.person_name or details.person_email or details.distinct_id or ""
    person = escape_line(who, 600).strip()
    if person:
        parts.append(person)
    for url, label in ((details.person_url, "Person in PostHog"), (details.event_url, "Event")):
        # A link is added whole or not at all: a clipped one would leave a dangling `<http…`.
        if safe_url(url) and len(" · ".join([*parts, link(url, label)])) <= CONTEXT_LIMIT:
            parts.append(link(url, label))
    return ContextBlock(elements=[mrkdwn(" · ".join(parts))])


def actions(details: AlertDetails, state: AlertState) -> ActionsBlock:
    """The alert's controls, given what has been done with it: a created task becomes a link to it,
    a snooze becomes Unsnooze, a not-relevant mark retires its button."""
    alert_id = details.alert_id
    alert = encode(AlertRef(alert_id=alert_id))
    elements: list[Any] = []
    task = state.task
    if task is None:  # kept while an automatic task is being made: a click gets that same task
        elements.append(
            ButtonElement(
                text="Create CRM task", action_id=AlertAction.CREATE_CRM_TASK, value=alert, style="primary"
            )
        )
    elif safe_url(task.url):
        elements.append(
            ButtonElement(
                text="Open task", action_id=AlertAction.OPEN_CRM_TASK, url=safe_url(task.url), value=alert
            )
        )
    snooze = state.snooze
    if snooze is None:
        elements.append(
            StaticSelectElement(
                placeholder="Snooze",
                action_id=AlertAction.SNOOZE,
                options=[
                    Option(
                        text=f"Snooze {choice.label}",
                        value=encode(SnoozeRequest(alert_id=alert_id, choice=choice)),
                    )
                    for choice in SnoozeChoice
                ],
            )
        )
    else:
        unsnooze = encode(SnoozeRef(snooze_id=snooze.id))
        elements.append(ButtonElement(text="Unsnooze", action_id=AlertAction.UNSNOOZE, value=unsnooze))
    if state.feedback is None:
        elements.append(ButtonElement(text="Not relevant", action_id=AlertAction.NOT_RELEVANT, value=alert))
    url = safe_url(details.posthog_url)
    if url:
        elements.append(
            ButtonElement(text="Open in PostHog", action_id=AlertAction.OPEN_POSTHOG, url=url, value=alert)
        )
    # A new block_id on every update, so Slack clients drop a stale select choice.
    return ActionsBlock(block_id=f"alert_actions:{alert_id}:{state.version}", elements=elements)


def mention(user: Any) -> str:
    """`<@U…>` for a Slack user id, else "someone": ids come from Slack's payloads, and whatever else
    a payload says there must not reach a message as markup."""
    return f"<@{user}>" if is_user_id(user) else "someone"


def auto_task_pending(details: AlertDetails, state: AlertState) -> bool:
    """The signal's auto_task is creating the task (the button stays: a click gets the same task)."""
    return details.auto_task and state.task is None and state.auto_task_error is None


def state_lines(state: AlertState, auto_pending: bool = False) -> list[str]:
    """What has been done with the alert, one mrkdwn line each."""
    lines = []
    if auto_pending:
        lines.append(":hourglass_flowing_sand: Creating the CRM task automatically…")
    thread = state.thread
    if thread:
        noun = "signal" if thread.replies == 1 else "signals"
        lines.append(
            f":thread: {thread.replies} more {noun} in the thread · latest: "
            f"{escape_line(thread.latest_signal, 100)}, {slack_time(thread.latest_at)}"
        )
    task = state.task
    if task is None and state.auto_task_error:
        lines.append(
            f":warning: The automatic task failed: {escape_line(state.auto_task_error, 500)} "
            "Create it with the button."
        )
    if task:
        line = (
            ":white_check_mark: Task created automatically"
            if task.auto
            else f":white_check_mark: Task created by {mention(task.by)}"
        )
        if safe_url(task.url):
            line += " · " + link(task.url, "Open in HubSpot")
        elif task.crm == "store":
            line += " · kept in posthog-slack-signals (no CRM configured)"
        lines.append(line)
    snooze = state.snooze
    if snooze:
        lines.append(f":zzz: Snoozed by {mention(snooze.by)} until {slack_day(snooze.until)}")
    if state.unsnoozed and not snooze:
        lines.append(f":alarm_clock: Unsnoozed by {mention(state.unsnoozed.by)}")
    mark = state.feedback
    if mark:
        line = f":no_entry_sign: Marked not relevant by {mention(mark.by)}: {escape(mark.reason.label)}"
        if mark.text:
            line += f" ({escape_line(mark.text, 500)})"
        lines.append(line)
    return lines


def state_context(state: AlertState, auto_pending: bool = False) -> ContextBlock | None:
    lines = state_lines(state, auto_pending)
    if not lines:
        return None
    return ContextBlock(
        block_id=f"alert_state:{state.version}",
        elements=[mrkdwn(clip(line, CONTEXT_LIMIT)) for line in lines[:10]],
    )


def slack_time(timestamp: float) -> str:
    """`10:42` in each reader's time zone (UTC fallback)."""
    fallback = datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M UTC")
    return f"<!date^{int(timestamp)}^{{time}}|{fallback}>"


def slack_day(timestamp: float) -> str:
    """`Tue 2 Dec` in each reader's time zone (UTC fallback)."""
    fallback = datetime.fromtimestamp(timestamp, UTC).strftime("%a %-d %b")
    return f"<!date^{int(timestamp)}^{{date_short_pretty}}|{fallback}>"


def fallback_text(details: AlertDetails) -> str:
    if details.posted is not None:
        return details.posted.text
    head = f"{details.account_label}: {details.signal} (ICP {details.score.value}/100)"
    written = details.written
    body = f"{written.headline}. {written.text()}" if written else details.summary
    return escape_line(f"{head}. {body}", TEXT_FALLBACK_LIMIT)


def reached_context(details: AlertDetails) -> ContextBlock | None:
    """The threshold the alert fired on, and who did the latest of what it counted, and when."""
    reached = details.reached
    if reached is None:
        return None
    latest = ", ".join(f"{escape_line(who or 'someone', 80)} {slack_date(at)}" for who, at in reached.latest)
    text = f":chart_with_upwards_trend: *{escape_line(reached.what, 300)}*"
    return ContextBlock(elements=[mrkdwn(f"{text} · latest: {latest}" if latest else text)])


def held_back_context(details: AlertDetails) -> ContextBlock | None:
    held = details.held_back
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


def alert_blocks(details: AlertDetails, state: AlertState) -> list[Block]:
    blocks: list[Block | None] = [
        header(details),
        summary_section(details.summary, details.written),
        reached_context(details),
        held_back_context(details),
        fields_section(details),
        query_section(details),
        breakdown_section(details),
        routing_context(details),
        event_context(details),
        state_context(state, auto_task_pending(details, state)),
        actions(details, state),
    ]
    return [b for b in blocks if b is not None][:MAX_BLOCKS]


def alert_update(details: AlertDetails, state: AlertState) -> dict[str, Any]:
    """Arguments for `chat.update` (minus channel and ts): the whole message, built anew (an alert
    0.1.0 posted keeps what it posted above its controls)."""
    if details.posted is None:
        blocks = [block.to_dict() for block in alert_blocks(details, state)]
    else:
        shown = state_context(state, auto_task_pending(details, state))
        controls = [block for block in (shown, actions(details, state)) if block is not None]
        blocks = [*details.posted.blocks, *(block.to_dict() for block in controls)][:MAX_BLOCKS]
    return {
        "text": fallback_text(details),
        "blocks": blocks,
        "metadata": {
            "event_type": METADATA_EVENT_TYPE,
            "event_payload": {
                "alert_id": details.alert_id,
                "signal": clip(details.signal, 100),
                "account": clip(details.account_key, 300),
                "event_uuid": clip(details.event_uuid, 200),
                "score": details.score.value,
            },
        },
    }


def alert_message(details: AlertDetails, state: AlertState | None = None) -> dict[str, Any]:
    """Arguments for `chat.postMessage` (minus the channel): text, blocks, metadata."""
    return {**alert_update(details, state or AlertState()), "unfurl_links": False, "unfurl_media": False}
