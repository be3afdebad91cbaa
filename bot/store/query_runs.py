"""The lease of scheduled queries: one row per query signal in `query_runs`, moved forward by a single
insert-or-update that only succeeds when the previous run started at least `every` ago, so however
many processes share the database, exactly one of them runs each interval (a failed run counts as
that interval's run). The rows a run yields enter the inbox like webhook events."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, or_, select, update

from bot.store.base import StoreBase
from bot.store.bulk import BulkIngest
from bot.store.inbox import pending_values
from bot.store.records import InboxRow
from bot.store.tables import query_runs

ERROR_MAX_CHARS = 2000


@dataclass(frozen=True)
class QueryRun:
    """One query signal's latest run (`started_at`, `claimed_by`) and the latest run that finished
    (`finished_at`, `result`, `rows`, `error`): a run in progress, or one whose process died, leaves
    the last outcome readable, so a failing query stays failing in `stats` until a run succeeds."""

    signal: str
    started_at: float
    finished_at: float | None  # of the latest run that finished
    claimed_by: str | None
    result: str | None  # ok | error; None before any run finished
    rows: int | None
    error: str | None

    @property
    def running(self) -> bool:
        """The latest run has not finished (it is in progress, or its process died)."""
        return self.finished_at is None or self.finished_at < self.started_at


class QueryRunStore(StoreBase):
    def start_query_run(self, signal: str, every_s: float, worker: str, now: float) -> bool:
        """Take this interval's run of `signal`: true for exactly one caller while the last run started
        less than `every_s` before `now`. The condition sits in the upsert itself, so the database,
        not a read before it, decides between processes."""
        insert = self._insert(query_runs).values(
            signal=signal,
            started_at=now,
            finished_at=None,
            claimed_by=worker,
            result=None,
            rows=None,
            error=None,
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[query_runs.c.signal],
            set_={  # the last outcome stays until this run finishes
                "started_at": insert.excluded.started_at,
                "claimed_by": insert.excluded.claimed_by,
            },
            where=query_runs.c.started_at <= now - every_s,
        ).returning(query_runs.c.signal)
        with self._write() as conn:
            return conn.execute(upsert).first() is not None

    def finish_query_run(
        self,
        signal: str,
        worker: str,
        result: str,
        rows: int | None,
        error: str | None,
        now: float | None = None,
    ) -> bool:
        """Record how the run this process holds ended; false (nothing written) when another process
        has taken a later run since."""
        finished = time.time() if now is None else now
        with self._write() as conn:
            done = conn.execute(
                update(query_runs)
                .where(
                    query_runs.c.signal == signal,
                    query_runs.c.claimed_by == worker,
                    or_(
                        query_runs.c.finished_at.is_(None), query_runs.c.finished_at < query_runs.c.started_at
                    ),
                )
                .values(
                    # Never before its start (a clock set back meanwhile): a finished run reads as one.
                    finished_at=case(
                        (query_runs.c.started_at > finished, query_runs.c.started_at), else_=finished
                    ),
                    result=result,
                    rows=rows,
                    error=error[:ERROR_MAX_CHARS] if error else None,
                )
            )
            return bool(done.rowcount)

    def last_query_runs(self) -> dict[str, QueryRun]:
        """The latest run of every query signal that has run, by signal name."""
        with self._read() as conn:
            rows = conn.execute(select(query_runs)).all()
        return {
            row.signal: QueryRun(
                row.signal, row.started_at, row.finished_at, row.claimed_by, row.result, row.rows, row.error
            )
            for row in rows
        }

    def ingest_query_rows(self, rows: Sequence[InboxRow]) -> set[str]:
        """Insert-or-ignore a run's rows into the inbox, pending for the worker, in one transaction, by
        the webhook's own bulk insert; returns the uuids that were new. On a connection of its own, as
        the webhook's may be in use on its writer thread when both run in one process."""
        if not rows:
            return set()
        bulk = BulkIngest(self.engine, self.sqlite, self._write_lock)
        try:
            return bulk.insert(pending_values(rows))
        finally:
            bulk.close()
