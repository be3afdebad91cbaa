"""`Composer`: an alert's summary (Claude's through the real `anthropic` SDK against the fake Messages
API, else the template), the summaries counter in `/metrics`, and the stored alert and its message
built from the details."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bot.alerts.compose import Composer
from bot.alerts.model import AlertDetails, HeldBack, Written
from bot.alerts.summary_claude import Summarizer, make_client
from bot.alerts.summary_template import template_summary
from bot.config.signals_file import Pii
from bot.decide.pipeline import AlertPlan
from bot.ops.metrics import Metrics
from bot.slack.blocks.alert import alert_message
from testkit.anthropic import API_KEY, GOOD, FakeAnthropic, error, text_message
from tests.support.factories import acme_facts

CLAUDE_SUMMARY = (
    "Series B fintech with 240 people matching 5 of 5 ICP criteria. They also activated the API "
    "integration recently. Next step: Book a demo within 48 hours to convert the trial."
)


@pytest.fixture
def fake_claude() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def summarizer(fake: FakeAnthropic, metrics: Metrics) -> Summarizer:
    """Claude as `serve` configures it, with a token budget kept in a list instead of the store."""
    spent: list[int] = []

    async def tokens_spent() -> int:
        return sum(spent)

    async def add_tokens(tokens: int) -> None:
        spent.append(tokens)

    client = make_client(API_KEY, fake.base_url, 5.0)
    return Summarizer(client, "claude-haiku-4-5", 5.0, Pii(), metrics, tokens_spent, add_tokens, 100_000)


def summaries(metrics: Metrics) -> dict[str, float]:
    """`signals_summaries_total` by kind, as `/metrics` shows it."""
    return {
        kind: metrics.registry.get_sample_value("signals_summaries_total", {"kind": kind}) or 0.0
        for kind in ("claude", "template")
    }


def test_without_claude_the_summary_is_the_template():
    metrics = Metrics()
    facts = acme_facts()
    details = asyncio.run(Composer(metrics).details(facts))
    assert details == AlertDetails.of(facts, template_summary(facts))
    assert details.summary.startswith("Trial user from Acme Corp finished onboarding.")
    assert details.written is None
    assert summaries(metrics) == {"claude": 0.0, "template": 1.0}


def test_claude_writes_the_summary_when_it_answers(fake_claude):
    metrics = Metrics()
    details = asyncio.run(Composer(metrics, summarizer(fake_claude, metrics)).details(acme_facts()))
    assert details.summary == CLAUDE_SUMMARY
    assert details.written == Written(**GOOD)
    assert summaries(metrics) == {"claude": 1.0, "template": 0.0}
    [request] = fake_claude.sent()
    assert request["model"] == "claude-haiku-4-5"
    assert "jane@acme.com" not in str(request)  # the email leaves as its domain only


@pytest.mark.parametrize(
    ("reply", "result"),
    [
        (error(529, "overloaded_error", "Overloaded"), "overloaded"),
        (error(401, "authentication_error", "invalid x-api-key"), "auth"),
        (text_message("Acme looks great, call them!"), "invalid_output"),
    ],
    ids=["overloaded", "auth", "prose"],
)
def test_when_claude_fails_the_template_is_used_and_the_failure_counted(fake_claude, reply, result):
    fake_claude.script(reply)
    metrics = Metrics()
    facts = acme_facts()
    details = asyncio.run(Composer(metrics, summarizer(fake_claude, metrics)).details(facts))
    assert details.summary == template_summary(facts) and details.written is None
    assert summaries(metrics) == {"claude": 0.0, "template": 1.0}
    assert metrics.registry.get_sample_value("signals_llm_calls_total", {"result": result}) == 1.0


def test_the_alert_is_its_details_and_the_message_built_from_them():
    facts = acme_facts(held_back=HeldBack(3, "U0SNOOZER", 1_760_000_000.0))
    alert = asyncio.run(Composer(Metrics()).compose(AlertPlan(facts, 86400.0, "snooze-1")))
    details = AlertDetails.of(facts, template_summary(facts))
    assert alert.details == details
    assert alert.message == alert_message(details)
    assert (alert.cooldown_s, alert.reports_snooze) == (86400.0, "snooze-1")
    assert (alert.id, alert.signal, alert.account) == (
        facts.alert_id,
        "Trial finished onboarding",
        "acme.com",
    )
    assert (alert.channel, alert.owner, alert.score) == ("C0AE1", "U0OWNER1", 100)
    assert "3 signals were held back while <@U0SNOOZER> snoozed this account" in str(alert.message)
