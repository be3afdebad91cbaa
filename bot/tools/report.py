"""`python -m bot report`: the scheduled report (`reports` in the signals file), now, from this process,
through the same delivery as `serve` (paced, retried, posted at most once). It covers the last `every`
up to now and leaves the schedule as it was."""

from __future__ import annotations

import asyncio

from bot.config.settings import Settings
from bot.config.signals_file import SignalsConfig
from bot.tools.posting import outcome, posting_services, ready_to_post, until_sent


def _has_reports(config: SignalsConfig) -> str | None:
    if config.reports is None:
        return "the signals file has no `reports`; add e.g. `reports: {channel: C0REVOPS, every: 7d}`"
    return None


def run_report() -> int:
    ready = ready_to_post("report", _has_reports)
    if ready is None:
        return 2
    return asyncio.run(_send(*ready))


async def _send(settings: Settings, config: SignalsConfig) -> int:
    async with posting_services(settings, config) as services:
        report_id = await services.reports.send_now()
        assert report_id is not None  # a period of its own: never queued before
        await until_sent(services)
        status, line = await outcome(services, report_id, "report")
        print(line)
        return 1 if status == "failed" else 0
