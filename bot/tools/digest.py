"""`python -m bot digest`: every pending digest, now. Each channel with `deliver: digest` alerts waiting
gets its message from this process, through the same delivery as `serve` (paced, retried, posted at
most once), as does a digest taken earlier that is not in Slack yet; run again with nothing waiting,
it posts nothing."""

from __future__ import annotations

import asyncio
import contextlib
import sys

from bot.app.container import Role, Services
from bot.config.settings import Settings
from bot.config.signals_file import SignalsConfig, SignalsFileError, load_signals
from bot.tools.migrate import bring_up_to_date

SEND_LIMIT_S = 120.0  # how long this command waits for Slack before leaving the rest to `serve`


def run_digest() -> int:
    settings = Settings()
    try:
        config = load_signals(settings.signals_config)
    except SignalsFileError as exc:
        print("\n".join(exc.lines()), file=sys.stderr)
        return 2
    if not settings.slack_bot_token:
        print("digest: SLACK_BOT_TOKEN is not set", file=sys.stderr)
        return 2
    if not bring_up_to_date(settings, "digest"):
        return 2
    return asyncio.run(_send(settings, config))


async def _send(settings: Settings, config: SignalsConfig) -> int:
    services = Services(settings, config, role=Role.WORKER)
    await asyncio.to_thread(services.heartbeat.start)
    delivery = services.delivery
    try:
        taken = await services.digests.send_now()
        if not taken:
            print("No alerts are waiting for a digest, and every digest is in Slack.")
            return 0
        with contextlib.suppress(TimeoutError):  # what is left stays queued for `serve`
            await asyncio.wait_for(delivery.drain(), SEND_LIMIT_S)
        failed = 0
        for digest_id in taken:
            row = await asyncio.to_thread(services.store.outbox_row, digest_id)
            status = row["status"] if row else "missing"
            channel = row["channel"] if row else "?"
            if status == "posted":
                print(f"Posted the digest to {channel}.")
            elif status == "failed":
                failed += 1
                print(f"The digest for {channel} failed: {row['error'] if row else ''}")
            else:
                print(f"The digest for {channel} is queued ({status}); `serve` posts it.")
        return 1 if failed else 0
    finally:
        await delivery.stop()
        services.heartbeat.stop()
        await asyncio.to_thread(services.store.retire, services.worker_id)
        if "slack_session" in vars(services):
            await services.slack_session.close()
        services.store.dispose()
