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
Tell = Callable[[dict[str, Any], str], Awaitable[None]]
C = TypeVar("C", bound=Carried)


def failure_notice(error: BaseException, changed: bool = True) -> str:
    """What the person who acted is told when their request failed unexpectedly (the database briefly
    unreachable, a bug): only the error's class, since its message may hold SQL or secrets. `changed`
    when the work may have partly happened before it failed, so the notice claims nothing about it."""
    name = type(error).__name__
    if not changed:
        return (
            f"Something went wrong on our side ({name}); nothing was changed by this click, "
            "try again in a moment."
        )
    return (
        f"Something went wrong on our side ({name}) and it was logged; this may not have been done, "
        "or only partly. Try again in a moment."
    )


def settled(listener: Listener, tell: Tell | None = None, *, changes: bool = True) -> Listener:
    """The listener, made never to raise into Bolt: when a listener fails moments after its ack,
    Bolt forgets the ack it is waiting for and answers Slack 404 after 3 seconds. The failure is
    logged here instead, a request not yet acknowledged is acknowledged, and the person who acted is
    told, ephemerally and the way the listener tells them of an `ActionError`: `tell` is given the
    listener's arguments and the `failure_notice` (False `changes` for a listener that only reads).
    A listener with no one to tell (an event, the Home tab) passes no `tell`: its failure is only
    logged. Bolt passes arguments by the listener's own parameter names, which it finds through
    `functools.wraps`."""

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        try:
            await listener(**kwargs)
        except Exception as exc:
            log.exception("%s failed", listener.__name__)
            ack = kwargs["ack"]
            if ack.response is None:
                await ack()
            if tell is not None:
                try:
                    await tell(kwargs, failure_notice(exc, changes))
                except Exception as told:  # e.g. the response_url the listener failed on
                    log.warning(
                        "%s could not tell the user it failed: %s", listener.__name__, type(told).__name__
                    )

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
