"""`python -m bot digest`: every pending digest, now. Each channel with `deliver: digest` alerts waiting
gets its message from this process, through the same delivery as `serve` (paced, retried, posted at
most once), as does a digest taken earlier that is not in Slack yet; run again with nothing waiting,
it posts nothing."""

from __future__ import annotations

import asyncio

from bot.config.settings import Settings
from bot.config.signals_file import SignalsConfig
from bot.tools.posting import outcome, posting_services, ready_to_post, until_sent


def run_digest() -> int:
    ready = ready_to_post("digest")
    if ready is None:
        return 2
    return asyncio.run(_send(*ready))


async def _send(settings: Settings, config: SignalsConfig) -> int:
    async with posting_services(settings, config) as services:
        taken = await services.digests.send_now()
        if not taken:
            print("No alerts are waiting for a digest, and every digest is in Slack.")
            return 0
        await until_sent(services)
        failed = 0
        for digest_id in taken:
            status, line = await outcome(services, digest_id, "digest")
            failed += status == "failed"
            print(line)
        return 1 if failed else 0
