"""`#name` routes resolved to channel ids through `conversations.list` over real HTTP against the fake
Slack: every page read, and whatever Slack refuses or lacks left as written, said why."""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from bot.config.signals_file import SignalsConfig
from bot.slack import channels
from bot.slack.channels import channel_ids, channel_names, with_channel_ids
from testkit.slack import TOKEN

CONFIG = SignalsConfig.model_validate(
    {
        "signals": [{"name": "S", "event": "e"}],
        "routing": [
            {"when": {"company.country": ["DE"]}, "channel": "#sales-emea"},
            {"when": {"company.domain": ["acme.com"]}, "channel": "C0AE1"},
            {"channel": "#signals"},
        ],
        "reports": {"channel": "#revops", "every": "7d"},
    }
)


def _ids(fake_slack, names):
    async def go():
        return await channel_ids(AsyncWebClient(token=TOKEN, base_url=fake_slack.api_url), names)

    return asyncio.run(go())


def test_the_names_a_signals_file_routes_to():
    assert channel_names(CONFIG) == {"#sales-emea", "#signals", "#revops"}


def test_every_page_is_read_until_every_name_is_found(fake_slack, monkeypatch):
    monkeypatch.setattr(channels, "PAGE_SIZE", 2)
    fake_slack.channels = {f"c{i}": f"C{i:04d}" for i in range(7)} | {
        "sales-emea": "C0EMEA",
        "signals": "C0SIG",
    }
    ids, problem = _ids(fake_slack, channel_names(CONFIG) - {"#revops"})
    assert ids == {"#sales-emea": "C0EMEA", "#signals": "C0SIG"} and problem is None
    assert len(fake_slack.calls("conversations.list")) >= 2


def test_a_name_no_channel_has_stays_and_says_so(fake_slack):
    fake_slack.channels = {"signals": "C0SIG"}
    ids, problem = _ids(fake_slack, {"#signals", "#revops"})
    assert ids == {"#signals": "C0SIG"}
    assert problem == "no channel the bot can see is named #revops"


def test_without_channels_read_the_names_stay_and_the_scope_is_named(fake_slack):
    fake_slack.list_error = "missing_scope"
    ids, problem = _ids(fake_slack, {"#signals"})
    assert (
        ids == {}
        and problem == "conversations.list failed: missing_scope (add the scope channels:read,groups:read)"
    )


def test_resolved_names_replace_the_routes_and_the_reports_channel():
    resolved = with_channel_ids(CONFIG, {"#sales-emea": "C0EMEA", "#revops": "C0REVOPS"})
    assert [r.channel for r in resolved.routing] == ["C0EMEA", "C0AE1", "#signals"]
    assert resolved.reports is not None and resolved.reports.channel == "C0REVOPS"
    assert resolved.routing[0].when == CONFIG.routing[0].when
    assert with_channel_ids(CONFIG, {}) is CONFIG


def test_check_online_says_which_channel_each_name_is_and_which_stay_as_written(fake_slack, tmp_path):
    from bot.tools.check import Finding
    from bot.tools.check_online import channel_name_findings
    from tests.conftest import make_settings

    fake_slack.channels = {"signals": "C0SIG", "sales-emea": "C0EMEA"}
    settings = make_settings(f"sqlite:///{tmp_path / 'c.db'}", fake_slack)
    assert channel_name_findings(settings, CONFIG) == [
        Finding("ok", "channel #sales-emea", "is C0EMEA"),
        Finding("ok", "channel #signals", "is C0SIG"),
        Finding(
            "note",
            "channel names",
            "#revops stay as written: no channel the bot can see is named #revops; an interrupted post "
            "there cannot be verified, so write the channel's id or grant channels:read",
        ),
    ]


def test_a_slack_that_hangs_delays_the_worker_at_most_the_limit_and_the_names_stay(fake_slack, monkeypatch):
    monkeypatch.setattr(channels, "RESOLVE_LIMIT_S", 0.3)
    fake_slack.hangs["conversations.list"] = None

    async def go():
        return await channels.resolved(AsyncWebClient(token=TOKEN, base_url=fake_slack.api_url), CONFIG)

    assert asyncio.run(go()) is CONFIG
