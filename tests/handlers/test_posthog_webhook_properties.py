"""Properties of `POST /posthog/webhook`, over bodies and headers Hypothesis makes up, against the running
app on SQLite and PostgreSQL: no request gets a 5xx other than the store's 503 (and with a healthy
store, not even that); of the events answered 202, every one a signal listens to ends in exactly one
ledger entry and every other one is counted once in the ledger's totals, under its event name."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.config.signals_file import load_signals
from bot.store.storable import storable
from testkit.examples import EXAMPLE_SIGNALS
from testkit.slack import FakeSlack
from testkit.webhook_bodies import WEBHOOK_SECRET
from tests.conftest import database, make_settings, serve
from tests.support import stored
from tests.support.burst import raw_request
from tests.support.strategies import header_text, int64, json_values, texts

SIGNAL_EVENTS = ["onboarding_completed", "feature_activated", "$pageview", "invite_sent"]

uuids = st.uuids().map(str) | st.text(min_size=1, max_size=60)
properties = st.dictionaries(
    st.sampled_from(["plan", "company_domain", "feature_name", "email", "$groups"]) | texts,
    st.sampled_from(["trial", "acme.com", "api_integration", "x@initech.com"]) | json_values,
    max_size=6,
)
events = st.fixed_dictionaries(
    {"uuid": uuids, "event": st.sampled_from(SIGNAL_EVENTS) | texts},
    optional={
        "distinct_id": texts | int64 | st.none(),
        "properties": properties | st.none(),
        "timestamp": st.datetimes().map(lambda d: d.isoformat() + "Z") | texts | st.none(),
        "url": texts,
        "elements_chain": texts,
    },
)
persons = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "id": texts | st.integers(0, 2**63 - 1),
        "name": texts,
        "properties": st.dictionaries(st.sampled_from(["email", "name"]) | texts, json_values, max_size=4),
        "url": texts,
    },
)
bodies = st.fixed_dictionaries(
    {"event": events},
    optional={"person": persons, "groups": json_values, "project": json_values, "source": json_values},
)
single = bodies.map(orjson.dumps)
batches = st.lists(bodies, min_size=1, max_size=5).map(orjson.dumps)
payloads = st.one_of(single, single, batches, json_values.map(orjson.dumps), st.binary(max_size=300))
bearer = {"Authorization": f"Bearer {WEBHOOK_SECRET}"}
credentials = st.one_of(
    st.just(bearer),
    st.just(bearer),
    st.just({"X-Webhook-Secret": WEBHOOK_SECRET}),
    st.dictionaries(
        st.sampled_from(
            ["Authorization", "X-Webhook-Secret", "webhook-id", "webhook-timestamp", "webhook-signature"]
        ),
        header_text,
        max_size=3,
    ),
)
content_types = (
    st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]) | header_text
)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with (
        FakeSlack() as slack,
        database(request.param, tmp_path_factory.mktemp("properties")) as url,
        serve(make_settings(url, slack), load_signals(EXAMPLE_SIGNALS)) as running,
    ):
        yield running


def _taken(raw: bytes) -> list[dict[str, Any]]:
    """The events of a request the webhook takes: the first of each uuid (a repeat is a duplicate)."""
    data = orjson.loads(raw)
    items = data if isinstance(data, list) else [data]
    return list({item["event"]["uuid"]: item["event"] for item in reversed(items)}.values())


def _by_name(totals: dict[tuple[int, str], int]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for (_, name), count in totals.items():
        counts[name] += count
    return counts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=payloads, auth=credentials, content_type=content_types)
def test_no_body_or_header_gets_a_5xx_and_every_accepted_event_is_in_the_ledger(app, raw, auth, content_type):
    headers = [*auth.items(), ("Content-Type", content_type)]
    before = app.totals()
    status, answer_body = raw_request(app.url, "POST", "/posthog/webhook", headers, raw)
    event(f"answered {status}")
    assert status in (202, 400, 401, 413, 422), answer_body
    if status != 202:
        assert app.totals() == before
        return
    answer = orjson.loads(answer_body)
    taken = _taken(raw)
    sent = len(orjson.loads(raw)) if raw.lstrip().startswith(b"[") else 1
    assert answer["accepted"] + answer["duplicates"] == sent
    wanted = app.services.config.event_names
    uuids = [e["uuid"] for e in taken if e["event"] in wanted]
    counted = Counter(storable(e["event"][:400]) for e in taken if e["event"] not in wanted)
    assert answer["accepted"] >= counted.total()
    deadline = time.monotonic() + 10
    while len(entries := app.services.store.ledger_entries(uuids)) < len(uuids):
        assert time.monotonic() < deadline, f"not in the ledger: {uuids}"
        time.sleep(0.01)
    assert sorted(e["event_uuid"] for e in entries) == sorted(uuids)
    assert _by_name(stored.added(before, app.totals())) == counted
