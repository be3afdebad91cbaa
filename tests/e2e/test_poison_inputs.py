"""One bad event costs nobody else: strings no database column takes as they are, batches that repeat
a uuid, and rows the database itself refuses, on SQLite and PostgreSQL, through the running app."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import text

from testkit.webhook_bodies import WEBHOOK_SECRET, activation, webhook_body
from tests.conftest import fast_tuning, make_settings, serve
from tests.support import stored
from tests.support.burst import post_concurrently

HEADERS = {"Authorization": f"Bearer {WEBHOOK_SECRET}"}


def _concurrently(url: str, bodies: list[Any]) -> list[tuple[int, Any]]:
    """Every body POSTed to the webhook, many at once, as a busy PostHog would."""
    return post_concurrently(url, "/posthog/webhook", bodies, HEADERS)


def _wait_idle(app: Any, timeout: float = 15.0) -> None:
    deadline = time.time() + timeout
    while app.services.store.queue_depth() and time.time() < deadline:
        time.sleep(0.05)
    assert app.services.store.queue_depth() == 0


def test_nul_in_distinct_id_and_event_name_is_stored_and_alerts(db_url, fake_slack, example_config):
    matching = activation("acme.com", distinct_id="u\x00nul")
    filtered = webhook_body("$page\x00view", distinct_id="v\x00nul")
    with serve(make_settings(db_url, fake_slack), example_config) as app:
        assert app.post_webhook(matching).json() == {"accepted": 1, "duplicates": 0}
        sent = time.time()
        assert app.post_webhook(filtered).json() == {"accepted": 1, "duplicates": 0}
        [entry] = app.wait_decided([matching["event"]["uuid"]])
        totals = app.totals()
        _wait_idle(app)
    assert entry["outcome"] == "alerted"
    assert entry["distinct_id"] == "u\ufffdnul"
    assert list(totals.values()) == [1]
    assert next(iter(totals)) in {(stored.minute(at), "$page\ufffdview") for at in (sent, time.time())}
    assert len(fake_slack.posted()) == 1


def test_nul_in_uuid_is_refused_with_400_naming_the_field(db_url, fake_slack, example_config):
    body = activation("acme.com")
    body["event"]["uuid"] = "0190-\x00-poison"
    with serve(make_settings(db_url, fake_slack), example_config) as app:
        response = app.post_webhook(body)
        assert response.status_code == 400
        assert "event.uuid" in response.json()["error"]
        assert app.services.store.ledger_entries() == []


def test_nul_events_sent_with_innocent_ones_cost_the_innocent_nothing(db_url, fake_slack, example_config):
    innocent = [webhook_body("$pageview") for _ in range(300)]
    poison = [webhook_body("$pageview", distinct_id=f"x\x00{i}") for i in range(30)]
    alerting = [activation(f"acme{i}.com", distinct_id=f"y\x00{i}") for i in range(10)]
    bodies = innocent[:150] + poison + alerting + innocent[150:]
    with serve(make_settings(db_url, fake_slack), example_config) as app:
        responses = _concurrently(app.url, bodies)
        assert [status for status, _ in responses] == [202] * len(bodies)
        entries = app.wait_decided([body["event"]["uuid"] for body in alerting], timeout=20)
        counted = sum(app.totals().values())
        _wait_idle(app)
    assert {e["outcome"] for e in entries} == {"alerted"}
    assert counted == len(innocent) + len(poison)
    assert len(fake_slack.posted()) == len(alerting)


def test_a_batch_repeating_a_filtered_uuid_counts_the_repeat_as_a_duplicate(
    db_url, fake_slack, example_config
):
    x = webhook_body("$pageview")
    y = activation("acme.com")
    with serve(make_settings(db_url, fake_slack), example_config) as app:
        assert app.post_webhook([x, x, y]).json() == {"accepted": 2, "duplicates": 1}
        entries = app.wait_decided([y["event"]["uuid"]])
        assert sum(app.totals().values()) == 1
        # Across requests only what is stored is looked up: x, counted and not stored, is counted again.
        assert app.post_webhook([x, y, y]).json() == {"accepted": 1, "duplicates": 2}
        assert sum(app.totals().values()) == 2
        fake_slack.wait_for(lambda s: s.posted())
    assert [e["outcome"] for e in entries] == ["alerted"]
    assert len(fake_slack.posted()) == 1


def test_a_filtered_event_redelivered_concurrently_fails_nobody_and_is_counted_each_time(
    db_url, fake_slack, example_config
):
    repeated = webhook_body("$pageview")
    others = [webhook_body("$pageview") for _ in range(200)]
    bodies = [body for other in others for body in (other, repeated)]
    with serve(make_settings(db_url, fake_slack), example_config) as app:
        responses = _concurrently(app.url, bodies)
        assert {status for status, _ in responses} == {202}
        assert sum(answer["accepted"] for _, answer in responses) == len(bodies)
        assert sum(app.totals().values()) == len(bodies)
        assert app.services.store.ledger_entries() == []


# -- rows the database itself refuses ------------------------------------------------------------
def _refuse(app: Any, table: str, column: str, prefix: str) -> None:
    """A trigger that makes the database refuse rows of `table` whose `column` starts with `prefix`
    (a constraint it enforces, as a full disk of one tablespace or a DBA's check would)."""
    engine = app.services.store.engine
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                    f"WHEN NEW.{column} LIKE '{prefix}%' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by a check'); END"
                )
            )
            return
        conn.execute(
            text(
                f"CREATE FUNCTION refuse_{table}() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.{column} LIKE '{prefix}%' THEN "
                "RAISE EXCEPTION 'refused by a check' USING ERRCODE = 'check_violation'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        conn.execute(
            text(
                f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION refuse_{table}()"
            )
        )


def _below_threshold(uuid_: str | None = None) -> dict[str, Any]:
    """An event a signal listens to that alerts nobody (its account scores below the signal's bar)."""
    return webhook_body(uuid_=uuid_, properties={"plan": "trial", "company_domain": "hooli.io"})


def test_an_event_the_inbox_refuses_fails_only_its_own_request(db_url, fake_slack, example_config):
    """Innocent requests go through; a request with an event the inbox refuses gets 503, and the
    events no signal wants that it carried are not counted (PostHog sends them again)."""
    innocent = [_below_threshold() for _ in range(100)] + [activation("acme.com")]
    pageviews = [webhook_body("$pageview") for _ in range(100)]
    refused = [_below_threshold(f"refused-{uuid.uuid4()}") for _ in range(20)]
    refused_with_pageviews = [
        [webhook_body("$pageview"), body, webhook_body("$pageview")] for body in refused[:5]
    ]
    bodies: list[Any] = [*innocent[:50], *pageviews[:50], *refused, *refused_with_pageviews]
    bodies += [*pageviews[50:], *innocent[50:]]
    with serve(make_settings(db_url, fake_slack), example_config) as app:
        _refuse(app, "inbox", "uuid", "refused-")
        responses = _concurrently(app.url, bodies)
        status = {id(b): code for b, (code, _) in zip(bodies, responses, strict=True)}
        assert {status[id(b)] for b in [*innocent, *pageviews]} == {202}
        assert {status[id(b)] for b in [*refused, *refused_with_pageviews]} == {503}
        app.wait_decided([b["event"]["uuid"] for b in innocent])
        assert sum(app.totals().values()) == len(pageviews)
        fake_slack.wait_for(lambda s: s.posted())


def test_a_decision_the_ledger_keeps_refusing_ends_as_failed_and_costs_others_nothing(
    db_url, fake_slack, example_config
):
    refused = activation("refused.example", distinct_id="refused-user")
    others = [activation(f"acme{i}.com", distinct_id=f"u{i}") for i in range(12)]
    with serve(
        make_settings(db_url, fake_slack), example_config, fast_tuning(event_retry_base_s=0.01)
    ) as app:
        _refuse(app, "ledger", "distinct_id", "refused-")
        assert app.post_webhook([*others[:6], refused, *others[6:]]).json()["accepted"] == 13
        entries = app.wait_decided([b["event"]["uuid"] for b in [*others, refused]], timeout=20)
        _wait_idle(app)
    by_uuid = {e["event_uuid"]: e for e in entries}
    failed = by_uuid[refused["event"]["uuid"]]
    assert failed["outcome"] == "failed"
    assert "gave up after 6 attempts" in failed["signals"][0]["reason"]
    assert {by_uuid[b["event"]["uuid"]]["outcome"] for b in others} == {"alerted"}
    assert len(fake_slack.posted()) == len(others)
