"""The Home tab's view: its sections, each alert's state and link, the Unsnooze buttons the existing
listener understands, the writers-only stats, the 100-block cap, and escaping of every name."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from bot.alerts.model import AlertState, FeedbackShown, SnoozeShown, TaskShown
from bot.slack.blocks.home import (
    MAX_ALERTS,
    MAX_BLOCKS,
    MAX_SIGNALS,
    MAX_SNOOZES,
    HomeContent,
    home_view,
    message_url,
    state_words,
)
from bot.slack.ids import FeedbackReason, SnoozeRef, decode
from bot.store.account_state import Snooze
from bot.store.home import HomeAlert
from bot.store.stats import SignalStats
from testkit.slack import block_problems
from tests.bot.slack.blocks.test_alert import HOSTILE_STRINGS

NOW = 1_760_000_000.0
URL = "https://acme-team.slack.com/"
ALERT = HomeAlert(
    "a1", "Trial finished onboarding", "Acme Corp", 85, NOW - 3600, "C0AE1", "1759996400.000100", AlertState()
)
SNOOZE = Snooze("s1", "acme.com", NOW + 86_400, "U0AE", NOW - 60, "a1", 0)
WEEK = SignalStats(
    "Trial finished onboarding",
    events=340,
    alerts=12,
    tasks_clicked=4,
    tasks_auto=1,
    snoozed=2,
    not_relevant={"wrong_fit": 3},
    no_action=2,
)


def content(**changes: Any) -> HomeContent:
    base = HomeContent(
        alerts=[ALERT],
        total_alerts=1,
        snoozes=[SNOOZE],
        weeks=None,
        now=NOW,
        workspace_url=URL,
    )
    return replace(base, **changes)


def texts(view: dict[str, Any]) -> list[str]:
    out = []
    for block in view["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(e.get("text", "") for e in block.get("elements", []))
    return out


def test_the_view_is_a_home_view_with_the_alert_its_link_and_the_snooze():
    view = home_view(content())
    assert view["type"] == "home"
    assert block_problems(view["blocks"], max_blocks=100) == []
    alert = view["blocks"][2]["text"]
    assert alert["verbatim"] is True
    assert alert["text"] == (
        "*Acme Corp* · Trial finished onboarding\nScore 85 · "
        "<!date^1759996400^{date_short_pretty} at {time}|2025-10-09 07:53 UTC> · new · "
        "<https://acme-team.slack.com/archives/C0AE1/p1759996400000100|Open message>"
    )
    [snooze] = [b for b in view["blocks"] if b.get("accessory")]
    assert snooze["accessory"]["action_id"] == "unsnooze"
    assert decode(SnoozeRef, snooze["accessory"]["value"]) == SnoozeRef(snooze_id="s1")
    assert "by <@U0AE>" in snooze["text"]["text"]
    assert not any("per signal" in t for t in texts(view))  # not a writer


def test_writers_see_the_weeks_counts_per_signal():
    spam = SignalStats("<!channel> spam", events=1, alerts=1, not_relevant={"bad_data": 1})
    view = home_view(content(weeks=[WEEK, spam]))
    all_text = "\n".join(texts(view))
    assert "*This week, per signal*" in all_text
    assert (
        "*Trial finished onboarding* · precision 62%\n340 events · 12 alerts · 5 tasks · 2 snoozed · "
        "3 not relevant"
    ) in all_text
    assert (
        "*&lt;!channel&gt; spam* · precision 0%\n1 events · 1 alerts · 0 tasks · 0 snoozed · 1 not relevant"
        in all_text
    )
    assert "No signal saw an event in the last 7 days." in "\n".join(texts(home_view(content(weeks=[]))))


def test_empty_lists_say_so():
    view = home_view(content(alerts=[], total_alerts=0, snoozes=[]))
    joined = "\n".join(texts(view))
    assert "No alerts were routed to you in the last 7 days." in joined
    assert "None of your accounts is snoozed." in joined


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (AlertState(), ["new"]),
        (AlertState(task=TaskShown(by="U0AE")), ["task created"]),
        (
            AlertState(snooze=SnoozeShown(id="s1", by="U0AE", until=NOW + 60)),
            ["snoozed until <!date^1760000060^{date_short_pretty}|Thu 9 Oct>"],
        ),
        (AlertState(snooze=SnoozeShown(id="s1", until=NOW - 60)), ["new"]),  # it ran out
        (
            AlertState(feedback=FeedbackShown(by="U0AE", reason=FeedbackReason.WRONG_FIT)),
            ["not relevant (wrong fit)"],
        ),
        (
            AlertState(
                task=TaskShown(by="U0AE"),
                feedback=FeedbackShown(by="U0AE", reason=FeedbackReason.OTHER),
            ),
            ["task created", "not relevant (other)"],
        ),
    ],
)
def test_each_alert_says_what_was_done_with_it(state, words):
    assert state_words(state, NOW) == words


@pytest.mark.parametrize(
    ("url", "channel", "ts", "expected"),
    [
        (URL, "C0AE1", "1700000000.000100", "https://acme-team.slack.com/archives/C0AE1/p1700000000000100"),
        ("https://acme-team.slack.com", "C0AE1", "1.2", "https://acme-team.slack.com/archives/C0AE1/p12"),
        (URL, "#ae-alerts", "1700000000.000100", None),  # a #name route not posted yet
        (URL, "C0AE1", None, None),
        (URL, "C0AE1", "1700000000.000100|x", None),
        (None, "C0AE1", "1700000000.000100", None),
        ("javascript:alert(1)", "C0AE1", "1700000000.000100", None),
    ],
)
def test_message_links_are_built_only_from_what_slack_would_give(url, channel, ts, expected):
    assert message_url(url, channel, ts) == expected


def test_an_alert_not_in_slack_yet_has_no_link():
    view = home_view(content(alerts=[replace(ALERT, ts=None)]))
    assert "not in Slack on its own yet" in view["blocks"][2]["text"]["text"]
    assert "<https" not in view["blocks"][2]["text"]["text"]
    assert "<https" not in json.dumps(home_view(content(workspace_url=None)))


def test_everything_at_once_stays_within_100_blocks_and_says_how_many_more():
    alerts = [replace(ALERT, id=f"a{i}") for i in range(MAX_ALERTS)]
    snoozes = [replace(SNOOZE, id=f"s{i}") for i in range(MAX_SNOOZES + 7)]
    weeks = [replace(WEEK, signal=f"signal {i}") for i in range(MAX_SIGNALS + 4)]
    view = home_view(
        content(alerts=alerts, total_alerts=MAX_ALERTS + 60, snoozes=snoozes, weeks=weeks, notice="Done.")
    )
    assert len(view["blocks"]) <= MAX_BLOCKS
    assert block_problems(view["blocks"], max_blocks=100) == []
    mores = [t for t in texts(view) if t.startswith("and ")]
    assert mores == ["and 60 more", "and 7 more", "and 4 more"]
    assert texts(view)[1] == "Done."


@pytest.mark.parametrize("hostile", HOSTILE_STRINGS, ids=[f"hostile{i}" for i in range(len(HOSTILE_STRINGS))])
def test_no_name_can_mention_link_or_break_the_view(hostile):
    view = home_view(
        content(
            alerts=[replace(ALERT, account=hostile, signal=hostile)],
            snoozes=[replace(SNOOZE, account=hostile, snoozed_by=hostile or None)],
            weeks=[replace(WEEK, signal=hostile)],
        )
    )
    assert block_problems(view["blocks"], max_blocks=100) == []
    for text in texts(view):
        rest = text.replace("<https://acme-team.slack.com/archives/C0AE1/p1759996400000100|Open message>", "")
        rest = rest.replace("<@U0AE>", "")
        for token in ("<!channel", "<!here", "<!everyone", "<@", "<#", "<http", "<mailto", "<tel", "\u202e"):
            assert token not in rest
        assert "\x00" not in text


def test_a_reply_links_into_its_thread():
    url = message_url("https://acme.slack.com/", "C0AE1", "1700000100.000200", "1700000000.000100")
    assert url == (
        "https://acme.slack.com/archives/C0AE1/p1700000100000200?thread_ts=1700000000.000100&cid=C0AE1"
    )
    assert message_url("https://acme.slack.com/", "C0AE1", "1700000000.000100", "1700000000.000100") == (
        "https://acme.slack.com/archives/C0AE1/p1700000000000100"  # the first alert itself
    )
    assert message_url("https://acme.slack.com/", "C0AE1", "1700000100.000200", "<bad>") == (
        "https://acme.slack.com/archives/C0AE1/p1700000100000200"
    )
