"""Settings from the environment, named as the SPEC's contract: where the PostHog app lives, URL
spellings that would break requests, which secrets `serve` cannot run without, secrets kept out
of reprs, and a ledger retention no shorter than what a decision reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.config.settings import MIN_LEDGER_RETENTION_DAYS, Settings, secret
from bot.config.signals_file import MAX_THRESHOLD_WINDOW
from bot.decide.pipeline import HISTORY_WINDOW_S
from bot.slack.ids import SnoozeChoice


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("posthog_host", "app_host"),
    [
        ("https://us.i.posthog.com", "https://us.posthog.com"),
        ("https://eu.i.posthog.com/", "https://eu.posthog.com"),
        ("https://posthog.example.com", "https://posthog.example.com"),
    ],
)
def test_the_app_host_follows_the_ingest_host(posthog_host, app_host):
    assert settings(posthog_host=posthog_host).posthog_app_host == app_host


def test_posthog_app_host_in_the_environment_wins(monkeypatch):
    monkeypatch.setenv("POSTHOG_APP_HOST", "https://posthog.internal/")
    assert settings(posthog_host="https://eu.i.posthog.com").posthog_app_host == "https://posthog.internal"


def test_urls_are_spelled_as_the_clients_need_them():
    spelled = settings(
        slack_api_url="http://127.0.0.1:9/api",
        posthog_host="https://us.i.posthog.com/",
        hubspot_api_url="https://hub/",
    )
    assert (spelled.slack_api_url, spelled.posthog_host, spelled.hubspot_api_url) == (
        "http://127.0.0.1:9/api/",
        "https://us.i.posthog.com",
        "https://hub",
    )


def test_serve_names_each_secret_it_lacks_and_a_blank_one_is_lacking():
    assert settings().missing_for_serve() == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "POSTHOG_WEBHOOK_SECRET",
    ]
    ready = settings(slack_bot_token="xoxb-1", slack_signing_secret="  ", posthog_webhook_secret="s")
    assert ready.missing_for_serve() == ["SLACK_SIGNING_SECRET"]


def test_secrets_stay_out_of_reprs_and_blank_ones_are_unset():
    configured = settings(slack_bot_token="xoxb-very-secret", anthropic_api_key=" ")
    assert "xoxb-very-secret" not in repr(configured)
    assert secret(configured.slack_bot_token) == "xoxb-very-secret"
    assert secret(configured.anthropic_api_key) is None and secret(None) is None


def test_the_ledger_is_kept_395_days_unless_told_otherwise(monkeypatch):
    assert settings().ledger_retention_days == 395
    monkeypatch.setenv("LEDGER_RETENTION_DAYS", "0")  # keeps every entry
    assert settings().ledger_retention_days == 0
    monkeypatch.setenv("LEDGER_RETENTION_DAYS", str(MIN_LEDGER_RETENTION_DAYS))
    assert settings().ledger_retention_days == MIN_LEDGER_RETENTION_DAYS


@pytest.mark.parametrize("days", [1, 30, MIN_LEDGER_RETENTION_DAYS - 1])
def test_a_ledger_retention_shorter_than_a_decision_reads_is_refused(monkeypatch, days):
    monkeypatch.setenv("LEDGER_RETENTION_DAYS", str(days))
    with pytest.raises(ValidationError) as refused:
        settings()
    [error] = refused.value.errors()
    assert error["loc"] == ("ledger_retention_days",)
    assert error["msg"] == (
        f"Value error, must be 0 (keep every entry) or at least 91 days, longer than any window a "
        f"decision reads (a threshold's, up to 90 days), not {days}"
    )


def test_a_negative_ledger_retention_is_refused():
    with pytest.raises(ValidationError):
        settings(ledger_retention_days=-1)


def test_the_shortest_ledger_retention_outlasts_every_window_a_decision_reads():
    """A threshold's window (its events are in their own table, but `why` explains them from the
    ledger), an account's history ("also did X lately"), and the longest snooze (what it held back
    is counted when it ends; one not yet reported keeps its entries, bot/store/retention.py)."""
    shortest = timedelta(days=MIN_LEDGER_RETENTION_DAYS)
    assert shortest > MAX_THRESHOLD_WINDOW
    assert shortest > timedelta(seconds=HISTORY_WINDOW_S)
    assert shortest > timedelta(seconds=max(choice.seconds for choice in SnoozeChoice))
