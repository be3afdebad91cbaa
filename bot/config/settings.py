"""Process settings from the environment (or `.env`), named exactly as the SPEC's contract.

Secrets are `SecretStr` so they never show up in logs, reprs or error messages.
"""

from __future__ import annotations

from functools import cached_property
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config.signals_file import MAX_THRESHOLD_WINDOW, THRESHOLD_EVENTS_KEPT

DEFAULT_SUMMARY_MODEL = "claude-haiku-4-5"
# The shortest ledger retention: past the longest window a decision looks back over (a threshold's,
# up to 90 days; an account's 30-day history and a snooze of at most 30 days are shorter), plus a day.
MIN_LEDGER_RETENTION_DAYS = THRESHOLD_EVENTS_KEPT.days


def derive_app_host(ingest_host: str) -> str:
    """`https://us.i.posthog.com` -> `https://us.posthog.com`; other hosts stay as they are."""
    parts = urlsplit(ingest_host.rstrip("/"))
    host = parts.netloc
    for region in ("us", "eu"):
        if host == f"{region}.i.posthog.com":
            host = f"{region}.posthog.com"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    posthog_host: str = "https://us.i.posthog.com"
    posthog_app_host_setting: str | None = Field(default=None, alias="POSTHOG_APP_HOST")
    posthog_project_api_key: SecretStr | None = None
    posthog_personal_api_key: SecretStr | None = None
    posthog_project_id: str | None = None
    posthog_webhook_secret: SecretStr | None = None
    posthog_webhook_signing_secret: SecretStr | None = None

    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    summary_model: str = DEFAULT_SUMMARY_MODEL
    summary_timeout_s: float = Field(default=4.0, gt=0)

    hubspot_access_token: SecretStr | None = None
    hubspot_api_url: str = "https://api.hubapi.com"

    database_url: str = "sqlite:///signals.db"
    signals_config: str = "signals.yml"
    port: int = Field(default=3000, ge=1, le=65535)
    webhook_max_bytes: int = Field(default=1024 * 1024, ge=1024)

    # Operational knobs beyond the contract; the defaults suit production.
    log_level: str = "INFO"
    worker_concurrency: int = Field(default=16, ge=1, le=256)
    slack_retry_backoff_s: float = Field(default=0.5, ge=0)
    max_connections: int = Field(default=1000, ge=16)  # open HTTP connections (also capped by `ulimit -n`)
    # Days a decided event's body is kept (its inbox row and ledger entry stay); 0 keeps them all.
    event_payload_retention_days: int = Field(default=30, ge=0)
    # Days a ledger entry is kept after its decision (`signal_hours` keeps `stats` counts); 0 keeps all.
    ledger_retention_days: int = Field(default=395, ge=0)

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url_ends_with_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("posthog_host", "hubspot_api_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("ledger_retention_days")
    @classmethod
    def _ledger_kept_past_every_window(cls, value: int) -> int:
        if 0 < value < MIN_LEDGER_RETENTION_DAYS:
            raise ValueError(
                f"must be 0 (keep every entry) or at least {MIN_LEDGER_RETENTION_DAYS} days, longer "
                f"than any window a decision reads (a threshold's, up to {MAX_THRESHOLD_WINDOW.days} "
                f"days), not {value}"
            )
        return value

    @cached_property
    def posthog_app_host(self) -> str:
        """Where the PostHog app lives: links, Query API, Persons API."""
        if self.posthog_app_host_setting:
            return self.posthog_app_host_setting.rstrip("/")
        return derive_app_host(self.posthog_host)

    def missing_for_serve(self) -> list[str]:
        """Names of the secrets `serve` cannot run without."""
        required = {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "POSTHOG_WEBHOOK_SECRET": self.posthog_webhook_secret,
        }
        return [
            name for name, value in required.items() if value is None or not value.get_secret_value().strip()
        ]


def secret(value: SecretStr | None) -> str | None:
    """The plain value of an optional secret, or None when unset or blank."""
    if value is None:
        return None
    plain = value.get_secret_value().strip()
    return plain or None
