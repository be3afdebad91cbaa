"""Posting alerts to Slack: one queue per channel paced to Slack's ~1 message/second with short bursts
(bot/alerts/pacing.py), retries on 5xx, connection failures and 429 (honouring `Retry-After`), and the
guarantee that an alert is posted at most once.

The alert is claimed only when its turn comes, and marked "sending" before the request leaves. If the
process dies mid-request, the next claimer finds that mark and first looks for the message in the
channel (by its metadata) instead of posting blindly; when it cannot look, it gives up rather than
risk a duplicate.

Every Slack call is bounded (`call_timeout_s`), so a Slack that hangs holds its channel only until
it answers again: a try that Slack did not answer is retried every `retry_base_s`, does not spend
one of the alert's attempts, and only an outage longer than `outage_limit_s` ends the alert.

Where a reply in an account's thread goes, and what the thread's first alert then says, is decided in
bot/alerts/threads.py; this module hands the claim back when that placement says to wait.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.pacing import Pace
from bot.alerts.threads import THREAD_GONE, Place, Threads, WaitForRoot, reply_place
from bot.clients.retry_after import retry_after_seconds
from bot.config.durations import format_duration
from bot.ops.metrics import Metrics
from bot.slack.ids import METADATA_EVENT_TYPE
from bot.store import ClaimedAlert, Store
from bot.store.messages import DIGEST_SIGNAL, MESSAGE_SIGNALS
from bot.store.until_stored import until_stored

log = logging.getLogger(__name__)

# Slack errors that no retry will fix: the alert is recorded as failed.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "no_text",
        "too_many_attachments",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "ekm_access_denied",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "org_login_required",
        "team_access_not_granted",
        "invalid_arguments",
    }
)
CANNOT_VERIFY = frozenset({"missing_scope", "not_in_channel", "channel_not_found", "no_permission"})
# Slack did not answer: the call timed out, the connection broke, or none could be made.
NO_ANSWER = (TimeoutError, aiohttp.ClientError, ConnectionError)


class _ProportionalJitter(Jitter):
    """Up to 10% extra, so small test backoffs stay small and large ones still spread out."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random() * 0.1)


def retry_handlers(backoff_s: float) -> list[AsyncRetryHandler]:
    """Retries inside one call: refused connections (the request never left), 500/503, and 429."""
    calculator = BackoffRetryIntervalCalculator(backoff_factor=backoff_s, jitter=_ProportionalJitter())
    return [
        AsyncConnectionErrorRetryHandler(
            max_retry_count=3, interval_calculator=calculator, error_types=[aiohttp.ClientConnectorError]
        ),
        AsyncServerErrorRetryHandler(max_retry_count=5, interval_calculator=calculator),
        AsyncRateLimitErrorRetryHandler(max_retry_count=2),
    ]


def make_slack_session(timeout_s: float) -> aiohttp.ClientSession:
    """Keep-alive connections for the worker's Slack calls. slack_sdk applies its own `timeout` only
    to sessions it opens itself; a session it is handed keeps its own (aiohttp's default: 300 s), so
    the bound is set here."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))


def make_slack_client(
    token: str,
    base_url: str,
    backoff_s: float,
    timeout_s: float = 10.0,
    session: aiohttp.ClientSession | None = None,
) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout_s,
        session=session,
        retry_handlers=retry_handlers(backoff_s),
    )


def _retry_after(error: SlackApiError) -> float | None:
    headers = getattr(error.response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            return retry_after_seconds(value[0] if isinstance(value, list) else value)
    return None


class Delivery:
    def __init__(
        self,
        store: Store,
        client: AsyncWebClient,
        metrics: Metrics,
        worker_id: str,
        min_interval_s: float = 1.0,
        burst: int = 3,
        lease_s: float = 600.0,
        poll_s: float = 5.0,
        max_attempts: int = 8,
        retry_base_s: float = 2.0,
        may_act: Callable[[], bool] = lambda: True,
        call_timeout_s: float = 10.0,
        outage_limit_s: float = 3600.0,
        after_post: Callable[[str], None] | None = None,
        after_digest: Callable[[str], None] | None = None,
    ):
        """`after_post` is told of each posted alert that owes an automatic CRM task, `after_digest`
        of each posted digest (the alerts it lists may owe theirs)."""
        self.store = store
        self.client = client
        self.metrics = metrics
        self.worker_id = worker_id
        self.min_interval_s = min_interval_s
        self.burst = burst
        self._paces: dict[str, Pace] = {}
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.may_act = may_act
        self.call_timeout_s = call_timeout_s
        self.outage_limit_s = outage_limit_s
        self.after_post = after_post
        self.after_digest = after_digest
        self._queues: dict[str, asyncio.Queue[str]] = {}
        self._senders: dict[str, asyncio.Task[None]] = {}
        self._retries: dict[str, asyncio.TimerHandle] = {}
        self._queued: set[str] = set()
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.threads = Threads(store, client, self._call, self._stops)

    # -- intake -------------------------------------------------------------------------------------
    def submit(self, alert_id: str, channel: str) -> None:
        """Queue an alert for its channel (no-op when it is already queued here)."""
        if alert_id in self._queued or self._stopping:
            return
        self._queued.add(alert_id)
        self._idle.clear()
        queue = self._queues.get(channel)
        if queue is None:
            queue = self._queues[channel] = asyncio.Queue()
        queue.put_nowait(alert_id)
        sender = self._senders.get(channel)
        if sender is None or sender.done():
            self._senders[channel] = asyncio.create_task(self._send_loop(channel, queue))

    async def run(self) -> None:
        """Pick up alerts this process did not create: retries that are due and crashed claims."""
        while not self._stopping:
            try:
                due = await asyncio.to_thread(self.store.due_alerts, self.worker_id, 200)
                for alert_id, channel in due:
                    self.submit(alert_id, channel)
            except Exception as exc:
                log.error("cannot read due alerts: %s", type(exc).__name__)
            await asyncio.sleep(self.poll_s)

    def _stops(self) -> bool:
        return self._stopping

    async def _record(self, call: Callable[..., Any], claimed: ClaimedAlert, *args: Any) -> None:
        """A claimed alert's new state, kept trying while the database is unreachable."""
        await until_stored(
            call, claimed.id, self.worker_id, *args, stopping=self._stops, extra={"alert_id": claimed.id}
        )

    async def _fail(self, claimed: ClaimedAlert, reason: str) -> None:
        await self._record(self.store.alert_failed, claimed, reason, claimed.event_uuid, claimed.signal)

    async def stop(self, grace_s: float = 10.0) -> None:
        self._stopping = True
        for timer in self._retries.values():
            timer.cancel()
        self._retries.clear()
        senders = [s for s in self._senders.values() if not s.done()]
        if senders:
            _, pending = await asyncio.wait(senders, timeout=grace_s)
            for task in pending:
                task.cancel()

    async def drain(self) -> None:
        """Wait until every queued alert has been handled."""
        await self._idle.wait()

    # -- sending ------------------------------------------------------------------------------------
    async def _send_loop(self, channel: str, queue: asyncio.Queue[str]) -> None:
        """Posts the channel's queue in order, paced. On shutdown only the alert in flight is
        finished: the rest stay unclaimed in the store for the next process, at once."""
        pace = self._paces.get(channel)
        if pace is None:  # kept when the queue empties: the pace holds across quiet spells too
            pace = self._paces[channel] = Pace(self.min_interval_s, self.burst)
        while not queue.empty() and not self._stopping:
            alert_id = queue.get_nowait()
            try:
                wait = pace.wait(time.monotonic())
                if wait > 0:
                    await asyncio.sleep(wait)
                pause = await self._deliver(alert_id)
                if pause is not None:  # something was sent (or tried)
                    pace.sent(time.monotonic(), rest_s=pause)
            except Exception as exc:  # never let one alert stop the channel
                log.exception("delivery crashed: %s", type(exc).__name__, extra={"alert_id": alert_id})
            finally:
                self._queued.discard(alert_id)
        if not self._queued:
            self._idle.set()

    async def _deliver(self, alert_id: str) -> float | None:
        """Post one alert if it is still ours to post; returns how long the channel should rest, or
        None when nothing was sent (a reply waiting for its thread's first alert)."""
        claimed = await asyncio.to_thread(self.store.claim_alert, alert_id, self.worker_id, self.lease_s)
        if claimed is None:
            return 0.0  # posted, failed, or claimed elsewhere meanwhile
        extra = {
            "alert_id": claimed.id,
            "event_uuid": claimed.event_uuid,
            "request_id": claimed.request_id,
            "channel": claimed.channel,
        }
        place = await self._place(claimed)
        if place is None:
            return None  # its thread's first alert is not in Slack yet: tried again when it may be
        if claimed.sending_since is not None:
            found = await self._find_posted(claimed, extra, place)
            if found is None:
                return 0.0  # could not verify: failed, or retried with the mark kept; never re-posted
            if found:
                return 0.0
        if not self.may_act():
            # Our heartbeat is late, so another process may take this claim over: do not post.
            await self._retry(claimed, "this process's heartbeat is late", uncertain=False, delay_s=1.0)
            return 0.0
        return await self._post(claimed, place, extra)

    async def _post(self, claimed: ClaimedAlert, place: Place, extra: dict[str, object]) -> float:
        """chat.postMessage, and what its answer means for the alert."""
        message = dict(claimed.message)
        if place.thread_ts is None:
            message.pop("reply_broadcast", None)
        else:
            message["thread_ts"] = place.thread_ts
        try:
            response = await self._call(self.client.chat_postMessage, channel=place.channel, **message)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in THREAD_GONE and claimed.thread_of is not None:
                alone = await self.threads.leave(claimed, error, extra)
                return await self._post(alone, Place(claimed.channel), extra)
            return await self._slack_error(claimed, exc, extra)
        except (aiohttp.ClientConnectorError, ConnectionRefusedError) as exc:
            await self._no_answer(claimed, f"cannot connect to Slack: {type(exc).__name__}", uncertain=False)
            return 0.0
        except NO_ANSWER as exc:
            # The request may have reached Slack: keep the mark so the retry checks first.
            await self._no_answer(claimed, f"Slack did not answer: {type(exc).__name__}", uncertain=True)
            return 0.0
        posted_channel = str(response.get("channel") or claimed.channel)
        await self._in_slack(claimed, place, posted_channel, str(response.get("ts")), extra)
        return 0.0

    async def _place(self, claimed: ClaimedAlert) -> Place | None:
        """Where the alert goes (bot/alerts/threads.py), or None when it was handed back: a reply
        waiting for its thread's first alert, or one whose thread cannot be read now. Neither try is
        counted."""
        if claimed.thread_of is None:
            return Place(claimed.channel)
        uncertain = claimed.sending_since is not None
        try:
            root = await self.threads.root(claimed.thread_of)
        except Exception as exc:  # the claim goes back now rather than at its lease's end
            reason = f"cannot read the thread's first alert: {type(exc).__name__}"
            await self._retry(claimed, reason, uncertain, delay_s=self.retry_base_s, counted=False)
            return None
        place = reply_place(claimed.channel, root, time.time())
        if isinstance(place, WaitForRoot):
            await self._retry(
                claimed,
                "waiting for the thread's first alert to be posted",
                uncertain=uncertain,
                delay_s=place.seconds,
                counted=False,
                level=logging.DEBUG,
            )
            return None
        return place

    async def _call(self, method: Callable[..., Awaitable[Any]], **args: Any) -> Any:
        """One Slack call, bounded as a whole: the session bounds each request, this bounds the SDK's
        retries inside the call too."""
        return await asyncio.wait_for(method(**args), self.call_timeout_s)

    def _owes_task(self, claimed: ClaimedAlert) -> None:
        if claimed.auto_task and self.after_post is not None:
            self.after_post(claimed.id)
        elif claimed.signal == DIGEST_SIGNAL and self.after_digest is not None:
            self.after_digest(claimed.id)

    async def _in_slack(
        self,
        claimed: ClaimedAlert,
        place: Place,
        channel: str,
        ts: str,
        extra: dict[str, object],
        interrupted: bool = False,
    ) -> None:
        """What follows a post, whether answered now or found in Slack after an interrupted send:
        record it, count it, hand over its automatic task, and update its thread's first alert."""
        await self._record(self.store.mark_posted, claimed, channel, ts)
        self._posted(claimed, extra, ts, interrupted)
        self._owes_task(claimed)
        if place.thread_ts is not None and claimed.thread_of is not None:
            await self.threads.grew(claimed.thread_of, extra)

    def _posted(self, claimed: ClaimedAlert, extra: dict[str, object], ts: str, interrupted: bool) -> None:
        if claimed.signal in MESSAGE_SIGNALS:  # a digest or report: no alert, and no webhook before it
            log.info("message posted", extra={**extra, "slack_ts": ts, "signal": claimed.signal})
            return
        self.metrics.alerts_posted.inc()
        if interrupted:  # its latency would measure the crash, not the pipeline
            log.info("interrupted alert was already in Slack; recorded", extra={**extra, "slack_ts": ts})
            return
        latency = time.time() - claimed.received_at
        self.metrics.webhook_to_slack.observe(latency)
        log.info(
            "alert posted", extra={**extra, "slack_ts": ts, "webhook_to_slack_ms": round(latency * 1000, 1)}
        )

    async def _slack_error(
        self, claimed: ClaimedAlert, exc: SlackApiError, extra: dict[str, object]
    ) -> float:
        error = str(exc.response.get("error") or f"http_{exc.response.status_code}")
        self.metrics.slack_errors.labels(error=error[:64]).inc()
        status = exc.response.status_code
        if status == 429 or error == "ratelimited":
            pause = _retry_after(exc) or 30.0
            log.warning("Slack rate limit: resting %.0fs", pause, extra=extra)
            await self._retry(claimed, "rate limited by Slack", uncertain=False, delay_s=pause)
            return pause
        if error in PERMANENT_ERRORS:
            log.error("Slack refused the alert: %s", error, extra=extra)
            await self._fail(claimed, error)
            return 0.0
        await self._retry(claimed, f"Slack error: {error}", uncertain=False)
        return 0.0

    async def _retry(
        self,
        claimed: ClaimedAlert,
        reason: str,
        uncertain: bool,
        delay_s: float | None = None,
        counted: bool = True,
        level: int = logging.WARNING,
    ) -> None:
        if counted and claimed.attempts >= self.max_attempts:
            await self._fail(claimed, f"gave up: {reason}")
            return
        delay = (
            delay_s if delay_s is not None else min(300.0, self.retry_base_s * 2 ** (claimed.attempts - 1))
        )
        log.log(level, "alert will be retried in %.1fs: %s", delay, reason, extra={"alert_id": claimed.id})
        await self._record(self.store.alert_retry, claimed, reason, delay, uncertain, counted)
        self._submit_later(claimed, delay)

    async def _no_answer(self, claimed: ClaimedAlert, reason: str, uncertain: bool) -> None:
        """Slack did not answer or could not be reached. That says nothing about the alert, so the
        try is not counted and is repeated soon: the alert goes out as soon as Slack is back. Only an
        outage longer than `outage_limit_s` (since the alert was created) ends it."""
        if time.time() - claimed.created_at >= self.outage_limit_s:
            outage = format_duration(timedelta(seconds=self.outage_limit_s))
            await self._fail(claimed, f"gave up after {outage} without Slack: {reason}")
            return
        await self._retry(claimed, reason, uncertain, delay_s=self.retry_base_s, counted=False)

    def _submit_later(self, claimed: ClaimedAlert, delay_s: float) -> None:
        """Submit the retry here when it is due rather than at the next poll, so a short delay stays
        short. (The poll still finds it if this process stops first.)"""
        if self._stopping:
            return

        def due() -> None:
            self._retries.pop(claimed.id, None)
            self.submit(claimed.id, claimed.channel)

        previous = self._retries.pop(claimed.id, None)
        if previous is not None:
            previous.cancel()
        self._retries[claimed.id] = asyncio.get_running_loop().call_later(delay_s, due)

    async def _find_posted(
        self, claimed: ClaimedAlert, extra: dict[str, object], place: Place
    ) -> bool | None:
        """After an interrupted send: True when Slack has the message (now recorded), False when it
        does not, None when the channel cannot be read now (the alert is then failed, or retried
        with the mark kept, so the next try looks again; never re-posted unseen). A reply is looked
        for in its thread: a channel's history does not list replies."""
        assert claimed.sending_since is not None
        oldest = f"{claimed.sending_since - 60:.6f}"
        try:
            if place.thread_ts is None:
                history = await self._call(
                    self.client.conversations_history,
                    channel=place.channel,
                    oldest=oldest,
                    limit=200,
                    include_all_metadata=True,
                )
            else:
                history = await self._call(
                    self.client.conversations_replies,
                    channel=place.channel,
                    ts=place.thread_ts,
                    oldest=oldest,
                    limit=200,
                    include_all_metadata=True,
                )
        except NO_ANSWER as exc:
            reason = f"cannot verify an interrupted send yet: Slack did not answer: {type(exc).__name__}"
            await self._no_answer(claimed, reason, uncertain=True)
            return None
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            if error in CANNOT_VERIFY:
                reason = (
                    f"send was interrupted and cannot be verified ({error}); "
                    "not re-posted to avoid a duplicate"
                )
                log.error(reason, extra=extra)
                await self._fail(claimed, reason)
                return None
            await self._retry(claimed, f"cannot verify an interrupted send: {error}", uncertain=True)
            return None
        for message in history.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_EVENT_TYPE and payload.get("alert_id") == claimed.id:
                ts = str(message.get("ts"))
                await self._in_slack(claimed, place, place.channel, ts, extra, interrupted=True)
                return True
        return False
