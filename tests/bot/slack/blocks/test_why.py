"""`/posthog why`'s Block Kit: nothing from the ledger or the signals file becomes markup."""

from __future__ import annotations

import json

from bot.commands.why import Cooldown, Story, target_of
from bot.decide.outcomes import Outcome, SignalDecision
from bot.slack.blocks.why import why_message
from bot.store.why import StoryEntry
from testkit.slack import block_problems


def test_the_story_escapes_what_it_quotes_and_stays_within_slacks_limits():
    hostile = SignalDecision(signal="<!channel>", outcome=Outcome.FILTERED, reason="needs <@U0ADMIN> & more")
    entries = [
        StoryEntry(f"e{i}", "<https://evil.example|ok>", "u1", "acme.com", "filtered", [hostile], 1.7e9 - i)
        for i in range(20)
    ]
    story = Story(target_of("acme.com"), entries, None, None, 1.8e9, [Cooldown("<!here>", 1.8e9)], 1.7e9)
    text, blocks = why_message(story)
    shown = json.dumps(blocks) + text
    assert "<!channel>" not in shown and "<!here>" not in shown and "<@U0ADMIN>" not in shown
    assert "<https://evil" not in shown and "&lt;!channel&gt;" in shown
    assert block_problems(blocks) == [] and len(blocks) <= 50
