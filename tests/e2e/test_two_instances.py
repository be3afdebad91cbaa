"""Two app instances on one database share the queue: every event is decided once, alerted once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from testkit.webhook_bodies import activation
from tests.conftest import make_settings, serve


def test_two_instances_never_both_alert_on_one_event(db_url, fake_slack, example_config):
    settings = make_settings(db_url, fake_slack)
    count = 150
    bodies = [activation(f"co{i}.example.com", distinct_id=f"u{i}") for i in range(count)]
    with serve(settings, example_config) as first, serve(settings, example_config) as second:

        def deliver(i: int) -> tuple[int, int]:
            # PostHog may deliver the same event twice; here each copy goes to a different instance.
            a = first.post_webhook(bodies[i]).json()
            b = second.post_webhook(bodies[i]).json()
            return a["accepted"] + b["accepted"], a["duplicates"] + b["duplicates"]

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(deliver, range(count)))
        assert all(r == (1, 1) for r in results)
        fake_slack.wait_for(lambda s: len(s.posted()) >= count, timeout=60)
        time.sleep(0.5)
        posted = fake_slack.posted()
        event_uuids = [m["metadata"]["event_payload"]["event_uuid"] for m in posted]
        assert len(posted) == count
        assert sorted(event_uuids) == sorted(b["event"]["uuid"] for b in bodies)
        entries = first.services.store.ledger_entries()
        assert len(entries) == count and {e["outcome"] for e in entries} == {"alerted"}
