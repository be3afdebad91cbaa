"""The demo's terminal preview of a Slack message: what Slack would show, without a workspace."""

from __future__ import annotations

import json
from urllib.parse import unquote

from rich.console import Console

from bot.alerts.model import AlertDetails
from bot.alerts.summary_template import template_summary
from bot.slack.blocks.alert import alert_message
from bot.tools.preview import BLOCK_KIT_BUILDER, block_kit_builder_url, mrkdwn_to_text, render_message
from tests.support.factories import acme_facts


def test_mrkdwn_reads_as_slack_shows_it():
    text = mrkdwn_to_text(
        "*Acme* &amp; co: <https://us.posthog.com/p|Open> by <@U0AE> :white_check_mark: &lt;b&gt;"
    )
    assert text.plain == "Acme & co: Open↗ by @U0AE ✅ <b>"
    assert [text.plain[span.start : span.end] for span in text.spans if span.style == "bold"] == ["Acme"]


def test_the_builder_link_carries_the_blocks():
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "a & b"}}]
    url = block_kit_builder_url(blocks)
    assert url.startswith(BLOCK_KIT_BUILDER)
    assert json.loads(unquote(url[len(BLOCK_KIT_BUILDER) :])) == {"blocks": blocks}


def test_an_alert_renders_with_its_channel_text_and_buttons():
    facts = acme_facts()
    console = Console(record=True, width=120, color_system=None)
    console.print(render_message("C0AE1", alert_message(AlertDetails.of(facts, template_summary(facts)))))
    shown = console.export_text()
    assert "#C0AE1" in shown and "chat.postMessage" in shown
    assert "Acme Corp: Trial finished onboarding" in shown
    assert "[ Create CRM task ]" in shown and "[ Open in PostHog ↗ ]" in shown
    assert "&amp;" not in shown and "<https://" not in shown
