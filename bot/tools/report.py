"""`python -m bot report`: the scheduled report (`reports` in the signals file), now, from this process,
through the same delivery as `serve` (paced, retried, posted at most once). It covers the last `every`
up to now and leaves the schedule as it was."""

from __future__ import annotations

import asyncio
import contextlib
import sys

from bot.app.container import Role, Services
from bot.config.settings import Settings
from bot.config.signals_file import SignalsConfig, SignalsFileError, load_signals
from bot.tools.migrate import bring_up_to_date

SEND_LIMIT_S = 120.0  # how long this command waits for Slack before leaving the rest to `serve`


def run_report() -> int:
    settings = Settings()
    try:
        config = load_signals(settings.signals_config)
    except SignalsFileError as exc:
        print("\n".join(exc.lines()), file=sys.stderr)
        return 2
    if config.reports is None:
        print(
            "report: the signals file has no `reports`; add e.g. `reports: {channel: C0REVOPS, every: 7d}`",
            file=sys.stderr,
        )
        return 2
    if not settings.slack_bot_token:
        print("report: SLACK_BOT_TOKEN is not set", file=sys.stderr)
        return 2
    if not bring_up_to_date(settings, "report"):
        return 2
    return asyncio.run(_send(settings, config))


async def _send(settings: Settings, config: SignalsConfig) -> int:
    services = Services(settings, config, role=Role.WORKER)
    await asyncio.to_thread(services.heartbeat.start)
    delivery = services.delivery
    try:
        report_id = await services.reports.send_now()
        assert report_id is not None  # a period of its own: never queued before
        with contextlib.suppress(TimeoutError):  # if Slack is slow, `serve` posts it
            await asyncio.wait_for(delivery.drain(), SEND_LIMIT_S)
        row = await asyncio.to_thread(services.store.outbox_row, report_id)
        status = row["status"] if row else "missing"
        channel = row["channel"] if row else "?"
        if status == "posted":
            print(f"Posted the report to {channel}.")
            return 0
        if status == "failed":
            print(f"The report for {channel} failed: {row['error'] if row else ''}")
            return 1
        print(f"The report for {channel} is queued ({status}); `serve` posts it.")
        return 0
    finally:
        await delivery.stop()
        services.heartbeat.stop()
        await asyncio.to_thread(services.store.retire, services.worker_id)
        if "slack_session" in vars(services):
            await services.slack_session.close()
        services.store.dispose()
