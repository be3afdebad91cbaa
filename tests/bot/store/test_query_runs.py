"""The query signals' lease on SQLite and PostgreSQL: one run per interval whoever asks, a failed run
counting as its interval's, a run's end recorded only by the process that holds it, and the rows of
a run entering the inbox once however often they are stored."""

from __future__ import annotations

import threading
import time

import pytest

from bot.store import InboxRow, Store

HOUR = 3600.0
T = 1_800_000_000.0


def test_the_first_run_is_taken_and_the_interval_holds_off_every_other(store):
    assert store.start_query_run("Dropped", HOUR, "w1", T)
    assert not store.start_query_run("Dropped", HOUR, "w2", T + 1)
    assert not store.start_query_run("Dropped", HOUR, "w1", T + HOUR - 0.001)
    assert store.start_query_run("Other", HOUR, "w2", T + 1)  # per signal
    assert store.start_query_run("Dropped", HOUR, "w2", T + HOUR)  # exactly `every` later
    run = store.last_query_runs()["Dropped"]
    assert (run.started_at, run.claimed_by, run.finished_at, run.result) == (T + HOUR, "w2", None, None)


def test_a_failed_run_counts_as_its_intervals_run(store):
    assert store.start_query_run("Dropped", HOUR, "w1", T)
    assert store.finish_query_run(
        "Dropped", "w1", "error", None, "HTTP 400: Unable to resolve field", now=T + 2
    )
    assert not store.start_query_run("Dropped", HOUR, "w2", T + 60)
    run = store.last_query_runs()["Dropped"]
    assert (run.result, run.rows, run.error, run.finished_at) == (
        "error",
        None,
        "HTTP 400: Unable to resolve field",
        T + 2,
    )
    assert store.start_query_run("Dropped", HOUR, "w2", T + HOUR)  # retried at the next interval
    again = store.last_query_runs()["Dropped"]
    assert again.running and again.claimed_by == "w2"  # a new run, not yet done...
    assert (again.result, again.finished_at) == ("error", T + 2)  # ...and the last outcome still shows
    assert store.finish_query_run("Dropped", "w2", "ok", 4, None, now=T + HOUR + 1)
    done = store.last_query_runs()["Dropped"]
    assert not done.running and (done.result, done.rows, done.error) == ("ok", 4, None)


def test_only_the_process_holding_the_run_records_its_end(store):
    assert store.start_query_run("Dropped", HOUR, "w1", T)
    assert store.start_query_run("Dropped", HOUR, "w2", T + HOUR)  # w1's run outlived its interval
    assert not store.finish_query_run("Dropped", "w1", "ok", 3, None)
    assert store.finish_query_run("Dropped", "w2", "ok", 7, None)
    assert not store.finish_query_run("Dropped", "w2", "error", None, "twice")  # already finished
    run = store.last_query_runs()["Dropped"]
    assert (run.claimed_by, run.result, run.rows, run.error) == ("w2", "ok", 7, None)


def test_a_long_error_is_cut_to_its_column(store):
    store.start_query_run("Dropped", HOUR, "w1", T)
    store.finish_query_run("Dropped", "w1", "error", None, "x" * 10_000)
    assert len(store.last_query_runs()["Dropped"].error) == 2000


def test_rows_enter_the_inbox_once(store):
    rows = [InboxRow(f"q-{n}", "$query:Dropped", b'{"event": {}}', T, "query:1") for n in range(3)]
    assert store.ingest_query_rows(rows) == {"q-0", "q-1", "q-2"}
    assert store.ingest_query_rows([*rows, InboxRow("q-3", "$query:Dropped", b"{}", T, "query:1")]) == {"q-3"}
    assert store.ingest_query_rows([]) == set()


@pytest.mark.parametrize("contenders", [2, 6])
def test_of_several_stores_asking_at_once_exactly_one_takes_each_interval(store, contenders):
    """Each contender has its own engine (its own connections, as another process would), and all
    ask for the same runs at the same moments: every interval goes to exactly one of them."""
    url = store.engine.url.render_as_string(hide_password=False)
    others = [Store.from_url(url) for _ in range(contenders)]
    for other in others:
        other.ping()
    rounds = 15
    won: list[list[float]] = [[] for _ in others]
    barrier = threading.Barrier(contenders)

    def contend(index: int) -> None:
        own = others[index]
        for n in range(rounds):
            barrier.wait(timeout=20)
            if own.start_query_run("Race", HOUR, f"w{index}", T + n * HOUR):
                won[index].append(T + n * HOUR)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(contenders)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for other in others:
            other.dispose()
    assert sorted(at for wins in won for at in wins) == [T + n * HOUR for n in range(rounds)]
    assert time.monotonic() - started < 30
