"""Query signals through a running server, the fake PostHog answering HogQL in its own wire format: the
query runs when the worker starts, each row alerts its account with the row's columns shown, a
restart within `every` runs nothing, and a query PostHog refuses is counted and recorded while the
webhook and the other signals go on."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.config.signals_file import Route, Signal
from bot.store.tables import inbox
from testkit.posthog_api import PERSONAL_KEY, PROJECT_ID, FakePostHogApi
from testkit.webhook_bodies import webhook_body
from tests.conftest import make_settings, serve

DROPPED = Signal(
    name="API usage dropped",
    query="SELECT properties.company_domain AS account, count() AS calls_this_week FROM events "
    "WHERE event = 'api_called' GROUP BY account HAVING calls_this_week < 10",
    every="1h",
    cooldown="7d",
    where={"query.plan": ["team", "enterprise"]},
    min_score=0,
    action="stopped calling the API",
)
BROKEN = Signal(
    name="Broken query",
    query="SELECT properties.domain AS account, nosuchfunction() AS x FROM events",
    every="5m",
    min_score=0,
)


@pytest.fixture
def posthog_api() -> Iterator[FakePostHogApi]:
    with FakePostHogApi(seed=False) as server:
        server.offset_allowed = False
        server.add_hogql_table(
            "count() AS calls_this_week",
            ["account", "calls_this_week", "plan"],
            [["acme.com", 3, "team"], ["initech.com", 7, "free"], ["globex.de", 1, "enterprise"]],
            ["String", "UInt64", "String"],
            delay_s=0.2,
        )
        server.add_hogql_error("nosuchfunction()", "Unsupported function call `nosuchfunction(...)`")
        yield server


def _metric(text: str, result: str, signal: str) -> float:
    for line in text.splitlines():
        if (
            line.startswith("signals_query_runs_total{")
            and f'signal="{signal}"' in line
            and f'result="{result}"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_query_signal_alerts_each_row_once_per_interval(db_url, fake_slack, posthog_api, example_config):
    gold = Route(when={"query.plan": ["enterprise"]}, channel="C0ENTERPRISE")
    config = example_config.model_copy(
        update={
            "signals": [*example_config.signals, DROPPED, BROKEN],
            "routing": [gold, *example_config.routing],
        }
    )
    settings = make_settings(
        db_url,
        fake_slack,
        posthog_personal_api_key=PERSONAL_KEY,
        posthog_project_id=PROJECT_ID,
        posthog_app_host_setting=posthog_api.url,
    )
    with serve(settings, config) as app:
        posted = fake_slack.wait_for(lambda s: len(s.posted()) >= 2 and s.posted(), timeout=10)
        by_channel = {m["channel"]: m for m in posted}
        assert set(by_channel) == {"C0AE1", "C0ENTERPRISE"}  # initech's plan is filtered by `where`
        acme = str(by_channel["C0AE1"]["blocks"])
        assert "Acme Corp: API usage dropped" in acme
        assert "*calls_this_week*\\n3" in acme and "*plan*\\nteam" in acme
        assert "Account from query" in acme

        # The webhook and event signals go on beside the failing query.
        body = webhook_body(
            "feature_activated",
            properties={"feature_name": "api_integration", "company_domain": "soylent.com"},
        )
        assert app.post_webhook(body).status_code == 202
        fake_slack.wait_for(lambda s: len(s.posted()) >= 3, timeout=10)

        runs = app.services.store.last_query_runs()
        assert (runs[DROPPED.name].result, runs[DROPPED.name].rows) == ("ok", 3)
        assert runs[BROKEN.name].result == "error"
        assert runs[BROKEN.name].error == "HTTP 400: Unsupported function call `nosuchfunction(...)`"
        metrics = app.http.get("/metrics").text
        assert _metric(metrics, "ok", DROPPED.name) == 1
        assert _metric(metrics, "error", BROKEN.name) == 1
        outcomes = {e["event_name"] for e in app.services.store.ledger_entries(_query_uuids(app))}
        assert outcomes == {"$query:API usage dropped"}

    assert len([q for q in posthog_api.queries() if "calls_this_week" in q["query"]["query"]]) == 1
    with serve(settings, config):  # restarted within the hour: nothing runs again
        time.sleep(0.5)
    assert len([q for q in posthog_api.queries() if "calls_this_week" in q["query"]["query"]]) == 1
    assert len(fake_slack.posted()) == 3


def _query_uuids(app) -> list[str]:
    with app.services.store.engine.connect() as conn:
        rows = conn.execute(select(inbox.c.uuid).where(inbox.c.event_name.startswith("$query:"))).all()
    return [r[0] for r in rows]
