"""Query signals through a running server, the fake PostHog answering HogQL in its own wire format: the
query runs when the worker starts, each row alerts its account with the row's columns shown, a
restart within `every` runs nothing, and a query PostHog refuses is counted and recorded while the
webhook and the other signals go on."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.config.signals_file import Route, Signal
from bot.store.tables import inbox
from testkit.anthropic import API_KEY, FakeAnthropic
from testkit.posthog_api import PERSONAL_KEY, PROJECT_ID, FakePostHogApi, server_error
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
        # Without Claude, the template says what the query found.
        summary = by_channel["C0AE1"]["blocks"][1]["text"]["text"]
        assert summary.startswith("Acme Corp stopped calling the API: calls_this_week 3, plan team.")
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


HEAVY = Signal(
    name="Heavy users",
    query="SELECT properties.company_domain AS account, count() AS calls_this_week, any(plan) AS plan, "
    "any(notes) AS notes FROM events GROUP BY account",
    every="1h",
    min_score=0,
)


def _claude_settings(db_url, fake_slack, posthog_api, fake_claude):
    return make_settings(
        db_url,
        fake_slack,
        posthog_personal_api_key=PERSONAL_KEY,
        posthog_project_id=PROJECT_ID,
        posthog_app_host_setting=posthog_api.url,
        anthropic_api_key=API_KEY,
        anthropic_base_url=fake_claude.base_url,
        summary_timeout_s=2.0,
    )


def test_claude_is_told_the_query_columns_and_may_cite_them(sqlite_url, fake_slack, example_config):
    hostile = "<!channel> " + "x" * 10_000
    hostile_name = "<!channel> " + "n" * 180  # PostHog's column names are at most 200 characters
    with FakePostHogApi(seed=False) as posthog_api, FakeAnthropic() as fake_claude:
        posthog_api.add_hogql_table(
            "any(notes) AS notes",
            ["account", "calls_this_week", "plan", "notes", hostile_name],
            [["acme.com", 37, "team", {"last": {"call": "<!here>", "by": ["a", "b"]}}, hostile]],
            ["String", "UInt64", "String", "String", "String"],
        )
        fake_claude.answer(
            headline="Acme Corp is a heavy API user",
            why_now="Acme Corp made 37 calls this week on the team plan. A good fit for an upgrade.",
            next_step="Offer an upgrade call within 24 hours.",
        )
        config = example_config.model_copy(update={"signals": [*example_config.signals, HEAVY]})
        with serve(_claude_settings(sqlite_url, fake_slack, posthog_api, fake_claude), config) as app:
            [message] = fake_slack.wait_for(lambda s: s.posted(), timeout=10)
            metrics = app.http.get("/metrics").text
        [request] = fake_claude.sent()

    # What the model was told: the row's columns, labelled, bounded, and unable to close the fence.
    content = request["messages"][0]["content"]
    facts = json.loads(content.split("<untrusted_data>\n", 1)[1].split("\n</untrusted_data>", 1)[0])
    columns = facts["scheduled_query_result_columns"]
    assert (columns["calls_this_week"], columns["plan"]) == (37, "team")
    assert columns["notes"] == '{"last":{"call":"<!here>","by":["a","b"]}}'
    [(name, value)] = [(k, v) for k, v in columns.items() if k.startswith("<!channel>")]
    assert len(name) == 64 and len(value) == 200
    assert "<!" not in content and content.count("</untrusted_data>") == 1

    # Its answer cites a column's number (in no other fact): grounded, so it is what Slack shows.
    assert "37" not in json.dumps({k: v for k, v in facts.items() if k != "scheduled_query_result_columns"})
    summary = message["blocks"][1]["text"]["text"]
    assert summary.startswith("*Acme Corp is a heavy API user*")
    assert "37 calls this week on the team plan" in summary
    assert 'signals_llm_calls_total{result="ok"} 1.0' in metrics
    assert 'signals_summaries_total{kind="claude"} 1.0' in metrics
    everything = json.dumps(message)
    assert "<!channel>" not in everything and "<!here>" not in everything


# -- a person's row: their company from PostHog's Persons API --------------------------------------------
SEATS = Signal(
    name="Seats maxed",
    query="SELECT distinct_id, count() AS seats FROM events WHERE event = 'seat_added' GROUP BY distinct_id",
    every="1h",
    min_score=90,  # reached only when the company and the person's work email both count
    action="maxed out their seats",
)


def _decided(app, count: int) -> list[dict] | None:
    """The query rows' ledger entries once `count` of them are decided."""
    entries = app.services.store.ledger_entries(_query_uuids(app))
    return entries if len(entries) >= count else None


def _persons_settings(url, fake_slack, posthog_api):
    return make_settings(
        url,
        fake_slack,
        posthog_personal_api_key=PERSONAL_KEY,
        posthog_project_id=PROJECT_ID,
        posthog_app_host_setting=posthog_api.url,
    )


def test_a_persons_row_alerts_their_company_found_through_the_persons_api(db_url, fake_slack, example_config):
    with FakePostHogApi(seed=False) as posthog_api:
        posthog_api.add_person("u_jane", [], {"email": "jane@acme.com", "name": "Jane Doe"})
        posthog_api.add_hogql_table(
            "count() AS seats", ["distinct_id", "seats"], [["u_jane", 12], ["u_unknown", 30]]
        )
        config = example_config.model_copy(update={"signals": [*example_config.signals, SEATS]})
        with serve(_persons_settings(db_url, fake_slack, posthog_api), config) as app:
            [message] = fake_slack.wait_for(lambda s: s.posted(), timeout=10)
            # A webhook event carries its person: PostHog is not asked for it.
            body = webhook_body(
                "feature_activated",
                properties={"feature_name": "api_integration", "company_domain": "soylent.com"},
            )
            assert app.post_webhook(body).status_code == 202
            fake_slack.wait_for(lambda s: len(s.posted()) >= 2, timeout=10)
            entries = fake_slack.wait_for(lambda _: _decided(app, 2), timeout=10)
        asked = [c.query["distinct_id"] for c in posthog_api.persons_calls()]

    assert message["channel"] == "C0AE1"  # routed on company.domain, which only the person's email gives
    blocks = json.dumps(message["blocks"])
    assert "Acme Corp" in blocks and "Jane Doe" in blocks
    by_account = {e["account"]: e["outcome"] for e in entries}
    assert by_account == {"acme.com": "alerted", "person:u_unknown": "below_threshold"}
    assert sorted(asked) == [["u_jane"], ["u_unknown"]]


def test_a_failing_persons_api_leaves_the_rows_alerting_as_before(
    sqlite_url, fake_slack, example_config, caplog
):
    anyone = SEATS.model_copy(update={"min_score": 0})
    with FakePostHogApi(seed=False) as posthog_api:
        posthog_api.add_person("u_jane", [], {"email": "jane@acme.com"})
        posthog_api.add_hogql_table(
            "count() AS seats", ["distinct_id", "seats"], [["u_jane", 12], ["u_bo", 3]]
        )
        posthog_api.script(server_error(500), server_error(500), path="persons/")
        config = example_config.model_copy(update={"signals": [*example_config.signals, anyone]})
        with (
            caplog.at_level(logging.WARNING, logger="bot.decide.persons"),
            serve(_persons_settings(sqlite_url, fake_slack, posthog_api), config) as app,
        ):
            posted = fake_slack.wait_for(lambda s: len(s.posted()) >= 2 and s.posted(), timeout=10)
            entries = fake_slack.wait_for(lambda _: _decided(app, 2), timeout=10)

    assert {m["channel"] for m in posted} == {"C0SIGNALS"}  # no company: the default route, as before
    assert {e["account"] for e in entries} == {"person:u_jane", "person:u_bo"}
    # Said once for the run (rows decided at once may each have asked before the first failure).
    [warning] = [r for r in caplog.records if r.name == "bot.decide.persons"]
    assert "HTTP 500" in warning.getMessage()
