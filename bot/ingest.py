"""Group commit for the webhook: concurrent requests share one database transaction.

Requests queue their parsed events on the event loop. One transaction at a time runs on a dedicated
writer thread and takes everything queued so far; while it runs, the next batch gathers. So there is
one thread hand-off per batch rather than per request, throughput grows with load, and every 202
still means "committed". Events that no signal listens to are decided right here (ledger outcome
`filtered`) and their payload is not kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.events import Incoming, WebhookBody
from bot.store import InboxRow, LedgerEntry, Store, StoreUnavailable

log = logging.getLogger(__name__)
MAX_ROWS_PER_TRANSACTION = 2000


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int
    accepted_uuids: tuple[str, ...]
    pending: int  # accepted events the worker has to look at


@dataclass(slots=True)
class _Submission:
    rows: list[InboxRow]
    decided: list[LedgerEntry]
    future: asyncio.Future[IngestResult]


def _filtered(body: WebhookBody, request_id: str) -> LedgerEntry:
    event = body.event
    return LedgerEntry(
        event_uuid=event.uuid,
        event_name=event.event,
        distinct_id=event.distinct_id,
        account=None,
        outcome="filtered",
        signals=[{"outcome": "filtered", "reason": "no signal listens to this event"}],
        event_time=body.event_time,
        request_id=request_id,
    )


class IngestWriter:
    def __init__(self, store: Store, wanted: Callable[[str], bool], on_pending: Callable[[], None]):
        self._store = store
        self._wanted = wanted
        self._on_pending = on_pending
        self._queued: list[_Submission] = []
        self._writing = False
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer")

    def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def rows_for(self, events: list[Incoming], request_id: str) -> tuple[list[InboxRow], list[LedgerEntry]]:
        now = time.time()
        rows: list[InboxRow] = []
        decided: list[LedgerEntry] = []
        for body, stored in events:
            event = body.event
            if self._wanted(event.event):
                rows.append(InboxRow(event.uuid, event.event, stored, now, request_id, "pending"))
            else:
                rows.append(InboxRow(event.uuid, event.event, None, now, request_id, "done"))
                decided.append(_filtered(body, request_id))
        return rows, decided

    async def submit(self, events: list[Incoming], request_id: str) -> IngestResult:
        """Store the events durably; raises StoreUnavailable when the database cannot take them."""
        if self._executor is None:
            raise StoreUnavailable("the ingest writer is not running")
        rows, decided = self.rows_for(events, request_id)
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        self._queued.append(_Submission(rows, decided, future))
        if not self._writing:
            self._write_next()
        return await future

    def _write_next(self) -> None:
        """Start a transaction with what has queued up (on the event loop thread)."""
        if not self._queued or self._executor is None:
            return
        taken = size = 0
        while taken < len(self._queued) and size < MAX_ROWS_PER_TRANSACTION:
            size += len(self._queued[taken].rows)
            taken += 1
        batch, self._queued = self._queued[:taken], self._queued[taken:]
        self._writing = True
        task = asyncio.get_running_loop().run_in_executor(self._executor, self._commit, batch)
        task.add_done_callback(lambda done: self._written(batch, done))

    def _written(self, batch: list[_Submission], done: asyncio.Future[list[IngestResult]]) -> None:
        self._writing = False
        error = done.exception()
        if error is not None:
            log.error(
                "store refused %d requests: %s",
                len(batch),
                type(error).__name__,
                extra={"error": str(error)[:500]},
            )
            failure = StoreUnavailable(str(error))
            for submission in batch:
                if not submission.future.done():  # the client may have gone; the outcome stands
                    submission.future.set_exception(failure)
        else:
            results = done.result()
            for submission, result in zip(batch, results, strict=True):
                if not submission.future.done():
                    submission.future.set_result(result)
            if any(result.pending for result in results):
                self._on_pending()
        self._write_next()

    def _commit(self, batch: list[_Submission]) -> list[IngestResult]:
        """On the writer thread: one insert-or-ignore for the whole batch."""
        unique: dict[str, InboxRow] = {}
        decided: list[LedgerEntry] = []
        for submission in batch:
            for row in submission.rows:
                unique.setdefault(row.uuid, row)
            decided.extend(submission.decided)
        new = self._store.ingest(list(unique.values()), decided)
        results = []
        for submission in batch:
            accepted: list[str] = []
            pending = 0
            for row in submission.rows:
                if row.uuid in new and unique.get(row.uuid) is row:
                    accepted.append(row.uuid)
                    pending += row.status == "pending"
                    new.discard(row.uuid)
            duplicates = len(submission.rows) - len(accepted)
            results.append(IngestResult(len(accepted), duplicates, tuple(accepted), pending))
        return results
