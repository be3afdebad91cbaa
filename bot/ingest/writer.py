"""The webhook's storage step: turn parsed events into inbox rows and store them with group commit
(see bot/store/group_commit.py), so a 202 always means "committed". Events that no signal listens to are
decided right here (ledger outcome `filtered`) and their payload is not kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.decide.outcomes import Outcome, no_signal_listens
from bot.ingest.webhook_body import Incoming, WebhookBody
from bot.store import InboxRow, LedgerEntry, Store, StoreUnavailable, is_row_error
from bot.store.group_commit import Batcher

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
    decided: list[LedgerEntry | None]  # per row: its ledger entry when decided here


_NO_SIGNAL = [no_signal_listens()]


def _filtered(body: WebhookBody, request_id: str) -> LedgerEntry:
    event = body.event
    return LedgerEntry(
        event_uuid=event.uuid,
        event_name=event.event,
        distinct_id=event.distinct_id,
        account=None,
        outcome=Outcome.FILTERED,
        signals=_NO_SIGNAL,
        event_time=body.event_time,
        request_id=request_id,
    )


class IngestWriter:
    def __init__(
        self,
        store: Store,
        wanted: Callable[[str], bool],
        on_pending: Callable[[], None],
        deadline_s: float | None = None,
    ):
        """`deadline_s` bounds how long a request waits for its commit: a database that stops
        answering must not hold PostHog's request past its own timeout (it retries a 503)."""
        self._store = store
        self._wanted = wanted
        self._on_pending = on_pending
        self._batcher: Batcher[_Submission, IngestResult] = Batcher(
            "ingest-writer",
            self._commit,
            size=lambda s: len(s.rows),
            max_size=MAX_ROWS_PER_TRANSACTION,
            after=self._after,
            isolate=is_row_error,
            deadline_s=deadline_s,
        )

    def start(self) -> None:
        self._batcher.start()

    def stop(self) -> None:
        self._batcher.stop()

    def rows_for(self, events: list[Incoming], request_id: str) -> _Submission:
        now = time.time()
        submission = _Submission([], [])
        for body, stored in events:
            event = body.event
            if self._wanted(event.event):
                submission.rows.append(InboxRow(event.uuid, event.event, stored, now, request_id, "pending"))
                submission.decided.append(None)
            else:
                submission.rows.append(InboxRow(event.uuid, event.event, None, now, request_id, "done"))
                submission.decided.append(_filtered(body, request_id))
        return submission

    async def submit(self, events: list[Incoming], request_id: str) -> IngestResult:
        """Store the events durably; raises StoreUnavailable when the database cannot take them
        (within the deadline)."""
        if not self._batcher.running:
            raise StoreUnavailable("the ingest writer is not running")
        try:
            return await self._batcher.submit(self.rows_for(events, request_id))
        except TimeoutError:
            log.error("store did not answer within %.1fs", self._batcher.deadline_s or 0)
            raise StoreUnavailable("the database did not answer in time") from None
        except Exception as exc:
            log.error("store refused the events: %s", type(exc).__name__, extra={"error": str(exc)[:500]})
            raise StoreUnavailable(str(exc)) from exc

    def _after(self, results: Sequence[IngestResult]) -> None:
        if any(result.pending for result in results):
            self._on_pending()  # once per transaction, not once per request

    def _commit(self, batch: list[_Submission]) -> list[IngestResult]:
        """On the writer thread: one insert-or-ignore for the whole batch. The first row of a uuid is
        the one stored (with its ledger entry when decided here); any repeat, in this request or
        another, is a duplicate."""
        unique: dict[str, InboxRow] = {}
        decided: list[LedgerEntry] = []
        for submission in batch:
            for row, entry in zip(submission.rows, submission.decided, strict=True):
                if unique.setdefault(row.uuid, row) is row and entry is not None:
                    decided.append(entry)
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
