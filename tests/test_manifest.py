"""`manifest.yml` against what the code registers and calls, and against Slack's manifest field limits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.config.signals_file import load_signals
from bot.slack.ids import SLASH_COMMAND, AlertAction, NotRelevantModal
from handlers import register
from testkit.examples import EXAMPLE_SIGNALS, ROOT
from tests.conftest import make_settings

MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
# Slack Web API methods the code calls, and the bot scope each needs (None: no scope, or optional).
SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "views_open": None,
    "views_publish": None,  # the Home tab
    "files_upload_v2": "files:write",
    "auth_test": None,
    "conversations_history": None,  # optional: channels:history lets a restart verify an interrupted post
    "conversations_replies": None,  # the same, for an interrupted reply in a thread
    "conversations_list": None,  # optional: channels:read resolves `#name` routes to channel ids
    "users_lookupByEmail": "users:read.email",  # owner: crm
}
# Events API subscriptions: each event the code listens to, and the bot scope it needs (None: none).
EVENTS = {"app_home_opened": None}


class Recorder:
    """Stands in for Bolt's app to see what `handlers.register` registers."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.actions: list[str] = []
        self.views: list[str] = []
        self.events: list[str] = []

    def _record(self, bucket: list[str], key: Any) -> Any:
        bucket.append(key)
        return lambda listener: listener

    def command(self, name: str) -> Any:
        return self._record(self.commands, name)

    def action(self, action_id: str, **options: Any) -> Any:
        return self._record(self.actions, action_id)

    def view(self, callback_id: str, **options: Any) -> Any:
        return self._record(self.views, callback_id)

    def event(self, event_type: str, **options: Any) -> Any:
        return self._record(self.events, event_type)


def _registered(tmp_path: Path) -> Recorder:
    from bot.app.container import Services

    settings = make_settings(f"sqlite:///{tmp_path / 'm.db'}")
    services = Services(settings, load_signals(EXAMPLE_SIGNALS))
    recorder = Recorder()
    register(recorder, services)  # type: ignore[arg-type]
    services.store.dispose()
    return recorder


def test_every_command_and_control_the_code_handles_is_reachable(tmp_path):
    registered = _registered(tmp_path)
    commands = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    assert set(registered.commands) == commands == {SLASH_COMMAND}
    assert set(AlertAction) <= set(registered.actions)
    assert NotRelevantModal.CALLBACK in registered.views
    interactivity = MANIFEST["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True  # buttons, selects and modals need it
    urls = [interactivity["request_url"], *(c["url"] for c in MANIFEST["features"]["slash_commands"])]
    assert all(url.startswith("https://") and url.endswith("/slack/events") for url in urls)
    events = MANIFEST["settings"]["event_subscriptions"]
    assert set(events["bot_events"]) == set(registered.events) == set(EVENTS)  # none unused, none missing
    assert not events.get("user_events")
    assert events["request_url"].startswith("https://") and events["request_url"].endswith("/slack/events")
    home = MANIFEST["features"]["app_home"]  # app_home_opened comes only with the Home tab on
    assert home == {
        "home_tab_enabled": True,
        "messages_tab_enabled": False,
        "messages_tab_read_only_enabled": False,
    }


def test_every_scope_the_code_needs_is_granted_and_no_more():
    source = "\n".join(p.read_text() for p in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py")])
    called = set(
        re.findall(r"\.(chat_\w+|views_\w+|files_\w+|conversations_\w+|users_\w+|auth_\w+)\(", source)
    )
    unknown = called - set(SCOPES)
    assert not unknown, f"add the scopes of {unknown} to this test and to manifest.yml"
    needed = {SCOPES[m] for m in called if SCOPES[m]} | {e for e in EVENTS.values() if e} | {"commands"}
    granted = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert needed <= granted
    assert {"views_publish", "users_lookupByEmail"} <= called
    assert granted == {
        "commands",
        "chat:write",
        "chat:write.public",
        "files:write",
        "users:read",
        "users:read.email",
    }


def test_field_limits():
    info = MANIFEST["display_information"]
    assert 1 <= len(info["name"]) <= 35 and len(info["description"]) <= 140
    assert 174 <= len(info["long_description"]) <= 4000
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", info["background_color"])
    bot_user = MANIFEST["features"]["bot_user"]
    assert len(bot_user["display_name"]) <= 80 and re.fullmatch(r"[a-z0-9._-]+", bot_user["display_name"])
    for command in MANIFEST["features"]["slash_commands"]:
        assert re.fullmatch(r"/[a-z0-9_-]{1,31}", command["command"])
        assert command["description"] and len(command["description"]) <= 2000
        assert len(command.get("usage_hint", "")) <= 1000
    assert MANIFEST["_metadata"]["major_version"] == 1
