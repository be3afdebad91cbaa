"""Bolt listeners and the HTTP routes, kept thin: parse, call a service in `bot/`, respond."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bot.slack.ids import Carried, decode

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.context.async_context import AsyncBoltContext

    from bot.app.container import Services

log = logging.getLogger(__name__)
Listener = Callable[..., Awaitable[None]]
C = TypeVar("C", bound=Carried)


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


def carrying(kind: type[C], read: Callable[[dict[str, Any]], object]) -> Listener:
    """A listener middleware: what the control or form carries (`read` from the action or view),
    decoded once into `kind` for the listener's `carried` argument; None when it is not what the bot
    wrote, which the listener answers."""

    async def decode_carried(
        context: AsyncBoltContext, payload: object, next: Callable[[], Awaitable[None]]
    ) -> None:
        context["carried"] = decode(kind, read(payload) if isinstance(payload, dict) else None)
        await next()

    return decode_carried


def register(app: AsyncApp, services: Services) -> None:
    """Every Bolt listener, each given the services it uses. Imported here, not above, so the
    webhook's modules in this package load without Bolt (see bot/app/slack_side.py)."""
    from handlers import actions, commands, home, views

    # The Home tab's Unsnooze first: Bolt runs the first listener that matches a click, and this one
    # matches only clicks on a Home tab, which name no channel for the message's listener to check.
    home.register(app, services.home)
    actions.register(app, services.crm_tasks, services.snoozes, services.not_relevant)
    views.register(app, services.not_relevant)
    commands.register(app, services.commands)
