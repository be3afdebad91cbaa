"""Create CRM task: exactly one follow-up task per alert, however often and however fast it is
clicked, in HubSpot when it is configured (found again by its marker after an attempt that got no
answer) and in the bot's own store otherwise; the alert then shows who created it and a link.

An alert a digest lists has no message of its own: its state records the task, and the digest is
updated in place (`_show_in_digest`), rebuilt from the store so that, of several clicks at once in
one digest, the last update Slack applies shows every task recorded.

The alert's state records the task (or why the automatic one failed) only once its message shows it
(`AlertAccess.show`): an alert whose task is settled while its state does not say so is one whose message may
still say "Creating…", and `show_settled` (AutoTasks' sweep) shows it from what the store kept."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions import task_content as crm
from bot.actions.alert_access import SHOW_TRIES, ActionError, AlertAccess
from bot.alerts.model import AlertState, TaskShown
from bot.clients.hubspot import HubSpot, HubSpotError, HubSpotTask
from bot.config.signals_file import SignalsConfig
from bot.slack.blocks.alert import mention
from bot.slack.blocks.digest import digest_update, shown_states
from bot.slack.mrkdwn import escape, escape_line, link, safe_url
from bot.store import AlertRecord, Store, is_row_error
from bot.store.alert_actions import AUTO_REQUESTER, CrmKind, NewTask, TaskRecord
from bot.store.digests import TAKEN, PostedDigest, state_versions
from bot.store.until_stored import StoreGaveUp, stored_within

log = logging.getLogger(__name__)
TASK_BUSY_S = 60.0  # an attempt older than this is presumed dead and may be taken over


class CrmTasks:
    def __init__(
        self,
        access: AlertAccess,
        store: Store,
        config: SignalsConfig,
        hubspot: HubSpot | None,
        recovery_wait_s: float = 10.0,
        busy_s: float = TASK_BUSY_S,
    ):
        self.access = access
        self.store = store
        self.config = config
        self.hubspot = hubspot
        self.recovery_wait_s = recovery_wait_s
        self.busy_s = busy_s

    async def create(
        self, client: AsyncWebClient, alert_id: str, user_id: str, channel_id: str
    ) -> str | None:
        """Create the alert's task unless it exists or is being created; returns a note for the
        clicker, or None when the updated message says it all."""
        record = await self.access.find(alert_id, channel_id)
        try:
            return await self._create(client, record, user_id)
        except HubSpotError as exc:
            # Escaped for Slack: the explanation quotes what HubSpot answered.
            raise ActionError(
                f"{_sentence(escape(exc.explain()))} The button still works: try again."
            ) from None

    async def create_auto(self, client: AsyncWebClient, alert_id: str) -> None:
        """The signal's `auto_task`: the same creation as a click, under the same key (one task per
        alert, whoever asks first). When the CRM fails, the alert keeps its button and says why."""
        record = await asyncio.to_thread(self.store.alert, alert_id)
        if record is None or not await self._in_slack(record):
            return
        try:
            await self._create(client, record, AUTO_REQUESTER)
        except HubSpotError as exc:
            await self._auto_failed(client, record, _sentence(exc.explain()))
        except ActionError as exc:  # the task exists; only the message could not say so
            log.warning("automatic task not shown: %s", exc, extra={"alert_id": alert_id})
        except Exception as exc:
            log.exception("automatic task failed: %s", type(exc).__name__, extra={"alert_id": alert_id})
            await self._auto_failed(client, record, f"An unexpected error ({type(exc).__name__}).")

    async def _auto_failed(self, client: AsyncWebClient, record: AlertRecord, why: str) -> None:
        try:
            await self._show_swept(client, record, lambda state: state.auto_task_failed(why))
        except Exception as exc:  # the sweep shows it (`show_settled`), or the next update does
            log.warning("automatic task failure not shown: %s", exc, extra={"alert_id": record.id})

    async def _show_swept(
        self, client: AsyncWebClient, record: AlertRecord, change: Callable[[AlertState], AlertState]
    ) -> bool:
        """What became of an automatic task, shown where the alert is (its own message, or the digest
        that lists it) first and recorded after, so the sweep can tell what is not shown yet; False
        when it could not be shown."""
        if not record.ts:
            in_digest = await self._show_first_in_digest(client, record.id, change)
            if in_digest is not None:
                return in_digest
        return await self.access.show(client, record, change, swept=True)

    async def show_settled(self, client: AsyncWebClient, alert_id: str) -> None:
        """Show what became of the alert's task when the process that settled it died before the
        message said so (its state still has the task being created): the task, or why the attempt
        failed, as the store kept them. Nothing is asked of the CRM, so nothing is created."""
        record = await asyncio.to_thread(self.store.alert, alert_id)
        task = await asyncio.to_thread(self.store.task, alert_id)
        if record is None or task is None or not await self._in_slack(record):
            return
        try:
            if task.status == "created":
                await self._show_task(client, record, task.requested_by, task.url, task.crm)
            elif task.status == "failed":
                why = _sentence(task.error or "it was interrupted")

                def failed(state: AlertState) -> AlertState:  # unless it shows an outcome already
                    return state if state.task or state.auto_task_error else state.auto_task_failed(why)

                await self._show_swept(client, record, failed)
        except ActionError as exc:
            log.warning("task outcome not shown: %s", exc, extra={"alert_id": alert_id})

    async def _in_slack(self, record: AlertRecord) -> bool:
        """Posted: with a message of its own, or listed in a digest that is in Slack."""
        if record.ts:
            return True
        if record.status != TAKEN:
            return False
        return await asyncio.to_thread(self.store.posted_digest_of, record.id) is not None

    async def _create(self, client: AsyncWebClient, record: AlertRecord, requested_by: str) -> str | None:
        details = record.details
        new = NewTask(
            requested_by=requested_by,
            crm="hubspot" if self.hubspot else "store",
            subject=crm.subject(details),
            body=crm.body(details),
            due_at=crm.due_date(time.time(), self.config.crm).timestamp(),
            owner=crm.owner(details, self.config.crm, None),
        )
        start = await asyncio.to_thread(self.store.begin_task, record.id, new, self.busy_s)
        if start.kind == "done":
            await self._show_task(client, record, start.task.requested_by, start.task.url, start.task.crm)
            if start.task.requested_by == AUTO_REQUESTER:
                return "The task was created automatically already."
            return f"A task already exists (created by {mention(start.task.requested_by)})."
        if start.kind == "busy":
            if start.task.requested_by == AUTO_REQUESTER:
                return "The task is being created automatically right now."
            return f"{mention(start.task.requested_by)} is creating the task right now."
        if self.hubspot is None:
            await self._settle(self.store.task_created, record.id, None, None)
            return await self._show_task(client, record, requested_by, None, start.task.crm)
        try:
            found = await self._find_earlier_task(record, start.task) if start.kind == "recover" else None
            task = found or await self._create_in_hubspot(record, start.task)
        except HubSpotError as exc:
            uncertain = exc.status is None  # no answer: the task may exist, so look before creating again
            log.warning("CRM task failed: %s", exc.explain(), extra={"alert_id": record.id})
            await self._settle(self.store.task_failed, record.id, exc.explain(), uncertain)
            raise
        except asyncio.CancelledError:
            if requested_by != AUTO_REQUESTER:
                await asyncio.to_thread(self.store.task_failed, record.id, "interrupted", True)
            raise  # an automatic attempt stays `creating`: the sweep takes it over, looking first
        except BaseException:
            await asyncio.to_thread(self.store.task_failed, record.id, "interrupted", True)
            raise
        await self._settle(self.store.task_created, record.id, task.id, task.url)
        return await self._show_task(client, record, requested_by, task.url, start.task.crm)

    async def _settle(self, call: Callable[..., None], alert_id: str, *args: Any) -> None:
        """Record how the attempt ended, kept trying while the database is away, until the attempt
        would be taken over anyway (then whoever takes it over finds the task by its marker)."""
        try:
            await stored_within(
                call,
                alert_id,
                *args,
                seconds=self.busy_s,
                extra={"alert_id": alert_id},
                give_up_on=is_row_error,
            )
        except StoreGaveUp:
            raise ActionError(
                "The database did not answer; the task will show on the alert once it does."
            ) from None

    async def _find_earlier_task(self, record: AlertRecord, task: TaskRecord) -> HubSpotTask | None:
        """After an attempt that got no answer, the task may exist. HubSpot's search sees new records a
        few seconds late, so look, and look once more after a pause, before creating another."""
        assert self.hubspot is not None
        marker = crm.marker(record.id)
        found = await self.hubspot.find_task(marker, subject=task.subject)
        if found is None and self.recovery_wait_s > 0:
            await asyncio.sleep(self.recovery_wait_s)
            found = await self.hubspot.find_task(marker, subject=task.subject)
        return found

    async def _create_in_hubspot(self, record: AlertRecord, task: TaskRecord) -> HubSpotTask:
        assert self.hubspot is not None
        domain = record.details.domain
        company = await self.hubspot.find_company(domain) if domain else None
        owner = crm.owner(record.details, self.config.crm, company.owner_id if company else None)
        return await self.hubspot.create_task(
            subject=task.subject,
            body=task.body,
            due=crm.due_date(time.time(), self.config.crm),
            priority=crm.priority(record.details),
            owner_id=owner,
            company_id=company.id if company else None,
            marker=crm.marker(record.id),
        )

    async def _show_task(
        self, client: AsyncWebClient, record: AlertRecord, by: str, url: str | None, kind: CrmKind
    ) -> str | None:
        """Show the task on the alert, or, when the alert has no message of its own, in the digest
        that lists it; when neither could show it, the note for the clicker says it instead."""
        shown = TaskShown(by=by, url=url, crm=kind)

        def change(state: AlertState) -> AlertState:
            return state.with_task(shown)

        if record.details.auto_task:  # an automatic task's alert: the sweep shows what is not shown
            return None if await self._show_swept(client, record, change) else _task_note(record, url)
        if await self.access.show(client, record, change):
            return None
        if await self._show_in_digest(client, record.id):
            return None
        return _task_note(record, url)

    async def _show_first_in_digest(
        self, client: AsyncWebClient, alert_id: str, change: Callable[[AlertState], AlertState]
    ) -> bool | None:
        """An automatic task's alert listed in a digest, as `AlertAccess.show` does it with `swept`:
        the digest is updated to show the change first, and the change is recorded only after, if
        the alert's state is still the one it was made from (else made anew), so a process killed in
        between, or a Slack that did not answer, leaves it unrecorded for the sweep to show
        (`unshown_auto_tasks`). False when not shown (recorded anyway when Slack refused the
        update); None when the alert is in no digest in Slack."""
        for _ in range(SHOW_TRIES):
            digest = await asyncio.to_thread(self.store.posted_digest_of, alert_id)
            if digest is None or alert_id not in digest.states:
                return None
            current = digest.states[alert_id]
            states = {
                **digest.states,
                alert_id: change(current).model_copy(update={"version": current.version + 1}),
            }
            failed = await self._update_digest(client, digest, states, alert_id)
            if failed == "refused":  # trying again would not show it either
                await asyncio.to_thread(self.store.update_alert_state, alert_id, change)
                return False
            if failed is not None:
                return False
            if await asyncio.to_thread(self.store.record_alert_state, alert_id, states[alert_id]):
                # Another alert it lists may have been recorded meanwhile, and shown by an update
                # Slack applied before this one: show again while the store has newer states.
                await self._show_in_digest(client, alert_id, shown=state_versions(states))
                return True
        await asyncio.to_thread(self.store.update_alert_state, alert_id, change)
        return await self._show_in_digest(client, alert_id)

    async def _show_in_digest(
        self, client: AsyncWebClient, alert_id: str, shown: tuple[tuple[str, int], ...] | None = None
    ) -> bool:
        """Update the digest that lists the alert (its state recorded already) to show the states of
        all it lists, read from the store; False when it is in no digest in Slack, or Slack did not
        update it. chat.update shows a whole message, so another process may have shown an older read
        after this one's: once updated, read again, and show again while the store has newer states
        (the last update Slack applies then shows every change recorded before it). `shown`: the
        versions this process showed last, if it did."""
        for _ in range(SHOW_TRIES):
            digest = await asyncio.to_thread(self.store.posted_digest_of, alert_id)
            if digest is None:
                return shown is not None
            if digest.versions == shown:
                return True
            if await self._update_digest(client, digest, digest.states, alert_id) is not None:
                return shown is not None  # an earlier update showed this alert's task
            shown = digest.versions
        return True

    async def _update_digest(
        self, client: AsyncWebClient, digest: PostedDigest, states: dict[str, AlertState], alert_id: str
    ) -> Literal["refused", "no answer"] | None:
        """chat.update the digest to show `states`; None once Slack updated it."""
        try:
            await client.chat_update(
                channel=digest.channel,
                ts=digest.ts,
                **digest_update(digest.id, digest.items, digest.since, shown_states(digest.items, states)),
            )
        except SlackApiError as exc:
            error = exc.response.get("error") or exc.response.status_code
            log.warning("could not update the digest: %s", error, extra={"alert_id": alert_id})
            return "refused"
        except Exception as exc:  # no answer: the digest may or may not show it
            name = type(exc).__name__
            log.warning("could not update the digest: %s", name, extra={"alert_id": alert_id})
            return "no answer"
        return None


def _task_note(record: AlertRecord, url: str | None) -> str:
    """For the clicker, when neither the alert nor its digest could show the task."""
    where = f": {link(url, 'Open in HubSpot')}" if safe_url(url) else ""
    return f"Task created for {escape_line(record.details.account_label, 150)}{where}"


def _sentence(text: str) -> str:
    """The explanation as a sentence of its own, so the note after it does not run on from it."""
    return text if text.endswith((".", "!", "?")) else f"{text}."
