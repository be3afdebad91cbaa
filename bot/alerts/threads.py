"""Where a reply in an account's thread is posted, and what its thread's first alert says of it.

Delivery posts, claims and retries; this module answers the questions that only threads raise: is
the first alert (the root) in Slack yet, so the reply goes under it, or should the reply wait for it,
or go out on its own because the root never made it or its thread is gone; and, once a reply is in,
updating the root's "N more signals in the thread · latest: X" line. The decision is a pure function
of the root's stored state and the time, so it can be tested without a store or Slack.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks.alert import alert_update
from bot.store import ClaimedAlert, Store, ThreadRoot
from bot.store.until_stored import until_stored

log = logging.getLogger(__name__)
THREAD_WAIT_S = 1.0  # how soon a reply looks again for its thread's first alert in Slack
MAX_THREAD_WAIT_S = 60.0
# The thread a reply was to go in is gone (its first message deleted) or closed to replies.
THREAD_GONE = frozenset({"thread_not_found", "restricted_action_thread_locked"})


@dataclass(frozen=True)
class Place:
    """Where an alert is posted: a channel, and the thread in it for a reply."""

    channel: str
    thread_ts: str | None = None


@dataclass(frozen=True)
class WaitForRoot:
    """The reply's first alert is still on its way: look again in `seconds` (a try not counted)."""

    seconds: float


def reply_place(channel: str, root: ThreadRoot | None, now: float) -> Place | WaitForRoot:
    """Where a reply to `root` goes, given the root's stored state at `now`: under the root once it
    is in Slack; on its own in `channel` when the root never made it (gone, failed, or posted with no
    `ts` to reply to); otherwise wait, until the root's own next try is due (within a minute)."""
    if root is None or root.status == "failed" or (root.status == "posted" and not root.ts):
        return Place(channel)
    if root.status != "posted" or not root.ts:
        return WaitForRoot(
            min(MAX_THREAD_WAIT_S, max(THREAD_WAIT_S, root.next_attempt_at - now + THREAD_WAIT_S))
        )
    return Place(root.channel or channel, root.ts)


class Threads:
    """The store reads and writes and the Slack update that thread placement needs. `call` is the
    delivery's bounded Slack call; `stopping` tells a write kept trying to give up at shutdown."""

    def __init__(
        self,
        store: Store,
        client: AsyncWebClient,
        call: Callable[..., Awaitable[Any]],
        stopping: Callable[[], bool],
    ):
        self.store = store
        self.client = client
        self._call = call
        self._stopping = stopping

    async def root(self, root_id: str) -> ThreadRoot | None:
        """The root's stored state; raises when the store cannot be read."""
        return await asyncio.to_thread(self.store.thread_root, root_id)

    async def leave(self, claimed: ClaimedAlert, error: str, extra: dict[str, object]) -> ClaimedAlert:
        """Slack took nothing (the root deleted, or its thread locked): the reply is to go out on its
        own now, and the account's next alert starts a new thread. Returns the claim without its
        thread."""
        assert claimed.thread_of is not None
        log.warning("the thread takes no replies (%s): posting on its own", error, extra=extra)
        await until_stored(
            self.store.leave_thread, claimed.id, claimed.thread_of, stopping=self._stopping, extra=extra
        )
        return replace(claimed, thread_of=None)

    async def grew(self, root_id: str, extra: dict[str, object]) -> None:
        """Show on the thread's first alert how many signals followed and the latest (chat.update).
        Best effort: the reply is posted whether or not the first alert can be updated."""
        try:
            grown = await asyncio.to_thread(self.store.thread_grew, root_id)
            if grown is None:
                return
            root, state = grown
            if not root.ts:
                return
            for _ in range(3):  # until the message shows the newest state (another process may update too)
                message = alert_update(root.details, state)
                await self._call(
                    self.client.chat_update,
                    channel=root.posted_channel or root.channel,
                    ts=root.ts,
                    **message,
                )
                now = await asyncio.to_thread(self.store.alert, root_id)
                if now is None or now.state.version <= state.version:
                    return
                state = now.state
        except SlackApiError as exc:
            error = exc.response.get("error") or exc.response.status_code
            log.warning(
                "could not update the thread's first alert: %s", error, extra={**extra, "root": root_id}
            )
        except Exception as exc:
            log.warning(
                "could not update the thread's first alert: %s",
                type(exc).__name__,
                extra={**extra, "root": root_id},
            )
