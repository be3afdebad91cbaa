"""The webhook's storage step. Events a signal listens to become inbox rows, stored with group commit
(see bot/store/group_commit.py), so a 202 always means "committed". Events no signal listens to can
never alert: they are counted in the tally (bot/ingest/tally.py), with no commit to wait for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.ingest.tally import Tally
from bot.ingest.webhook_body import Counted, Incoming
from bot.store import InboxRow, Store, StoreUnavailable, is_row_error
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
class _Split:
    """A request's events: the rows to store, the names to count, the repeats of a uuid in it."""

    rows: list[InboxRow]
    counted: list[str]  # uuids of the events no signal listens to
    names: list[str]  # their event names
    repeats: int


class IngestWriter:
    def __init__(
        self,
        store: Store,
        wanted: Callable[[str], bool],
        tally: Tally,
        on_pending: Callable[[], None],
        deadline_s: float | None = None,
    ):
        """`deadline_s` bounds how long a request waits for its commit: a database that stops
        answering must not hold PostHog's request past its own timeout (it retries a 503)."""
        self._store = store
        self.wanted = wanted  # whether a signal listens to an event of this name
        self._tally = tally
        self._on_pending = on_pending
        self._batcher: Batcher[list[InboxRow], IngestResult] = Batcher(
            "ingest-writer",
            self._commit,
            size=len,
            max_size=MAX_ROWS_PER_TRANSACTION,
            after=self._after,
            isolate=is_row_error,
            deadline_s=deadline_s,
        )

    def start(self) -> None:
        self._batcher.start()

    def stop(self) -> None:
        self._batcher.stop()

    def _split(self, events: list[Incoming | Counted], request_id: str) -> _Split:
        """The first event of a uuid in the request is taken, whatever its name; a repeat is a
        duplicate."""
        now = time.time()
        split = _Split([], [], [], 0)
        seen: set[str] = set()
        for item in events:
            if isinstance(item, Counted):
                uuid, name, stored = item.uuid, item.name, None
            else:
                uuid, name, stored = item.body.event.uuid, item.body.event.event, item.stored
            if uuid in seen:
                split.repeats += 1
                continue
            seen.add(uuid)
            if stored is not None and self.wanted(name):
                split.rows.append(InboxRow(uuid, name, stored, now, request_id))
            else:
                split.counted.append(uuid)
                split.names.append(name)
        return split

    async def submit(self, events: list[Incoming | Counted], request_id: str) -> IngestResult:
        """Store the events a signal listens to durably and count the others; raises StoreUnavailable
        when the database cannot take the stored ones (within the deadline), and then counts nothing,
        since PostHog sends the whole request again."""
        if not self._batcher.running:
            raise StoreUnavailable("the ingest writer is not running")
        split = self._split(events, request_id)
        stored = IngestResult(0, 0, (), 0)
        if split.rows:
            try:
                stored = await self._batcher.submit(split.rows)
            except TimeoutError:
                log.error("store did not answer within %.1fs", self._batcher.deadline_s or 0)
                raise StoreUnavailable("the database did not answer in time") from None
            except Exception as exc:
                log.error("store refused the events: %s", type(exc).__name__, extra={"error": str(exc)[:500]})
                raise StoreUnavailable(str(exc)) from exc
        self._tally.count(split.names)
        return IngestResult(
            stored.accepted + len(split.names),
            stored.duplicates + split.repeats,
            (*stored.accepted_uuids, *split.counted),
            stored.pending,
        )

    def _after(self, results: Sequence[IngestResult]) -> None:
        if any(result.pending for result in results):
            self._on_pending()  # once per transaction, not once per request

    def _commit(self, batch: list[list[InboxRow]]) -> list[IngestResult]:
        """On the writer thread: one insert-or-ignore for the whole batch. The first row of a uuid is
        the one stored; any repeat, in another request of the batch or already stored, is a
        duplicate."""
        unique: dict[str, InboxRow] = {}
        for rows in batch:
            for row in rows:
                unique.setdefault(row.uuid, row)
        new = self._store.ingest(list(unique.values()))
        results = []
        for rows in batch:
            accepted = tuple(row.uuid for row in rows if row.uuid in new and unique[row.uuid] is row)
            results.append(IngestResult(len(accepted), len(rows) - len(accepted), accepted, len(accepted)))
        return results
