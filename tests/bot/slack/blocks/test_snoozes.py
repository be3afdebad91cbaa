"""`/posthog snoozes`: its exact Block Kit, the cap on how many are listed, who is mentioned, and each
snooze shown as the Home tab shows it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.slack.blocks.home import NAME_LIMIT, HomeContent, home_view
from bot.slack.blocks.snoozes import MAX_LISTED, snoozes_list
from bot.store.account_state import Snooze
from tests.bot.slack.blocks.test_alert import HOSTILE_STRINGS

SNOOZE = Snooze("0b1c2d3e", "acme.com", 1_800_000_000, "U0AE", 1_700_000_000, "5f0c6d2a", 0)


def test_the_list_is_exactly_as_designed():
    text, blocks = snoozes_list(
        [SNOOZE, replace(SNOOZE, id="9f8e7d6c", account="<b>globex.de</b>", snoozed_by=None)]
    )
    assert text == "2 snoozed account(s) from this channel's alerts"
    assert blocks == [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*2 snoozed account(s) from this channel's alerts*"},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "verbatim": True,
                "text": "*acme.com* until <!date^1800000000^{date_short_pretty}|Fri 15 Jan>, by <@U0AE>",
            },
            "accessory": {
                "type": "button",
                "action_id": "unsnooze",
                "value": "0b1c2d3e",
                "text": {"type": "plain_text", "text": "Unsnooze", "emoji": True},
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "verbatim": True,
                "text": (
                    "*&lt;b&gt;globex.de&lt;/b&gt;* until "
                    "<!date^1800000000^{date_short_pretty}|Fri 15 Jan>, by someone"
                ),
            },
            "accessory": {
                "type": "button",
                "action_id": "unsnooze",
                "value": "9f8e7d6c",
                "text": {"type": "plain_text", "text": "Unsnooze", "emoji": True},
            },
        },
    ]


def test_nothing_snoozed_says_so():
    assert snoozes_list([]) == ("No account is snoozed from this channel's alerts.", [])


def test_a_long_list_ends_with_how_many_more():
    text, blocks = snoozes_list([replace(SNOOZE, id=f"s{i}") for i in range(MAX_LISTED + 3)])
    assert text.startswith(f"{MAX_LISTED + 3} snoozed")
    assert len(blocks) == 1 + MAX_LISTED + 1
    assert blocks[-1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "and 3 more"}]}


@pytest.mark.parametrize("by", [*HOSTILE_STRINGS[:3], "U0AE><!channel>", "U0AE|<!here>", None])
def test_the_snoozes_list_mentions_only_a_slack_user_id(by):
    snooze = Snooze("s1", "acme.com", 1_800_000_000, by, 1_700_000_000, "a1", 0)
    text = snoozes_list([snooze])[1][1]["text"]["text"]
    assert text.endswith(", by someone")
    assert "<@" not in text and "<!channel" not in text and "<!here" not in text
    assert snoozes_list([replace(snooze, snoozed_by="U0AE")])[1][1]["text"]["text"].endswith("by <@U0AE>")


def test_a_snooze_reads_the_same_in_the_list_and_on_the_home_tab():
    long = replace(SNOOZE, account="<b>" + "very-long-company-name-" * 20 + "</b>")
    listed = snoozes_list([long])[1][1]
    home = home_view(HomeContent(alerts=[], total_alerts=0, snoozes=[long], weeks=None, now=1_700_000_000))
    [on_home] = [b for b in home["blocks"] if b.get("accessory")]
    assert listed == on_home
    name = listed["text"]["text"].split("* until ")[0].removeprefix("*")
    assert name.startswith("&lt;b&gt;very-long-company-name-") and name.endswith("…")
    assert len(name) <= NAME_LIMIT  # a long name is cut, counting its escapes
