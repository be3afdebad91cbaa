"""The Home tab: a pure function from what the store says about one person to a `home` view.

It shows their alerts of the last 7 days (those routed to them as owner), newest first, each with
what has been done with it and a link to its message; the running snoozes on their alerts, each
with the same Unsnooze button `/posthog snoozes` offers; and, for `access.writers`, the week's stats
per signal, as `/posthog stats` counts them. Every list is capped so the view stays within Slack's
100 blocks, with "and N more".
Account and signal names come from events and the signals file: escaped like everywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.alerts.model import AlertState
from bot.commands.stats_report import precision_text
from bot.slack.blocks.alert import CONTEXT_LIMIT, mention, mrkdwn, slack_date, slack_day
from bot.slack.ids import AlertAction, SnoozeRef, encode
from bot.slack.mrkdwn import escape_line, link, safe_url
from bot.store.account_state import Snooze
from bot.store.home import HomeAlert
from bot.store.stats import SignalStats

MAX_BLOCKS = 100  # Slack's limit for a Home tab
MAX_ALERTS = 40
MAX_SNOOZES = 20
MAX_SIGNALS = 20
NAME_LIMIT = 200
_CHANNEL_ID = re.compile(r"^[CDGZ][A-Z0-9]{2,30}$")
_TS = re.compile(r"^[0-9]{1,12}\.[0-9]{1,8}$")


@dataclass(frozen=True)
class HomeContent:
    """Everything the tab shows for one person. `weeks` is None for someone who is not a writer."""

    alerts: Sequence[HomeAlert]
    total_alerts: int
    snoozes: Sequence[Snooze]
    weeks: Sequence[SignalStats] | None
    now: float
    workspace_url: str | None = None  # auth.test's `url`, for links to messages
    notice: str | None = None  # mrkdwn the bot wrote itself (e.g. what an Unsnooze did)


def message_url(
    workspace_url: str | None, channel: str, ts: str | None, thread_ts: str | None = None
) -> str | None:
    """The message's address (`https://<team>.slack.com/archives/<channel>/p<ts without dot>`), built
    from the workspace URL rather than asked of `chat.getPermalink` once per alert; None when any
    part is not what Slack would give (a `#name` route not yet posted, a missing ts)."""
    base = safe_url(workspace_url)
    if base is None or not ts or not _TS.match(ts) or not _CHANNEL_ID.match(channel):
        return None
    url = f"{base.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and _TS.match(thread_ts) and thread_ts != ts:  # a reply: opened in its thread
        url += f"?thread_ts={thread_ts}&cid={channel}"
    return url


def state_words(state: AlertState, now: float) -> list[str]:
    """What has been done with the alert, in the Home tab's words; "new" when nothing."""
    words = []
    if state.task is not None:
        words.append("task created")
    if state.snooze is not None and state.snooze.until > now:
        words.append(f"snoozed until {slack_day(state.snooze.until)}")
    if state.feedback is not None:
        words.append(f"not relevant ({state.feedback.reason.label})")
    return words or ["new"]


def _name(text: str) -> str:
    """An account or signal name: untrusted, so escaped, on one line, and never empty."""
    return escape_line(text, NAME_LIMIT).strip() or "-"


def _more(count: int) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=f"and {count} more")])


def _heading(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=f"*{text}*"))


def alert_section(alert: HomeAlert, workspace_url: str | None, now: float) -> SectionBlock:
    url = message_url(workspace_url, alert.channel, alert.ts, alert.thread_ts)
    where = link(url, "Open message") if url else "not in Slack on its own yet"
    text = (
        f"*{_name(alert.account)}* · {_name(alert.signal)}\n"
        f"Score {alert.score} · {slack_date(alert.created_at)} · "
        f"{' · '.join(state_words(alert.state, now))} · {where}"
    )
    return SectionBlock(text=mrkdwn(text))


def snooze_section(snooze: Snooze) -> SectionBlock:
    """A running snooze and its Unsnooze button, one item of both this tab and `/posthog snoozes`
    (bot/slack/blocks/snoozes.py), so the two show a snooze and answer its click alike."""
    text = f"*{_name(snooze.account)}* until {slack_day(snooze.until)}, by {mention(snooze.snoozed_by)}"
    return SectionBlock(
        text=mrkdwn(text),
        accessory=ButtonElement(
            text="Unsnooze", action_id=AlertAction.UNSNOOZE, value=encode(SnoozeRef(snooze_id=snooze.id))
        ),
    )


def week_section(week: SignalStats) -> SectionBlock:
    """A signal's week as `/posthog stats` counts it (one home for those numbers: bot/store/stats.py)."""
    text = (
        f"*{_name(week.signal)}* · precision {precision_text(week)}\n{week.events:,} events · "
        f"{week.alerts} alerts · {week.tasks} tasks · {week.snoozed} snoozed · {week.dismissed} not relevant"
    )
    return SectionBlock(text=mrkdwn(text))


def home_blocks(content: HomeContent) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="Your PostHog signals"))]
    if content.notice:
        blocks.append(ContextBlock(elements=[mrkdwn(content.notice[:CONTEXT_LIMIT])]))

    blocks.append(_heading("Your alerts of the last 7 days"))
    if not content.alerts:
        blocks.append(ContextBlock(elements=[mrkdwn("No alerts were routed to you in the last 7 days.")]))
    shown = content.alerts[:MAX_ALERTS]
    blocks.extend(alert_section(a, content.workspace_url, content.now) for a in shown)
    if content.total_alerts > len(shown):
        blocks.append(_more(content.total_alerts - len(shown)))

    blocks.append(DividerBlock())
    blocks.append(_heading("Snoozes on your alerts"))
    if not content.snoozes:
        blocks.append(ContextBlock(elements=[mrkdwn("None of your accounts is snoozed.")]))
    blocks.extend(snooze_section(s) for s in content.snoozes[:MAX_SNOOZES])
    if len(content.snoozes) > MAX_SNOOZES:
        blocks.append(_more(len(content.snoozes) - MAX_SNOOZES))

    if content.weeks is not None:
        blocks.append(DividerBlock())
        blocks.append(_heading("This week, per signal"))
        if not content.weeks:
            blocks.append(ContextBlock(elements=[mrkdwn("No signal saw an event in the last 7 days.")]))
        blocks.extend(week_section(w) for w in content.weeks[:MAX_SIGNALS])
        if len(content.weeks) > MAX_SIGNALS:
            blocks.append(_more(len(content.weeks) - MAX_SIGNALS))
    return blocks  # at most 91 blocks: the caps above keep it under MAX_BLOCKS


def home_view(content: HomeContent) -> dict[str, Any]:
    """The `view` argument of `views.publish`."""
    return View(type="home", blocks=home_blocks(content)).to_dict()
