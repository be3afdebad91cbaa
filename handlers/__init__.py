"""Bolt listeners and the HTTP routes, kept thin: parse, call a service in `bot/`, respond."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.app.container import Services

log = logging.getLogger(__name__)
Listener = Callable[..., Awaitable[None]]


def settled(listener: Listener) -> Listener:
    """The listener, made never to raise into Bolt: when a listener fails moments after its ack,
    Bolt forgets the ack it is waiting for and answers Slack 404 after 3 seconds. The failure is
    logged here instead, and a request not yet acknowledged is acknowledged. Bolt passes arguments
    by the listener's own parameter names, which it finds through `functools.wraps`."""

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        try:
            await listener(**kwargs)
        except Exception:
            log.exception("%s failed", listener.__name__)
            ack = kwargs["ack"]
            if ack.response is None:
                await ack()

    return run


def register(app: AsyncApp, services: Services) -> None:
    """Every Bolt listener. Imported here, not above, so the webhook's modules in this package load
    without Bolt (see bot/app/slack_side.py)."""
    from handlers import actions, commands, views

    actions.register(app, services)
    views.register(app, services)
    commands.register(app, services)
