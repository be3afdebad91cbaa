"""Bolt listeners and the HTTP routes, kept thin: parse, call a service in `bot/`, respond."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    """Every Bolt listener. Imported here, not above, so the webhook's modules in this package load
    without Bolt (see bot/slack_app.py)."""
    from handlers import actions, commands, views

    actions.register(app, services)
    views.register(app, services)
    commands.register(app, services)
