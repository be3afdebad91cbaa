"""What the bot sends to PostHog says it is the bot's own doing."""

from __future__ import annotations

from bot import __version__
from bot.clients.posthog_writer import stamp_library


def test_every_message_is_stamped_with_the_bots_library_name_and_version():
    message = {"event": "signal_feedback", "properties": {"$lib": "web", "reason": "already_working"}}
    assert stamp_library(message) is message
    assert message["properties"] == {
        "$lib": "posthog-slack-signals",
        "$lib_version": __version__,
        "reason": "already_working",
    }
    assert stamp_library({"event": "$set"})["properties"] == {
        "$lib": "posthog-slack-signals",
        "$lib_version": __version__,
    }
