"""What the one-off posting commands (`digest`, `report`) share: the settings and signals file checked
as `serve` would, and a worker's services for the length of the command, posting through the same
delivery as `serve` (paced, retried, posted at most once) and leaving to `serve` whatever Slack has
not taken when the command stops waiting."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable

from bot.app.container import Role, Services
from bot.config.settings import Settings
from bot.config.signals_file import SignalsConfig, SignalsFileError, load_signals
from bot.tools.migrate import bring_up_to_date

SEND_LIMIT_S = 120.0  # how long a command waits for Slack before leaving the rest to `serve`


def ready_to_post(
    command: str, check: Callable[[SignalsConfig], str | None] = lambda config: None
) -> tuple[Settings, SignalsConfig] | None:
    """The settings and signals file, the database brought up to date; None (the problem printed on
    stderr) when any of them is not fit to post with. `check` may name a problem of the file's."""
    settings = Settings()
    try:
        config = load_signals(settings.signals_config)
    except SignalsFileError as exc:
        print("\n".join(exc.lines()), file=sys.stderr)
        return None
    problem = check(config)
    if problem is not None:
        print(f"{command}: {problem}", file=sys.stderr)
        return None
    if not settings.slack_bot_token:
        print(f"{command}: SLACK_BOT_TOKEN is not set", file=sys.stderr)
        return None
    if not bring_up_to_date(settings, command):
        return None
    return settings, config


@contextlib.asynccontextmanager
async def posting_services(settings: Settings, config: SignalsConfig) -> AsyncIterator[Services]:
    """A worker's services, beating, for one command; stopped and retired when it ends."""
    services = Services(settings, config, role=Role.WORKER)
    await asyncio.to_thread(services.heartbeat.start)
    try:
        yield services
    finally:
        await services.delivery.stop()
        services.heartbeat.stop()
        await asyncio.to_thread(services.store.retire, services.worker_id)
        if "slack_session" in vars(services):
            await services.slack_session.close()
        services.store.dispose()


async def until_sent(services: Services) -> None:
    """Wait for what was queued to reach Slack, and for the automatic tasks a posted digest started,
    at most SEND_LIMIT_S in all (the rest stays for `serve`, whose sweep finds what is owed)."""

    async def sent() -> None:
        await services.delivery.drain()
        if "auto_tasks" in vars(services):  # made only when a posted digest had tasks to start
            await services.auto_tasks.drain()

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sent(), SEND_LIMIT_S)


async def outcome(services: Services, message_id: str, what: str) -> tuple[str, str]:
    """(status, a line saying where the message stands) of a queued message."""
    row = await asyncio.to_thread(services.store.outbox_row, message_id)
    status = row["status"] if row else "missing"
    channel = row["channel"] if row else "?"
    if status == "posted":
        return status, f"Posted the {what} to {channel}."
    if status == "failed":
        return status, f"The {what} for {channel} failed: {row['error'] if row else ''}"
    return status, f"The {what} for {channel} is queued ({status}); `serve` posts it."
