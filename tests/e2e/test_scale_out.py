"""Two real `serve` processes (each with its own worker processes) on one PostgreSQL: webhooks to
either, one killed half-way, and every event is still decided once and alerted once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import EXAMPLE_SIGNALS, postgres_schema, webhook_body
from tests.support.processes import ServerProcess, process_spec

EVENTS = 1000  # `python bench/storm.py` drives ten times as many


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_two_servers_share_the_load_and_survive_one_dying(fake_slack, tmp_path):
    bodies = [
        webhook_body(
            "feature_activated",
            distinct_id=f"u{i}",
            properties={"feature_name": "api_integration", "company_domain": f"co{i}.example.com"},
        )
        for i in range(EVENTS)
    ]
    with postgres_schema() as url:
        spec = process_spec(url, fake_slack.api_url, EXAMPLE_SIGNALS)
        first = ServerProcess({**spec, "workers": 2}, tmp_path / "m1")
        second = ServerProcess({**spec, "workers": 1}, tmp_path / "m2")
        first.start()
        second.start()
        try:

            def deliver(index: int) -> int:
                # As PostHog would: try one server, and on a failure retry (here: the other one).
                servers = (first, second) if index % 2 else (second, first)
                for server in servers:
                    try:
                        response = server.post(bodies[index])
                        if response.status_code == 202:
                            return response.json()["accepted"]
                    except httpx.HTTPError:
                        continue
                raise AssertionError(f"event {index} was refused by both servers")

            with ThreadPoolExecutor(8) as pool:
                accepted = list(pool.map(deliver, range(EVENTS // 2)))
                first.kill()  # mid-way: its web process and workers die at once
                accepted += list(pool.map(deliver, range(EVENTS // 2, EVENTS)))
            assert sum(accepted) == EVENTS

            fake_slack.wait_for(lambda s: len(s.posted()) >= EVENTS, timeout=120)
            time.sleep(1.0)
            posted = [m["metadata"]["event_payload"]["event_uuid"] for m in fake_slack.posted()]
            assert len(posted) == len(set(posted)) == EVENTS  # every alert once, none twice
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            with engine.connect() as conn:
                decided = conn.execute(text("SELECT count(*), count(DISTINCT event_uuid) FROM ledger")).one()
                pending = conn.execute(text("SELECT count(*) FROM inbox WHERE status <> 'done'")).scalar()
            engine.dispose()
            assert tuple(decided) == (EVENTS, EVENTS) and pending == 0
        finally:
            first.kill()
            second.kill()
