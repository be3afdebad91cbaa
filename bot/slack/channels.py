"""Routes may name a channel (`#sales`) instead of giving its id. Slack posts to a name, but reads a
channel's history (to verify an interrupted post) only by id, and the same channel written two ways
would get two threads and two digests a day. So a worker resolves the names once as it starts
(`conversations.list`, scope `channels:read`, and `groups:read` for private channels) and decides
with ids from then on. A name it cannot resolve (no scope, no such channel, Slack away) stays as
written, which is how such routes behaved before, and the worker says so in its log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.signals_file import SignalsConfig

log = logging.getLogger(__name__)
PAGE_SIZE = 1000  # conversations.list's most per page
MAX_PAGES = 50  # 50,000 channels; a workspace with more keeps the rest as names
LIST_TIMEOUT_S = 5.0  # one page
RESOLVE_LIMIT_S = 10.0  # every page: a worker waits no longer to start deciding


def channel_names(config: SignalsConfig) -> set[str]:
    """The `#name` channels the signals file routes to (its routes and its report)."""
    named = {route.channel for route in config.routing if route.channel.startswith("#")}
    if config.reports is not None and config.reports.channel.startswith("#"):
        named.add(config.reports.channel)
    return named


def with_channel_ids(config: SignalsConfig, ids: dict[str, str]) -> SignalsConfig:
    """The signals file with each resolved `#name` replaced by its channel id."""
    if not ids:
        return config
    routing = [
        route.model_copy(update={"channel": ids.get(route.channel, route.channel)})
        for route in config.routing
    ]
    update: dict[str, object] = {"routing": routing}
    if config.reports is not None and config.reports.channel in ids:
        update["reports"] = config.reports.model_copy(update={"channel": ids[config.reports.channel]})
    return config.model_copy(update=update)


async def channel_ids(client: AsyncWebClient, names: Iterable[str]) -> tuple[dict[str, str], str | None]:
    """({"#name": id} of the names found, what kept the others from being resolved, if anything)."""
    wanted = {name.lstrip("#").lower(): name for name in names}
    found: dict[str, str] = {}
    cursor: str | None = None
    try:
        for _ in range(MAX_PAGES):
            response = await asyncio.wait_for(
                client.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=PAGE_SIZE,
                    cursor=cursor,
                ),
                LIST_TIMEOUT_S,
            )
            for channel in response.get("channels") or []:
                name, channel_id = channel.get("name"), channel.get("id")
                if isinstance(name, str) and isinstance(channel_id, str) and name.lower() in wanted:
                    found[wanted[name.lower()]] = channel_id
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None or len(found) == len(wanted):
                break
    except SlackApiError as exc:
        error = str(exc.response.get("error") or exc.response.status_code)
        needed = exc.response.get("needed")
        scope = f" (add the scope {needed})" if error == "missing_scope" and needed else ""
        return found, f"conversations.list failed: {error}{scope}"
    except (TimeoutError, OSError, aiohttp.ClientError) as exc:
        return found, f"Slack did not answer conversations.list: {type(exc).__name__}"
    missing = sorted(set(wanted.values()) - set(found))
    return found, (f"no channel the bot can see is named {', '.join(missing)}" if missing else None)


async def resolved(client: AsyncWebClient, config: SignalsConfig) -> SignalsConfig:
    """`config` with its `#name` channels as ids where Slack says which they are (logged otherwise)."""
    names = channel_names(config)
    if not names:
        return config
    try:  # the worker starts deciding within RESOLVE_LIMIT_S, with or without the ids
        ids, problem = await asyncio.wait_for(channel_ids(client, names), RESOLVE_LIMIT_S)
    except Exception as exc:  # whatever went wrong, the routes work as written
        ids, problem = {}, f"resolving failed: {type(exc).__name__}"
    if problem:
        log.warning(
            "routes to %s stay as written: %s; an interrupted post there cannot be verified, and "
            "the same channel written as its id gets threads and digests of its own",
            ", ".join(sorted(set(names) - set(ids))),
            problem,
        )
    if ids:
        log.info("channel names resolved", extra={"channels": dict(sorted(ids.items()))})
    return with_channel_ids(config, ids)
