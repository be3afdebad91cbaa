"""Bolt listeners, kept thin: parse, call a service in `bot/`, respond."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, views

if TYPE_CHECKING:
    from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    actions.register(app, services)
    views.register(app, services)
    commands.register(app, services)
