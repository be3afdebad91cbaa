"""The command line as an operator uses it: serve refuses without secrets, check names every
problem, demo runs the whole loop offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testkit.enrichment import signals_with_http_provider
from testkit.examples import EXAMPLE_SIGNALS, ROOT
from testkit.hubspot import TOKEN as HUBSPOT_TOKEN
from testkit.hubspot import FakeHubSpot
from testkit.posthog import PROJECT_KEY
from testkit.slack import TOKEN
from tests.support.command_line import required_settings, run


def _secrets(tmp_path: Path) -> dict[str, str]:
    return required_settings(f"sqlite:///{tmp_path / 'check.db'}")


def test_serve_refuses_to_start_and_names_missing_secrets(tmp_path):
    result = run(["serve"], tmp_path, SLACK_BOT_TOKEN=TOKEN)
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET" in result.stderr and "POSTHOG_WEBHOOK_SECRET" in result.stderr
    assert "SLACK_BOT_TOKEN" not in result.stderr.split("missing required setting(s):")[1].split("\n")[0]


@pytest.mark.parametrize("command", ["serve", "stats"])
def test_a_setting_out_of_range_is_named_with_its_reason_not_a_traceback(tmp_path, command):
    result = run([command], tmp_path, **{**_secrets(tmp_path), "LEDGER_RETENTION_DAYS": "30"})
    assert result.returncode == 2
    reason = "must be 0 (keep every entry) or at least 91 days"
    assert f"{command}: LEDGER_RETENTION_DAYS: {reason}" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_broken_signals_file(tmp_path):
    broken = tmp_path / "signals.yml"
    broken.write_text("signals: []\nrouting: [{channel: C0X}]\n")
    result = run(["serve"], tmp_path, **{**_secrets(tmp_path), "SIGNALS_CONFIG": str(broken)})
    assert result.returncode == 2
    assert "signals.yml: signals:" in result.stderr


def _sending_the_slack_token_elsewhere(tmp_path: Path) -> Path:
    """A signals file whose enrichment API, on someone else's host, would receive SLACK_BOT_TOKEN."""
    return signals_with_http_provider(
        tmp_path / "signals.yml", "https://collector.example.net", "SLACK_BOT_TOKEN"
    )


def test_serve_refuses_an_enrichment_credential_that_is_one_of_its_own_settings(tmp_path):
    signals = _sending_the_slack_token_elsewhere(tmp_path)
    result = run(["serve"], tmp_path, **{**_secrets(tmp_path), "SIGNALS_CONFIG": str(signals)})
    assert result.returncode == 2
    assert f"{signals}: enrichment.http.auth_env: SLACK_BOT_TOKEN is one of the bot's own settings" in (
        result.stderr
    )


def test_check_passes_on_the_example(tmp_path):
    result = run(["check"], tmp_path, **_secrets(tmp_path))
    assert result.returncode == 0, result.stdout
    assert "All good" in result.stdout
    said = " ".join(result.stdout.split())
    assert "daily at 09:00 Europe/Amsterdam, for Looked at pricing" in said
    assert "every 1w to C0REVOPS, the first one 1w after `serve` first starts" in said


def test_check_names_file_path_and_reason(tmp_path):
    broken = tmp_path / "signals.yml"
    text = EXAMPLE_SIGNALS.read_text().replace(
        "{properties.feature_name: [api_integration]}", "{feature_name: x}"
    )
    text = text.replace("min_score: 50", "min_score: 500").replace(
        "file: companies.json", "file: missing.json"
    )
    broken.write_text(text)
    result = run(["check"], tmp_path, **{**_secrets(tmp_path), "SIGNALS_CONFIG": str(broken)})
    assert result.returncode == 1
    assert (
        f"error: {broken}: signals[0].min_score: Input should be less than or equal to 100" in result.stdout
    )
    assert f"error: {broken}: signals[1].where: 'feature_name' must start with one of" in result.stdout


def test_check_refuses_an_enrichment_credential_that_is_one_of_its_own_settings(tmp_path):
    signals = _sending_the_slack_token_elsewhere(tmp_path)
    result = run(["check"], tmp_path, **{**_secrets(tmp_path), "SIGNALS_CONFIG": str(signals)})
    assert result.returncode == 1
    assert (
        f"error: {signals}: enrichment.http.auth_env: SLACK_BOT_TOKEN is one of the bot's own settings"
        in result.stdout
    )
    assert TOKEN not in result.stdout + result.stderr


def test_check_reports_missing_secrets_and_unreachable_database(tmp_path):
    result = run(
        ["check"],
        tmp_path,
        SIGNALS_CONFIG=str(EXAMPLE_SIGNALS),
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
    )
    assert result.returncode == 1
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "POSTHOG_WEBHOOK_SECRET", "DATABASE_URL"):
        assert f"error: {name}:" in result.stdout


def test_check_online_tries_each_credential(tmp_path, fake_slack, fake_posthog):
    env = {
        **_secrets(tmp_path),
        "SLACK_API_URL": fake_slack.api_url,
        "POSTHOG_HOST": fake_posthog.url,
        "POSTHOG_PROJECT_API_KEY": PROJECT_KEY,
    }
    good = run(["check", "--online"], tmp_path, **env)
    assert good.returncode == 0, good.stdout
    assert fake_slack.calls("auth.test")
    bad = run(
        ["check", "--online"],
        tmp_path,
        **{**env, "SLACK_BOT_TOKEN": "xoxb-wrong", "POSTHOG_PROJECT_API_KEY": "phc_wrong"},
    )
    assert bad.returncode == 1
    assert "error: SLACK_BOT_TOKEN: Slack says invalid_auth" in bad.stdout
    assert "error: POSTHOG_PROJECT_API_KEY: HTTP 401" in bad.stdout


def test_check_online_tries_the_hubspot_token_on_a_call_the_bot_makes(tmp_path, fake_slack):
    with FakeHubSpot() as hubspot:
        env = {**_secrets(tmp_path), "HUBSPOT_API_URL": hubspot.api_url, "SLACK_API_URL": fake_slack.api_url}
        good = run(["check", "--online"], tmp_path, **env, HUBSPOT_ACCESS_TOKEN=HUBSPOT_TOKEN)
        assert good.returncode == 0, good.stdout
        assert [r.path for r in hubspot.requests] == ["/account-info/v3/details"]
        bad = run(["check", "--online"], tmp_path, **env, HUBSPOT_ACCESS_TOKEN="pat-na1-wrong")
        assert bad.returncode == 1
        assert "error: HUBSPOT_ACCESS_TOKEN: HTTP 401" in bad.stdout


@pytest.mark.timeout(90)
def test_demo_runs_the_whole_loop_offline(tmp_path):
    result = run(["demo"], ROOT, HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Trial user from Acme Corp finished onboarding. Series B fintech, 240 people." in out
    assert "Also activated the API integration 2 days ago." in out
    assert "Block Kit Builder: https://app.slack.com/block-kit-builder/#" in out
    for outcome in (
        "alerted",
        "duplicate",
        "filtered",
        "below_threshold",
        "cooldown",
        "snoozed",
        "accumulating",
    ):
        assert outcome in out
    # The delivery no signal listens to is counted, not stored: the demo still says what became of it.
    assert re.search(r"\$pageview\s+│\s+-\s+│\s+filtered\s+│\s+no signal listens to this event", out)
    flat = " ".join(out.split())
    assert "9 Slack messages: 2 of them replies in an account's thread, 1 digest" in flat
    assert "1 report (sent now; every 1w to C0REVOPS when serving)" in flat
    assert "Signals report, last 7 days" in out and "· the report" in out
    assert "🧵 2 more signals in the thread · latest: Reports are spreading" in out  # the first, updated
    assert "Signals digest: 2 accounts" in out and "Looked at pricing: in the C0AE1 digest" in out
    assert "2 report_shared in 7 days by 2 people" in out  # the threshold the last alert fired on
    assert "<!here> Richard <@U0CEO>" in out  # shown as text; Slack receives it escaped
    assert not list(tmp_path.iterdir())  # nothing left behind


def test_report_without_reports_in_the_signals_file_says_what_to_add(tmp_path):
    signals = tmp_path / "signals.yml"
    signals.write_text(EXAMPLE_SIGNALS.read_text().replace("reports: {channel: C0REVOPS, every: 7d}", ""))
    (tmp_path / "companies.json").write_text((EXAMPLE_SIGNALS.parent / "companies.json").read_text())
    result = run(["report"], tmp_path, **{**_secrets(tmp_path), "SIGNALS_CONFIG": str(signals)})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "report: the signals file has no `reports`; add e.g. `reports: {channel: C0REVOPS, every: 7d}`"
    )
