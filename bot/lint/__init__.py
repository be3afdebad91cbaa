"""Tracking-plan health (`/posthog lint`, `python -m bot lint`, the weekly report's summary): PostHog's
event definitions against the signals file. `names` holds the pure rules for names, `source` reads
PostHog, `report` runs the five checks; `build_lint_report` puts them together."""

from __future__ import annotations

import asyncio

from bot.clients.posthog_api import PostHogApi
from bot.config.signals_file import SignalsConfig
from bot.lint.report import LintReport, lint, summary_lines
from bot.lint.source import MAX_DEFINITIONS, explain_failure, read_catalog, with_names_confirmed

__all__ = ["LintReport", "build_lint_report", "explain_failure", "summary_lines"]


async def build_lint_report(
    api: PostHogApi, config: SignalsConfig, now: float, max_definitions: int = MAX_DEFINITIONS
) -> LintReport:
    """The tracking-plan report at `now` (a Unix time): every page of the event definitions, with
    volumes from them or from one HogQL count (a failing count leaves volumes unknown and says why).
    Raises PostHogApiError when the definitions cannot be read; `explain_failure(exc)` says what to
    fix."""
    catalog = await read_catalog(api, max_definitions)
    catalog = await with_names_confirmed(api, catalog, config.event_names)
    # Up to a second or two of CPU for 10,000 names: not on the event loop the webhook shares.
    return await asyncio.to_thread(lint, catalog, config, now)
