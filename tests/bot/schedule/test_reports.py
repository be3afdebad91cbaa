"""The scheduled report: its times (one `every` after the schedule's first start, then every `every`),
one report per period however many processes are due at once and however often one restarts, the
latest period only after a process was down, and what the report says (stats, failing queries, the
tracking plan, or why the plan could not be read)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import OperationalError

from bot.alerts.delivery import Delivery, make_slack_client
from bot.clients.posthog_api import PostHogApiError
from bot.config.signals_file import Reports as ReportsConfig
from bot.config.signals_file import SignalsConfig
from bot.ops.metrics import Metrics
from bot.schedule.reports import Reports, last_due, next_due, period_of
from bot.store import Store
from testkit.slack import TOKEN
from tests.support import stored
from tests.support.stored import decide, new_alert

DAY = 86400.0
WEEK = 7 * DAY
START = 1_790_000_000.0  # the schedule's first start in these tests
CONFIG = SignalsConfig.model_validate(
    {
        "signals": [
            {"name": "S", "event": "e"},
            {"name": "Heavy users", "query": "SELECT 'acme.com' AS account", "every": "1h"},
        ],
        "routing": [{"channel": "C0AE1"}],
        "reports": {"channel": "C0REVOPS", "every": "7d"},
    }
)


def test_the_first_report_is_one_every_after_the_first_start_then_every_every():
    assert last_due(START + WEEK - 1, START, WEEK) is None
    assert last_due(START + WEEK, START, WEEK) == START + WEEK
    assert last_due(START + 3 * WEEK + 5, START, WEEK) == START + 3 * WEEK  # the latest only
    assert next_due(START, START, WEEK) == START + WEEK
    assert next_due(START + WEEK, START, WEEK) == START + 2 * WEEK
    assert period_of(START + WEEK) == "2026-09-28T14:13:20Z"


def _reports(
    store: Store, fake_slack, now: float, plan=None, config: SignalsConfig = CONFIG, worker: str = "w1"
) -> tuple:
    client = make_slack_client(TOKEN, fake_slack.api_url, 0.01)
    delivery = Delivery(store, client, Metrics(), worker, min_interval_s=0)
    assert config.reports is not None
    return Reports(store, delivery, config, config.reports, plan, worker, clock=lambda: now), delivery


def _due(store: Store, fake_slack, now: float, plan=None) -> str | None:
    async def go() -> str | None:
        reports, delivery = _reports(store, fake_slack, now, plan)
        sent = await reports.send_due(store.report_started_at("C0REVOPS", now))
        await delivery.drain()
        await delivery.stop()
        return sent.report_id

    return asyncio.run(go())


def _reports_posted(fake_slack) -> list[dict]:
    return [m for m in fake_slack.posted() if m["metadata"]["event_payload"].get("signal") == "$report"]


def test_the_schedule_starts_at_the_first_start_and_a_restart_keeps_it(worker_store, fake_slack):
    assert worker_store.report_started_at("C0REVOPS", START) == START
    assert worker_store.report_started_at("C0REVOPS", START + DAY) == START  # a later start keeps it
    assert _due(worker_store, fake_slack, START + WEEK - 60) is None
    assert fake_slack.posted() == []


def test_a_period_is_reported_once_across_restarts(worker_store, fake_slack):
    worker_store.report_started_at("C0REVOPS", START)
    report_id = _due(worker_store, fake_slack, START + WEEK + 1)
    assert report_id is not None
    assert _due(worker_store, fake_slack, START + WEEK + 30) is None  # restarted the same period
    [posted] = _reports_posted(fake_slack)
    assert posted["channel"] == "C0REVOPS" and posted["metadata"]["event_payload"]["alert_id"] == report_id
    assert stored.alert(worker_store, report_id)["status"] == "posted"
    # Down for two periods: the latest is reported, the missed one is not sent late.
    assert _due(worker_store, fake_slack, START + 3 * WEEK + 10) is not None
    assert len(_reports_posted(fake_slack)) == 2


def test_two_processes_due_at_the_same_moment_send_one_report(db_url, fake_slack):
    stores = [Store.from_url(db_url) for _ in range(4)]
    stores[0].upgrade()
    for i, store in enumerate(stores):
        store.heartbeat(f"w{i}")
    stores[0].report_started_at("C0REVOPS", START)
    barrier = threading.Barrier(len(stores))
    sent: list[str | None] = []

    def process(store: Store) -> None:
        async def go() -> None:
            worker = f"w{stores.index(store)}"
            reports, delivery = _reports(store, fake_slack, START + WEEK + 5, worker=worker)
            barrier.wait()
            sent.append((await reports.send_due(START)).report_id)
            await delivery.drain()
            await delivery.stop()

        asyncio.run(go())

    try:
        threads = [threading.Thread(target=process, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len([s for s in sent if s]) == 1
        fake_slack.wait_for(lambda s: _reports_posted(s), timeout=10)
        time.sleep(0.2)
        assert len(_reports_posted(fake_slack)) == 1
    finally:
        for store in stores:
            store.dispose()


def _text(message: dict) -> str:
    return "\n".join(str(b) for b in message["blocks"])


def test_the_report_carries_the_periods_stats_the_failing_queries_and_the_plan(worker_store, fake_slack):
    decide(worker_store, new_alert(signal="S", account="acme.com"))
    now = time.time()
    worker_store.report_started_at("C0REVOPS", now - WEEK + 1)  # the period ends a second from now
    worker_store.start_query_run("Heavy users", 3600, "w1", now - 60)
    worker_store.finish_query_run("Heavy users", "w1", "error", None, "Unknown column `acount`", now - 59)

    async def plan() -> Sequence[str]:
        return ["1 signal listens to an event PostHog never received: S (e; did you mean <!channel>?)"]

    assert _due(worker_store, fake_slack, now + 5, plan) is not None
    [posted] = _reports_posted(fake_slack)
    blocks = posted["blocks"]
    assert blocks[0]["text"]["text"] == "Signals report, last 7 days"
    assert "1 alerts · 0 with a task" in blocks[1]["elements"][0]["text"]
    text = _text(posted)
    assert "*S* · precision –" in text and "1 no action yet" in text
    assert "*Heavy users*: the latest query run failed" in text and "Unknown column `acount`" in text
    assert "*Tracking plan*" in text and "did you mean &lt;!channel&gt;?" in text
    assert "<!channel>" not in text
    assert "Next report" in text
    assert posted["text"].startswith("Signals report, last 7 days: precision S –")


def test_a_plan_that_cannot_be_read_says_why_and_the_report_still_goes_out(worker_store, fake_slack):
    worker_store.report_started_at("C0REVOPS", START)

    async def plan() -> Sequence[str]:
        raise PostHogApiError(
            "API key missing required scope 'event_definition:read'", status=403, code="permission_denied"
        )

    assert _due(worker_store, fake_slack, START + WEEK, plan) is not None
    text = _text(_reports_posted(fake_slack)[0])
    assert "The tracking plan could not be read" in text and "event_definition:read" in text


@pytest.mark.parametrize("every", ["12h", "36h", "0d"])
def test_a_report_covers_whole_days(every):
    with pytest.raises(ValueError, match="a report covers whole days"):
        ReportsConfig.model_validate({"channel": "C0REVOPS", "every": every})


def test_send_now_reports_the_last_every_whatever_the_schedule(worker_store, fake_slack):
    async def go() -> list[str | None]:
        reports, delivery = _reports(worker_store, fake_slack, START + 60)
        sent = [await reports.send_now(), await reports.send_now()]
        await delivery.drain()
        await delivery.stop()
        return sent

    first, second = asyncio.run(go())
    assert first and second and first != second  # each run of `python -m bot report` posts one
    assert len(_reports_posted(fake_slack)) == 2


def test_a_late_report_counts_its_own_period_not_up_to_when_it_is_sent(worker_store, fake_slack):
    """Down over the report time, a process sends the period's report when it starts: what happened
    after the period's end belongs to the next report."""
    now = time.time()
    worker_store.report_started_at("C0REVOPS", now - WEEK - 2 * DAY)  # the period ended 2 days ago
    decide(worker_store, new_alert(signal="S", account="acme.com"))  # after the period's end
    assert _due(worker_store, fake_slack, now + 1) is not None
    [posted] = _reports_posted(fake_slack)
    assert "0 alerts · 0 with a task" in posted["blocks"][1]["elements"][0]["text"]
    assert "No signal saw an event in the last 7 days." in _text(posted)


def test_a_composer_that_hangs_is_taken_over_once_its_lease_runs_out(worker_store, fake_slack):
    """A process claimed the period's report and hangs composing it (its heartbeat still fresh): the
    others leave it while its lease runs, then one takes it over (under the same id) and the report
    goes out once."""
    worker_store.report_started_at("C0REVOPS", START)
    worker_store.heartbeat("w0")
    due = START + WEEK
    dead = worker_store.claim_report("dead1", "C0REVOPS", period_of(due), "w0", due, 600.0, 7)
    assert dead.report_id == "dead1"

    async def due_at(now: float):
        reports, delivery = _reports(worker_store, fake_slack, now)
        sent = await reports.send_due(START)
        await delivery.drain()
        await delivery.stop()
        return sent

    assert asyncio.run(due_at(due + 60)).busy  # still composing, as far as anyone can tell
    assert fake_slack.posted() == []
    assert asyncio.run(due_at(due + 601)).report_id == "dead1"
    [posted] = _reports_posted(fake_slack)
    assert posted["metadata"]["event_payload"]["alert_id"] == "dead1"
    assert not worker_store.report_composed("dead1", "w0", {"text": "late"}, due + 700)  # no longer its
    later = asyncio.run(due_at(due + 900))
    assert (later.report_id, later.busy) == (None, False) and len(_reports_posted(fake_slack)) == 1


def test_a_composer_that_died_is_taken_over_at_once(worker_store, fake_slack):
    """The process that claimed the report stopped beating: its claim is taken over at the next
    look, not when its ten-minute lease runs out."""
    worker_store.report_started_at("C0REVOPS", START)
    due = START + WEEK
    assert worker_store.claim_report("dead1", "C0REVOPS", period_of(due), "w0", due, 600.0, 7).report_id
    assert _due(worker_store, fake_slack, due + 60) == "dead1"
    assert len(_reports_posted(fake_slack)) == 1


def test_a_composer_whose_store_failed_takes_its_own_claim_up_again_at_once(worker_store, fake_slack):
    """Composing failed after the claim (the database away for a moment): the same process's next
    try composes and sends the report rather than waiting out its own lease."""
    worker_store.report_started_at("C0REVOPS", START)
    due = START + WEEK
    reads = worker_store.signal_stats

    def unreachable_once(*args):
        worker_store.signal_stats = reads
        raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))

    worker_store.signal_stats = unreachable_once
    with pytest.raises(OperationalError):
        _due(worker_store, fake_slack, due + 60)
    assert _reports_posted(fake_slack) == []
    assert _due(worker_store, fake_slack, due + 90) is not None
    assert len(_reports_posted(fake_slack)) == 1
