"""Settings from the environment, named as the SPEC's contract: where the PostHog app lives, URL
spellings that would break requests, which secrets `serve` cannot run without, and secrets kept out
of reprs."""

from __future__ import annotations

import pytest

from bot.config.settings import Settings, secret


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
