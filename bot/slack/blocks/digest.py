"""Block Kit for a channel's digest: the accounts whose `deliver: digest` alerts waited for it, highest
score first, each with its signals, score, owner and a Create CRM task button (the same action as on
an alert, for the account's best-scoring alert); past `MAX_ACCOUNTS`, "and N more". Once that alert
has a task (its state, passed in), the account shows it as the alert does: who created it, and the
alert's own Open task control instead of the button. Pure functions; every untrusted string is
escaped and clipped as in the alert (bot/slack/blocks/alert.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    BlockElement,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    SectionBlock,
)

from bot.alerts.model import AlertDetails, AlertState, TaskShown
from bot.slack.blocks.alert import (
    MAX_BLOCKS,
    SECTION_LIMIT,
    TEXT_FALLBACK_LIMIT,
    actions,
    mention,
    mrkdwn,
    slack_date,
    state_lines,
)
from bot.slack.ids import METADATA_EVENT_TYPE, AlertAction, AlertRef, encode
from bot.slack.mrkdwn import clip, escape_line, link, plain, safe_url, whole_lines
from bot.store.messages import DIGEST_SIGNAL

MAX_ACCOUNTS = 15  # a digest names this many accounts; the rest are counted
MAX_SIGNALS_SHOWN = 5  # per account, newest first


def by_account(items: Sequence[AlertDetails]) -> list[list[AlertDetails]]:
    """The alerts grouped by account, each group newest first; groups by their best score, then by
    their newest signal, then by name (so a digest reads the same however its rows were read)."""
    groups: dict[str, list[AlertDetails]] = {}
    for details in items:
        groups.setdefault(details.account_key, []).append(details)
    ordered = [sorted(g, key=lambda d: d.event_time or 0.0, reverse=True) for g in groups.values()]
    return sorted(
        ordered,
        key=lambda g: (-max(d.score.value for d in g), -(g[0].event_time or 0.0), _best(g).account_label),
    )


def _best(group: list[AlertDetails]) -> AlertDetails:
    return max(group, key=lambda d: (d.score.value, d.event_time or 0.0))


def shown_states(items: Sequence[AlertDetails], states: Mapping[str, AlertState]) -> dict[str, AlertState]:
    """The states a digest listing `items` shows. It shows each account's best alert, whose button
    acts on that alert; when that alert has no task but another alert of the account has one (an
    automatic task of another signal, say), the account shows that task instead of a button that
    would create a second one; with no task, why another alert's automatic task failed. Only what
    is shown: the alerts' states stay as recorded."""
    shown = dict(states)
    for group in by_account(items):
        best = _best(group).alert_id
        if best not in shown or shown[best].task is not None:
            continue
        task = next(
            (states[d.alert_id].task for d in group if d.alert_id in states and states[d.alert_id].task), None
        )
        if task is not None:
            shown[best] = shown[best].with_task(task)
            continue
        errors = (states[d.alert_id].auto_task_error for d in group if d.alert_id in states)
        error = next((e for e in errors if e), None)
        if error is not None and not shown[best].auto_task_error:
            shown[best] = shown[best].auto_task_failed(error)
    return shown


def _task_lines(task: TaskShown) -> tuple[str, str]:
    """What the alert says of its task (alert.py `state_lines`): with its link, and without it (the
    Open task button links to it too) for a section too full for the link."""
    [full] = state_lines(AlertState(task=task))
    [bare] = state_lines(AlertState(task=task.model_copy(update={"url": None})))
    return full, bare


def _task_control(details: AlertDetails, state: AlertState) -> BlockElement | None:
    """The alert's own control for its created task (alert.py `actions`): Open task, a link to it;
    None when the task has no link (kept in the bot's store: the line says so)."""
    for element in actions(details, state).elements:
        if getattr(element, "action_id", None) == AlertAction.OPEN_CRM_TASK:
            return element
    return None


def account_section(group: list[AlertDetails], state: AlertState | None = None) -> SectionBlock:
    """The account's section; `state` is its best alert's (the one its button acts on)."""
    best = _best(group)
    head = f"*{escape_line(best.account_label, 150)}* · ICP {best.score.value}/100"
    if best.owner:
        head += f" · owner {mention(best.owner)}"
    lines = []
    for details in group[:MAX_SIGNALS_SHOWN]:
        when = f" · {slack_date(details.event_time)}" if details.event_time is not None else ""
        lines.append(f"• {escape_line(details.signal, 100)}{when}")
    if len(group) > MAX_SIGNALS_SHOWN:
        lines.append(f"• and {len(group) - MAX_SIGNALS_SHOWN} more")

    def fits(*top: str) -> bool:
        return len("\n".join([*top, *lines])) <= SECTION_LIMIT

    # The task's line right under the head, so no signal line ever pushes it out; each link (the
    # task's, then PostHog's) whole or not at all, and only when the signal lines still fit beside it.
    task = state.task if state is not None else None
    done: list[str] = []
    if task is not None:
        full, bare = _task_lines(task)
        done.append(full if fits(head, full) else bare)
    elif state is not None and state.auto_task_error:  # the button stays: a click retries
        done += state_lines(AlertState(auto_task_error=state.auto_task_error))
    linked = f"{head} · {link(best.posthog_url, 'Open in PostHog')}" if safe_url(best.posthog_url) else head
    if fits(linked, *done):
        head = linked
    accessory: BlockElement | None = (
        ButtonElement(
            text="Create CRM task",
            action_id=AlertAction.CREATE_CRM_TASK,
            value=encode(AlertRef(alert_id=best.alert_id)),
        )
        if state is None or state.task is None
        else _task_control(best, state)
    )
    return SectionBlock(
        text=mrkdwn(whole_lines("\n".join([head, *done]), lines, SECTION_LIMIT)), accessory=accessory
    )


def digest_blocks(
    items: Sequence[AlertDetails], since: float | None, states: Mapping[str, AlertState] | None = None
) -> list[Block]:
    """The digest's blocks; `states` (alert id -> state) says what was done with the alerts since."""
    states = states or {}
    groups = by_account(items)
    noun = "account" if len(groups) == 1 else "accounts"
    blocks: list[Block] = [HeaderBlock(text=plain(f"Signals digest: {len(groups)} {noun}", 150))]
    signals = "signal" if len(items) == 1 else "signals"
    intro = f"{len(items)} {signals} for this channel"
    if since is not None:
        intro += f" since {slack_date(since)}"
    blocks.append(ContextBlock(elements=[mrkdwn(intro)]))
    blocks += [account_section(group, states.get(_best(group).alert_id)) for group in groups[:MAX_ACCOUNTS]]
    if len(groups) > MAX_ACCOUNTS:
        rest = groups[MAX_ACCOUNTS:]
        names = ", ".join(escape_line(_best(g).account_label, 60) for g in rest[:10])
        more = f" ({names}{', …' if len(rest) > 10 else ''})"
        blocks.append(ContextBlock(elements=[mrkdwn(clip(f"and {len(rest)} more{more}", SECTION_LIMIT))]))
    return blocks[:MAX_BLOCKS]


def digest_update(
    digest_id: str,
    items: Sequence[AlertDetails],
    since: float | None,
    states: Mapping[str, AlertState] | None = None,
) -> dict[str, Any]:
    """Arguments for `chat.update` (minus channel and ts): the whole digest, built anew from the
    alerts it lists (the same ones, and the same `since`, as when it was taken) and their states."""
    groups = by_account(items)
    names = ", ".join(f"{_best(g).account_label} ({_best(g).score.value})" for g in groups[:MAX_ACCOUNTS])
    return {
        "text": escape_line(f"Signals digest: {names}", TEXT_FALLBACK_LIMIT),
        "blocks": [block.to_dict() for block in digest_blocks(items, since, states)],
        "metadata": {
            "event_type": METADATA_EVENT_TYPE,
            "event_payload": {"alert_id": digest_id, "signal": DIGEST_SIGNAL, "alerts": len(items)},
        },
    }


def digest_message(
    digest_id: str,
    items: Sequence[AlertDetails],
    since: float | None,
    states: Mapping[str, AlertState] | None = None,
) -> dict[str, Any]:
    """Arguments for `chat.postMessage` (minus the channel). The metadata carries the digest's id, so
    an interrupted post is found in the channel like an alert's."""
    return {**digest_update(digest_id, items, since, states), "unfurl_links": False, "unfurl_media": False}
