"""Two real `serve` processes (each with its own worker processes) on one PostgreSQL: every webhook
delivered to both, CRM-task clicks arriving at both at once, one server killed half-way, and every
event is still decided once, alerted once, and every task created once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, text

from testkit.examples import EXAMPLE_SIGNALS
from testkit.hubspot import TOKEN as HUBSPOT_TOKEN
from testkit.hubspot import FakeHubSpot
from testkit.postgres import postgres_schema
from testkit.processes import ServerProcess, process_spec
from testkit.webhook_bodies import activation
from tests.support.slack_requests import block_actions, interactive_body, signed_headers

EVENTS = 120  # each delivered to both servers; `python bench/storm.py` drives 10,000 at 1,000/s
CLICKED = 12  # alerts whose "Create CRM task" is clicked on both servers at once


def _click_create_task(server: ServerProcess, message: dict, response_url: str) -> int:
    action = {
        "type": "button",
        "action_id": "create_crm_task",
        "block_id": "b",
        "value": message["metadata"]["event_payload"]["alert_id"],
        "text": {"type": "plain_text", "text": "Create CRM task"},
    }
    body = interactive_body(
        block_actions(action, response_url, channel=message["channel"], message_ts=message["ts"])
    )
    return httpx.post(server.url + "/slack/events", content=body, headers=signed_headers(body)).status_code


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_two_servers_share_the_load_and_survive_one_dying(fake_slack, tmp_path):
    bodies = [activation(f"co{i}.example.com", distinct_id=f"u{i}") for i in range(EVENTS)]
    with postgres_schema() as url, FakeHubSpot() as hubspot:
        spec = process_spec(url, fake_slack.api_url, EXAMPLE_SIGNALS)
        spec["settings"].update(hubspot_access_token=HUBSPOT_TOKEN, hubspot_api_url=hubspot.api_url)
        first = ServerProcess({**spec, "workers": 2}, tmp_path / "m1")
        second = ServerProcess({**spec, "workers": 1}, tmp_path / "m2")
        first.start()
        second.start()
        try:

            def deliver(index: int) -> int:
                """As PostHog would, then once more to the other server, as a redelivery would; each
                server that answers 202 has committed the event (once, by its uuid)."""
                servers = (first, second) if index % 2 else (second, first)
                accepted, answered = 0, 0
                for server in servers:
                    try:
                        response = server.post(bodies[index])
                    except httpx.HTTPError:
                        continue
                    if response.status_code == 202:
                        answered += 1
                        accepted += response.json()["accepted"]
                assert answered, f"event {index} was refused by both servers"
                return accepted

            with ThreadPoolExecutor(8) as pool:
                accepted = list(pool.map(deliver, range(EVENTS // 2)))
                fake_slack.wait_for(lambda s: len(s.posted()) >= CLICKED, timeout=60)
                with fake_slack.lock:
                    clicked = [
                        {**args, "ts": ts}
                        for args, ts in zip(fake_slack.posted(), fake_slack.posted_ts(), strict=True)
                    ][:CLICKED]
                statuses = list(
                    pool.map(
                        lambda job: _click_create_task(job[0], job[1], fake_slack.response_url("task")),
                        [(server, message) for message in clicked for server in (first, second)],
                    )
                )
                assert statuses == [200] * 2 * CLICKED
                hubspot.wait_for(lambda h: len(h.tasks()) >= CLICKED, timeout=30)
                first.kill()  # mid-way: its web process and workers die at once
                accepted += list(pool.map(deliver, range(EVENTS // 2, EVENTS)))
            assert sum(accepted) == EVENTS  # a redelivery is counted as a duplicate, not accepted

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
            markers = sorted(
                m["metadata"]["event_payload"]["alert_id"] for m in clicked
            )  # one HubSpot task per clicked alert, none twice
            bodies_with = [
                next(a for a in markers if f"pss-alert-{a}" in t.properties.get("hs_task_body", ""))
                for t in hubspot.tasks()
            ]
            assert sorted(bodies_with) == markers
        finally:
            first.kill()
            second.kill()
