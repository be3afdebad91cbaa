"""`check --online --owner-of DOMAIN`: the `owner: crm` lookups for one domain, step by step, against the
fake HubSpot and Slack, uncached."""

from __future__ import annotations

from pathlib import Path

from bot.__main__ import main
from bot.tools.check import Finding
from bot.tools.check_online import owner_findings
from testkit.hubspot import TOKEN as HUBSPOT_TOKEN
from testkit.hubspot import FakeHubSpot
from testkit.slack import FakeSlack
from tests.conftest import make_settings

GRACE = "grace@example.com"


def test_each_step_is_reported_and_nothing_is_cached(tmp_path: Path, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("U0ADA", "ada@example.com", "Ada Lovelace")
    with FakeHubSpot() as hubspot:
        settings = make_settings(
            f"sqlite:///{tmp_path / 'c.db'}",
            fake_slack,
            hubspot_access_token=HUBSPOT_TOKEN,
            hubspot_api_url=hubspot.api_url,
        )
        assert owner_findings(settings, "acme.com") == [
            Finding("ok", "owner of acme.com: HubSpot company", "Acme Corp (101)"),
            Finding("ok", "owner of acme.com: HubSpot owner", "Ada Lovelace <ada@example.com> (id 111)"),
            Finding("ok", "owner of acme.com: Slack user", "U0ADA (ada@example.com)"),
            Finding("ok", "owner of acme.com", "owner from HubSpot: Ada Lovelace"),
        ]
        assert owner_findings(settings, "umbrella.io")[-2:] == [
            Finding("error", "owner of umbrella.io: Slack user", f"no Slack user with email {GRACE}"),
            Finding("error", "owner of umbrella.io", f"HubSpot owner {GRACE} has no Slack user"),
        ]
        assert owner_findings(settings, "initech.com")[-1] == Finding(
            "error", "owner of initech.com", "no HubSpot owner for initech.com"
        )
        assert len(fake_slack.calls("users.lookupByEmail")) == 2
    without = make_settings(f"sqlite:///{tmp_path / 'c.db'}", fake_slack)
    assert [f.status for f in owner_findings(without, "acme.com")] == ["error"]


def test_owner_of_needs_online(capsys) -> None:
    assert main(["check", "--owner-of", "acme.com"]) == 2
    assert "needs --online" in capsys.readouterr().err
