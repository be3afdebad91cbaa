"""The Home tab: read what one person should see, build the view, `views.publish` it for them.

Published when they open the tab (`app_home_opened`) and again after they Unsnooze from it, so the
tab shows the outcome (a Home tab click has no response_url to answer on). Slack asks for the tab
to be published within 3 seconds: the store is read in one thread hop, and the links to messages are
built from the workspace's URL (auth.test's `url`, which Bolt already has, else asked once per
process) instead of one `chat.getPermalink` per alert.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.alert_access import ActionError
from bot.actions.snooze import OVER, AsOwner, Snoozes
from bot.slack.blocks.home import MAX_ALERTS, HomeContent, home_view
from bot.store import Store

log = logging.getLogger(__name__)
WEEK_S = 7 * 86_400


class Home:
    def __init__(
        self, store: Store, snoozes: Snoozes, writers: Iterable[str], clock: Callable[[], float] = time.time
    ):
        self.store = store
        self.snoozes = snoozes
        self.writers = frozenset(writers)
        self.clock = clock
        self._workspace_url: str | None = None

    def content(self, user: str, workspace_url: str | None, notice: str | None = None) -> HomeContent:
        """What `user` sees, read from the store (synchronous: called on a thread)."""
        now = self.clock()
        since = now - WEEK_S
        alerts, total = self.store.owner_alerts(user, since, MAX_ALERTS)
        return HomeContent(
            alerts=alerts,
            total_alerts=total,
            snoozes=self.store.owner_snoozes(user, time.time()),  # snoozes run on wall time
            weeks=self.store.signal_stats(since) if user in self.writers else None,
            now=now,
            workspace_url=workspace_url,
            notice=notice,
        )

    async def publish(
        self, client: AsyncWebClient, user: str, workspace_url: str | None = None, notice: str | None = None
    ) -> bool:
        """Publish `user`'s Home tab; False (logged) when Slack refused it."""
        url = workspace_url or await self._workspace(client)
        content = await asyncio.to_thread(self.content, user, url, notice)
        try:
            await client.views_publish(user_id=user, view=home_view(content))
        except SlackApiError as exc:
            log.warning("could not publish the Home tab: %s", exc.response.get("error") or "error")
            return False
        return True

    async def unsnooze(
        self, client: AsyncWebClient, snooze_id: str | None, user: str, workspace_url: str | None = None
    ) -> None:
        """Unsnooze clicked on the Home tab: end the snooze if `user` owns its alert, then publish the
        tab again with what happened on top."""
        try:
            note = await self.snoozes.unsnooze(client, snooze_id, user, AsOwner()) if snooze_id else OVER
        except ActionError as exc:
            note = str(exc)
        except Exception as exc:  # the person still sees an answer, and the tab as it now is
            log.exception("Unsnooze from the Home tab failed: %s", type(exc).__name__)
            note = "Something went wrong ending that snooze; try again in a moment."
        await self.publish(client, user, workspace_url, notice=note)

    async def _workspace(self, client: AsyncWebClient) -> str | None:
        """The workspace's URL from auth.test, asked once per process; None when Slack will not say
        (the tab then shows no links rather than failing)."""
        if self._workspace_url is None:
            try:
                answer = await client.auth_test()
            except SlackApiError as exc:
                log.warning("auth.test failed: %s", exc.response.get("error") or "error")
                return None
            url = answer.get("url")
            self._workspace_url = url if isinstance(url, str) else None
        return self._workspace_url
