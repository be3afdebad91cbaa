"""Query signals' runs against the fake PostHog Query API and a real store (SQLite and PostgreSQL):
rows become inbox events once however often a run's rows are stored, one run per interval, a result
read whole in one request without OFFSET, the row cap, and every kind of failure recorded with
PostHog's own message, counted, and retried at the next interval without raising."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.exc import OperationalError

from bot.clients.posthog_api import PostHogApi
from bot.config.signals_file import Signal
from bot.ops.metrics import Metrics
from bot.schedule.queries import NOT_CONFIGURED, QuerySchedule, RunReport, row_uuid
from bot.store import Store
from testkit.base import Reply
from testkit.posthog_api import (
    PERSONAL_KEY,
    PROJECT_ID,
    FakePostHogApi,
    hogql_error,
    missing_scope,
    rate_limited,
    server_error,
    slow,
)

HOUR = 3600.0
T = 1_800_000_000.0
DROPPED_SQL = """SELECT properties.company_domain AS account, count() AS calls_this_week
FROM events WHERE event = 'api_called' AND timestamp > now() - INTERVAL 7 DAY
GROUP BY account HAVING calls_this_week < 10 -- quiet accounts;"""
DROPPED = Signal(name="API usage dropped", query=DROPPED_SQL, every="1h", cooldown="7d")
PEOPLE = Signal(
    name="Stuck in setup", query="SELECT distinct_id, email FROM persons_stuck", every="30m", min_score=0
)


@pytest.fixture
def posthog() -> Iterator[FakePostHogApi]:
    with FakePostHogApi(seed=False) as server:
        server.offset_allowed = False  # as PostHog answers personal-API-key queries today
        server.add_hogql_table(
            "count() AS calls_this_week",
            ["account", "calls_this_week"],
            [["acme.com", 3], ["initech.com", 7], [None, 1]],
            ["String", "UInt64"],
        )
        yield server


class Runner:
    """A schedule on an event loop of its own, and what it touched: its metrics, and how often it
    woke the worker."""

    def __init__(self, store: Store, url: str | None, timeout_s: float = 5.0, max_rows: int = 10_000):
        self.store = store
        self.metrics = Metrics()
        self.wakes = 0
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient()
        api = PostHogApi(url, PROJECT_ID, PERSONAL_KEY, self.client, timeout_s) if url else None

        def wake() -> None:
            self.wakes += 1

        self.schedule = QuerySchedule(
            [DROPPED, PEOPLE], store, api, self.metrics, "w1", wake, clock=lambda: T, max_rows=max_rows
        )

    def run_due(self, now: float = T) -> list[RunReport]:
        return self.loop.run_until_complete(self.schedule.run_due(now))

    def run_once(self, signal: Signal, started: float = T) -> RunReport:
        """The run starting at `started`, taken whatever ran before (as `run_due` takes a due one)."""
        assert self.store.start_query_run(signal.name, 0.0, "w1", started)
        return self.loop.run_until_complete(self.schedule.run_once(signal, started))

    def until_next_due(self) -> float:
        return self.loop.run_until_complete(self.schedule.until_next_due())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()

    def counted(self, signal: str, result: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "signals_query_runs_total", {"signal": signal, "result": result}
        )
        return value or 0.0


@pytest.fixture
def runner_for(store: Store) -> Iterator[Callable[..., Runner]]:
    """Runners on the test's store, each closed afterwards."""
    made: list[Runner] = []

    def make(url: str | None, **options: Any) -> Runner:
        made.append(Runner(store, url, **options))
        return made[-1]

    yield make
    for runner in made:
        runner.close()


def inbox(store: Store) -> dict[str, dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT uuid, event_name, payload, status FROM inbox").all()
    return {r[0]: {"event_name": r[1], "body": orjson.loads(r[2]), "status": r[3]} for r in rows}


def test_each_row_becomes_a_pending_event_of_the_signal_with_its_columns(store, runner_for, posthog):
    runner = runner_for(posthog.url)
    report = runner.run_once(DROPPED)
    assert (report.result, report.rows, report.new, report.truncated) == ("ok", 3, 3, False)
    events = inbox(store)
    expected = row_uuid(DROPPED.name, T, {"account": "acme.com", "calls_this_week": 3})
    acme = events[expected]
    assert acme["event_name"] == "$query:API usage dropped" and acme["status"] == "pending"
    assert acme["body"]["query"] == {"account": "acme.com", "calls_this_week": 3}
    assert acme["body"]["event"]["timestamp"].startswith("2027-01-15T08:00:00")  # the run's time
    assert "distinct_id" not in acme["body"]["event"]
    assert sorted(e["body"]["query"]["calls_this_week"] for e in events.values()) == [1, 3, 7]
    assert runner.wakes >= 1
    assert runner.counted(DROPPED.name, "ok") == 1
    run = store.last_query_runs()[DROPPED.name]
    assert (run.result, run.rows, run.error, run.claimed_by) == ("ok", 3, None, "w1")

    [sent] = posthog.queries()
    assert sent["query"]["kind"] == "HogQLQuery"
    assert sent["query"]["query"].startswith("SELECT * FROM (\nSELECT properties.company_domain")
    assert sent["query"]["query"].endswith("-- quiet accounts\n) LIMIT 10001")  # `;` dropped, `--` closed
    assert sent["name"] == "posthog-slack-signals: API usage dropped" and sent["refresh"] == "blocking"


def test_storing_a_runs_rows_again_never_doubles_them_and_a_new_run_is_new_rows(store, runner_for, posthog):
    runner = runner_for(posthog.url)
    assert runner.run_once(DROPPED).new == 3
    assert runner.run_once(DROPPED).new == 0  # the same run (same start): the same uuids
    assert len(inbox(store)) == 3
    assert runner.run_once(DROPPED, T + HOUR).new == 3  # the next interval's rows are its own
    assert len(inbox(store)) == 6


def test_rows_the_database_could_not_take_at_first_are_stored_when_it_answers_again(
    store, runner_for, posthog
):
    """The database drops the connection as the rows arrive: they are in hand, so they are stored
    once it answers (within the interval), and the run is a success, not a lost interval."""
    runner = runner_for(posthog.url)
    inserts, failures = store.ingest_query_rows, [OperationalError("INSERT", {}, Exception("closed"))]

    def unreachable_once(rows):
        if failures:
            raise failures.pop()
        return inserts(rows)

    store.ingest_query_rows = unreachable_once
    report = runner.run_once(DROPPED)
    assert (report.result, report.new) == ("ok", 3)
    assert len(inbox(store)) == 3
    assert store.last_query_runs()[DROPPED.name].result == "ok"


def test_a_row_of_a_person_carries_its_distinct_id(store, runner_for, posthog):
    posthog.add_hogql_table("persons_stuck", ["distinct_id", "email"], [["u_1", "jane@acme.com"], [42, None]])
    runner = runner_for(posthog.url)
    assert runner.run_once(PEOPLE).new == 2
    bodies = {e["body"]["event"]["distinct_id"]: e["body"] for e in inbox(store).values()}
    assert bodies["u_1"]["query"] == {"distinct_id": "u_1", "email": "jane@acme.com"}
    assert bodies["42"]["query"] == {"distinct_id": 42, "email": None}  # the column as PostHog sent it


def test_one_run_per_interval_and_at_start_only_when_none_ran_within_it(store, runner_for, posthog):
    posthog.add_hogql_table("persons_stuck", ["distinct_id"], [["u_1"]])
    runner = runner_for(posthog.url)
    assert [r.signal for r in runner.run_due(T)] == [DROPPED.name, PEOPLE.name]
    assert runner.run_due(T + 60) == []  # a restart a minute later runs nothing
    assert [r.signal for r in runner.run_due(T + 1800)] == [PEOPLE.name]  # every 30m
    assert [r.signal for r in runner_for(posthog.url).run_due(T + HOUR)] == [DROPPED.name, PEOPLE.name]
    assert len(posthog.queries()) == 5
    assert runner.until_next_due() == runner.schedule.max_wait_s  # the clock says T; both ran at T + 1h


def test_a_result_past_posthogs_default_100_rows_is_read_whole_in_one_request(store, runner_for, posthog):
    rows = [[f"c{n}.example", n] for n in range(250)]
    posthog.add_hogql_table("count() AS calls_this_week", ["account", "calls_this_week"], rows)
    report = runner_for(posthog.url).run_once(DROPPED)
    assert (report.result, report.rows, report.truncated) == ("ok", 250, False)
    assert len(posthog.queries()) == 1  # and no OFFSET: PostHog refuses it with a personal API key


def test_past_the_row_cap_the_first_rows_are_taken_and_the_cut_is_logged(store, runner_for, posthog, caplog):
    rows = [[f"c{n}.example", n] for n in range(60)]
    posthog.add_hogql_table("count() AS calls_this_week", ["account", "calls_this_week"], rows)
    with caplog.at_level(logging.WARNING, logger="bot.schedule.queries"):
        report = runner_for(posthog.url, max_rows=50).run_once(DROPPED)
    assert (report.result, report.rows, report.new, report.truncated) == ("ok", 50, 50, True)
    assert "returned more than 50 rows" in caplog.text
    assert posthog.queries()[0]["query"]["query"].endswith(") LIMIT 51")


FAILURES = {
    "hogql error": (
        hogql_error("Unable to resolve field: calls_this_wek"),
        "HTTP 400: Unable to resolve field: calls_this_wek",
    ),
    "server error": (server_error(500), "HTTP 500: A server error occurred."),
    "bad gateway": (server_error(502), "HTTP 502: Bad Gateway"),
    "rate limited": (rate_limited(7), "HTTP 429: Request was throttled. Expected available in 7 seconds."),
    "missing scope": (missing_scope("query:read"), "HTTP 403: API key missing required scope 'query:read'"),
    "not a table": (Reply(200, {"results": [[1, 2]], "columns": ["only_one"]}), "row 0 has 2 values"),
    "timeout": (slow(1.0), "PostHog did not answer within 0.3 s"),
}


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
def test_a_failing_query_is_logged_recorded_counted_and_retried_at_the_next_interval(
    store, runner_for, posthog, caplog, failure
):
    reply, message = failure
    posthog.script(reply, path="query/")
    runner = runner_for(posthog.url, timeout_s=0.3)
    with caplog.at_level(logging.ERROR, logger="bot.schedule.queries"):
        report = runner.run_once(DROPPED)
    assert report.result == "error" and message in report.error
    assert message in caplog.text
    assert PERSONAL_KEY not in caplog.text
    run = store.last_query_runs()[DROPPED.name]
    assert run.result == "error" and message in run.error
    assert runner.counted(DROPPED.name, "error") == 1
    assert inbox(store) == {}
    assert not store.start_query_run(DROPPED.name, HOUR, "w2", T + 60)  # it was this interval's run
    assert runner.run_once(DROPPED, T + HOUR).result == "ok"  # the next interval tries again
    assert runner.counted(DROPPED.name, "ok") == 1


def test_a_posthog_that_cannot_be_reached_is_a_failed_run(store, runner_for):
    runner = runner_for("http://127.0.0.1:9", timeout_s=1)
    [dropped, people] = runner.run_due(T)
    assert dropped.result == "error" and "could not reach 127.0.0.1:9" in dropped.error
    assert people.result == "error"  # one signal's failure holds back no other


def test_without_a_personal_api_key_every_run_fails_saying_what_to_set(store, runner_for):
    runner = runner_for(None)
    report = runner.run_once(DROPPED)
    assert (report.result, report.error) == ("error", NOT_CONFIGURED)
    assert store.last_query_runs()[DROPPED.name].error == NOT_CONFIGURED


def test_an_unexpected_failure_of_one_signal_never_escapes_and_holds_back_no_other(
    store, runner_for, posthog
):
    posthog.add_hogql_table("persons_stuck", ["distinct_id"], [["u_1"]])
    runner = runner_for(posthog.url)

    async def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    original = runner.schedule.run_once

    async def run_once(signal: Signal, started: float) -> RunReport:
        if signal is DROPPED:
            return await broken()
        return await original(signal, started)

    runner.schedule.run_once = run_once  # type: ignore[method-assign]
    assert [r.signal for r in runner.run_due(T)] == [PEOPLE.name]
