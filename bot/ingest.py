"""Group commit for the webhook: concurrent requests share one database transaction.

A request hands its parsed events to a single writer thread and awaits the commit. The writer drains
whatever has queued up meanwhile and stores it with one insert-or-ignore, so throughput grows with
load while every 202 still means "committed". Events that no signal listens to are decided right
here (ledger outcome `filtered`) and their payload is not kept.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.events import WebhookBody
from bot.store import InboxRow, LedgerEntry, Store, StoreUnavailable

log = logging.getLogger(__name__)
MAX_ROWS_PER_TRANSACTION = 500


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
    loop: asyncio.AbstractEventLoop


def _resolve(future: asyncio.Future[IngestResult], result: IngestResult | BaseException) -> None:
    if future.done():  # the client went away; the events are stored regardless
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class IngestWriter:
    def __init__(self, store: Store, wanted: Callable[[str], bool], on_pending: Callable[[], None]):
        self._store = store
        self._wanted = wanted
        self._on_pending = on_pending
        self._queue: queue.SimpleQueue[_Submission | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def rows_for(
        self, bodies: list[WebhookBody], request_id: str
    ) -> tuple[list[InboxRow], list[LedgerEntry]]:
        now = time.time()
        rows: list[InboxRow] = []
        decided: list[LedgerEntry] = []
        for body in bodies:
            event = body.event
            if self._wanted(event.event):
                rows.append(InboxRow(event.uuid, event.event, body.stored(), now, request_id, "pending"))
                continue
            rows.append(InboxRow(event.uuid, event.event, None, now, request_id, "done"))
            decided.append(
                LedgerEntry(
                    event_uuid=event.uuid,
                    event_name=event.event,
                    distinct_id=event.distinct_id,
                    account=None,
                    outcome="filtered",
                    signals=[{"outcome": "filtered", "reason": "no signal listens to this event"}],
                    event_time=body.event_time,
                    request_id=request_id,
                )
            )
        return rows, decided

    async def submit(self, bodies: list[WebhookBody], request_id: str) -> IngestResult:
        """Store the events durably; raises StoreUnavailable when the database cannot take them."""
        if self._thread is None:
            raise StoreUnavailable("the ingest writer is not running")
        rows, decided = self.rows_for(bodies, request_id)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._queue.put(_Submission(rows, decided, future, loop))
        result = await asyncio.shield(future)
        if result.pending:
            self._on_pending()
        return result

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            size = len(first.rows)
            stop = False
            while size < MAX_ROWS_PER_TRANSACTION:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
                size += len(more.rows)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Submission]) -> None:
        unique: dict[str, InboxRow] = {}
        decided: list[LedgerEntry] = []
        for submission in batch:
            for row in submission.rows:
                unique.setdefault(row.uuid, row)
            decided.extend(submission.decided)
        try:
            new = self._store.ingest(list(unique.values()), decided)
        except Exception as exc:
            log.error(
                "store refused %d events: %s", len(unique), type(exc).__name__, extra={"error": str(exc)}
            )
            failure = StoreUnavailable(str(exc))
            for submission in batch:
                submission.loop.call_soon_threadsafe(_resolve, submission.future, failure)
            return
        for submission in batch:
            accepted: list[str] = []
            pending = 0
            for row in submission.rows:
                if row.uuid in new and unique.get(row.uuid) is row:
                    accepted.append(row.uuid)
                    pending += row.status == "pending"
                    new.discard(row.uuid)
            result = IngestResult(
                len(accepted), len(submission.rows) - len(accepted), tuple(accepted), pending
            )
            submission.loop.call_soon_threadsafe(_resolve, submission.future, result)
