"""Query signals: each runs its HogQL through PostHog's Query API when a worker starts (unless a run
happened within its `every`) and then every `every`, one run per interval however many processes
share the database (the lease in bot/store/query_runs.py). Each result row enters the inbox as an
event of the bot's own, `$query:<signal>`, with the row's columns under `query`, and the worker
decides it through the same pipeline and ledger as a webhook event.

A row's uuid is derived from the signal, the run's start and the row itself, so storing a run's rows
again never doubles them. A failing query (PostHog's 4xx or 5xx, a HogQL error, a timeout) is
logged with PostHog's own message, counted in `signals_query_runs_total{signal,result}`, recorded as
that interval's run, and tried again at the next; nothing here ever stops the worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import orjson
from pydantic import ValidationError

from bot.clients.posthog_api import PostHogApi, PostHogApiError
from bot.clients.posthog_queries import HogQLTable
from bot.config.signals_file import Signal
from bot.ingest.webhook_body import WebhookBody
from bot.ops.metrics import Metrics
from bot.store import InboxRow, Store, is_row_error
from bot.store.until_stored import stored_within

log = logging.getLogger(__name__)
ROW_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "posthog-slack-signals/query-rows")
ROWS_PER_TRANSACTION = 2000
T = TypeVar("T")
DUE_SLACK_S = 0.05  # wake just after a run is due, not just before
NOT_CONFIGURED = (
    "POSTHOG_PERSONAL_API_KEY (scope query:read) and POSTHOG_PROJECT_ID must be set to run query signals"
)

Result = Literal["ok", "error"]


@dataclass(frozen=True)
class RunReport:
    """How one run went: `rows` the query returned (taken), `new` of them stored for the first time."""

    signal: str
    started_at: float
    result: Result
    rows: int = 0
    new: int = 0
    error: str | None = None
    truncated: bool = False


def row_uuid(signal: str, started_at: float, row: dict[str, Any]) -> str:
    """The same for the same row of the same run, whichever process stores it and however often."""
    identity = orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode()
    return str(uuid.uuid5(ROW_NAMESPACE, f"{signal}\x1f{started_at!r}\x1f{identity}"))


def row_body(signal: Signal, started_at: float, row: dict[str, Any]) -> WebhookBody:
    """A row as the event the pipeline decides: named `$query:<signal>`, at the run's time, for the
    row's `distinct_id` when it has one, with every column under `query` (`query.<column>`)."""
    distinct = row.get("distinct_id")
    event = {
        "uuid": row_uuid(signal.name, started_at, row),
        "event": signal.event,
        "distinct_id": str(distinct)[:400]
        if isinstance(distinct, str | int | float) and distinct != ""
        else None,
        "properties": {},
        "timestamp": datetime.fromtimestamp(started_at, UTC).isoformat(),
    }
    return WebhookBody.model_validate({"event": event, "query": row})


def _describe(exc: PostHogApiError) -> str:
    """PostHog's own message, with the status it came with."""
    return f"HTTP {exc.status}: {exc.detail}" if exc.status and exc.status >= 400 else exc.detail


class QuerySchedule:
    def __init__(
        self,
        signals: Sequence[Signal],
        store: Store,
        api: PostHogApi | None,
        metrics: Metrics,
        worker_id: str,
        wake: Callable[[], None],
        clock: Callable[[], float] = time.time,
        max_rows: int = 10_000,
        min_wait_s: float = 1.0,
        max_wait_s: float = 300.0,
    ):
        """`api` is None when no personal API key or project is configured: every run then fails,
        saying so. `wake` tells the worker that rows are waiting."""
        self.signals = [s for s in signals if s.is_query]
        self.store = store
        self.api = api
        self.metrics = metrics
        self.worker_id = worker_id
        self.wake = wake
        self.clock = clock
        self.max_rows = max_rows
        self.min_wait_s = min_wait_s
        self.max_wait_s = max_wait_s

    async def run(self) -> None:
        """Forever: run what is due, then sleep until the next signal is due (re-read from the store,
        as another process may have run it meanwhile)."""
        while True:
            try:
                await self.run_due()
                wait = await self.until_next_due()
            except Exception as exc:  # the store is down, say: try again later, stop nothing
                log.error("scheduled queries: %s", type(exc).__name__, extra={"error": str(exc)[:300]})
                wait = self.max_wait_s / 10
            await asyncio.sleep(wait)

    async def run_due(self, now: float | None = None) -> list[RunReport]:
        """Run each query signal whose interval has come and that no other process has taken."""
        reports = []
        for signal in self.signals:
            try:
                started = self.clock() if now is None else now
                every = signal.every.total_seconds() if signal.every else 0.0
                take = self.store.start_query_run
                if not await self.store.call(take, signal.name, every, self.worker_id, started):
                    continue
                reports.append(await self.run_once(signal, started))
            except Exception as exc:  # one signal's trouble never holds back the others
                log.error(
                    "scheduled query %r failed: %s",
                    signal.name,
                    type(exc).__name__,
                    extra={"signal": signal.name, "error": str(exc)[:300]},
                )
        return reports

    async def until_next_due(self) -> float:
        """Seconds until the next query signal is due, within [min_wait_s, max_wait_s]."""
        if not self.signals:
            return self.max_wait_s
        runs = await self.store.call(self.store.last_query_runs)
        now = self.clock()
        due = min(
            runs[s.name].started_at + s.every.total_seconds() if s.name in runs and s.every else now
            for s in self.signals
        )
        return min(max(due - now + DUE_SLACK_S, self.min_wait_s), self.max_wait_s)

    async def run_once(self, signal: Signal, started_at: float) -> RunReport:
        """Run the query of a run this process holds, store its rows, and record how it went."""
        try:
            table = await self._query(signal)
        except PostHogApiError as exc:
            error = _describe(exc)
            log.error(
                "query signal %r failed: %s",
                signal.name,
                error,
                extra={"signal": signal.name, "status": exc.status, "hint": exc.explain()},
            )
            return await self._finish(signal, RunReport(signal.name, started_at, "error", error=error))
        except Exception as exc:  # anything else (a bad URL, say): still this interval's failed run
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.error("query signal %r failed: %s", signal.name, error, extra={"signal": signal.name})
            return await self._finish(signal, RunReport(signal.name, started_at, "error", error=error))
        try:
            new = await self._store_rows(signal, started_at, table)
        except Exception as exc:
            error = f"could not store the rows: {type(exc).__name__}: {str(exc)[:300]}"
            log.error("query signal %r: %s", signal.name, error, extra={"signal": signal.name})
            return await self._finish(
                signal, RunReport(signal.name, started_at, "error", len(table.rows), error=error)
            )
        if table.truncated:
            log.warning(
                "query signal %r returned more than %d rows; the first %d are taken",
                signal.name,
                self.max_rows,
                self.max_rows,
                extra={"signal": signal.name, "max_rows": self.max_rows},
            )
        log.info(
            "query signal ran",
            extra={
                "signal": signal.name,
                "rows": len(table.rows),
                "new": new,
                "columns": list(table.columns),
            },
        )
        report = RunReport(signal.name, started_at, "ok", len(table.rows), new, truncated=table.truncated)
        return await self._finish(signal, report)

    async def _query(self, signal: Signal) -> HogQLTable:
        if self.api is None:
            raise PostHogApiError(NOT_CONFIGURED, code="not_configured")
        assert signal.query is not None
        return await self.api.hogql_table(
            signal.query, self.max_rows, f"posthog-slack-signals: {signal.name}"
        )

    async def _store_rows(self, signal: Signal, started_at: float, table: HogQLTable) -> int:
        """The rows into the inbox, a bounded transaction at a time; returns how many were new."""
        received_at = time.time()
        rows: list[InboxRow] = []
        for number, row in enumerate(table.rows):
            try:
                body = row_body(signal, started_at, row)
            except ValidationError as exc:  # json_safe bounds values; this is the last guard
                log.warning(
                    "query signal %r: row %d skipped: %s", signal.name, number, exc.errors()[0]["msg"]
                )
                continue
            rows.append(
                InboxRow(body.event.uuid, signal.event, body.stored(), received_at, f"query:{started_at:.0f}")
            )
        new = 0
        for start in range(0, len(rows), ROWS_PER_TRANSACTION):
            chunk = rows[start : start + ROWS_PER_TRANSACTION]
            new += len(await self._until_stored(signal, self.store.ingest_query_rows, chunk))
            if new:
                self.wake()
        return new

    async def _until_stored(self, signal: Signal, call: Callable[..., T], *args: Any) -> T:
        """`call` retried while the database is away, until the signal's next run would take over
        (StoreGaveUp then): PostHog's rows are in hand, and a repeated insert skips the rows it has."""
        seconds = signal.every.total_seconds() if signal.every else 60.0
        extra = {"signal": signal.name}
        return await stored_within(call, *args, seconds=seconds, extra=extra, give_up_on=is_row_error)

    async def _finish(self, signal: Signal, report: RunReport) -> RunReport:
        self.metrics.query_runs.labels(signal=report.signal, result=report.result).inc()
        finish = self.store.finish_query_run
        args = (report.signal, self.worker_id, report.result, report.rows, report.error)
        try:
            await self._until_stored(signal, finish, *args)
        except Exception as exc:  # the run happened; only its record is missing
            log.error("could not record the run of %r: %s", report.signal, type(exc).__name__)
        return report
