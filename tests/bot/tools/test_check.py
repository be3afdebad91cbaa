"""`check --online` for query signals: each runs once through the fake PostHog Query API and says ok
with its columns or what PostHog said, and the last recorded run is shown from the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config.signals_file import Signal
from bot.schedule.queries import NOT_CONFIGURED
from bot.store import Store
from bot.tools.check import Finding, query_run_findings
from bot.tools.check_online import query_signal_findings, signal_event_findings
from testkit.examples import EXAMPLE_EVENTS
from testkit.posthog_api import PERSONAL_KEY, PROJECT_ID, FakePostHogApi
from tests.conftest import make_settings
from tests.support.factories import example_config

GOOD = Signal(name="Quiet", query="SELECT domain AS account, n FROM quiet", every="1h")
NO_ACCOUNT = Signal(name="Shapeless", query="SELECT distinct_id AS who FROM shapeless", every="1h")
BROKEN = Signal(name="Broken", query="SELECT x AS account FROM nosuchtable", every="1h")


@pytest.fixture
def posthog() -> Iterator[FakePostHogApi]:
    with FakePostHogApi(seed=False) as server:
        server.add_hogql_table("FROM quiet", ["account", "n"], [["acme.com", 1], ["initech.com", 2]])
        server.add_hogql_table("FROM shapeless", ["who"], [["u1"]])
        server.add_hogql_error("nosuchtable", "Unknown table `nosuchtable`.")
        yield server


def config_with(*signals: Signal):
    base = example_config()
    return base.model_copy(update={"signals": [*base.signals, *signals]})


def test_each_query_signal_is_run_once_and_says_what_posthog_said(tmp_path: Path, posthog):
    settings = make_settings(
        f"sqlite:///{tmp_path / 'c.db'}",
        posthog_personal_api_key=PERSONAL_KEY,
        posthog_project_id=PROJECT_ID,
        posthog_app_host_setting=posthog.url,
    )
    findings = query_signal_findings(settings, config_with(GOOD, NO_ACCOUNT, BROKEN))
    assert findings == [
        Finding("ok", "signals: Quiet", "the query runs (rows); columns: account, n"),
        Finding("error", "signals: Shapeless", "returns no `account` or `distinct_id` column (columns: who)"),
        Finding(
            "error",
            "signals: Broken",
            "the query failed: PostHog rejected the request (400): Unknown table `nosuchtable`.",
        ),
    ]
    assert all(q["query"]["query"].endswith(") LIMIT 2") for q in posthog.queries())


PEOPLE = Signal(name="Stuck", query="SELECT distinct_id FROM stuck", every="1h")


@pytest.mark.parametrize("scopes", [{"query:read"}, {"query:read", "person:read"}], ids=["without", "with"])
def test_rows_that_name_only_a_person_try_the_persons_api_once(tmp_path: Path, scopes):
    with FakePostHogApi(seed=False, scopes=scopes) as posthog:
        posthog.add_hogql_table("FROM stuck", ["distinct_id"], [["u_42"]])
        settings = make_settings(
            f"sqlite:///{tmp_path / 'c.db'}",
            posthog_personal_api_key=PERSONAL_KEY,
            posthog_project_id=PROJECT_ID,
            posthog_app_host_setting=posthog.url,
        )
        findings = query_signal_findings(settings, config_with(PEOPLE))
        ran = Finding("ok", "signals: Stuck", "the query runs (1 row(s)); columns: distinct_id")
        assert findings[0] == ran
        assert [c.query.get("distinct_id") for c in posthog.persons_calls()] == [["u_42"]]
    if "person:read" in scopes:
        assert findings[1:] == []
    else:
        [note] = findings[1:]
        assert note.status == "note" and "person:read" in note.detail
        assert note.detail.endswith("; their company stays unknown")


def test_without_a_personal_api_key_each_query_signal_is_an_error(tmp_path: Path):
    settings = make_settings(f"sqlite:///{tmp_path / 'c.db'}")
    assert query_signal_findings(settings, config_with(GOOD)) == [
        Finding("error", "signals: Quiet", NOT_CONFIGURED)
    ]
    assert query_signal_findings(settings, example_config()) == []


T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC


def test_the_last_recorded_run_of_each_query_signal_is_shown_with_its_start_and_finish(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    settings = make_settings(url)
    config = config_with(GOOD, NO_ACCOUNT, BROKEN)
    assert query_run_findings(settings, config) == []  # no schema yet: `database_findings` says so
    store = Store.from_url(url)
    store.upgrade()
    store.start_query_run("Quiet", 3600, "w1", T0)
    store.finish_query_run("Quiet", "w1", "ok", 2, None, now=T0 + 75)
    store.start_query_run("Broken", 3600, "w1", T0)
    store.finish_query_run(
        "Broken", "w1", "error", None, "HTTP 400: Unknown table `nosuchtable`.", now=T0 + 5
    )
    store.dispose()
    assert query_run_findings(settings, config) == [
        Finding(
            "ok",
            "last run: Quiet",
            "started 2027-01-15 08:00 UTC, finished 2027-01-15 08:01 UTC: ok, 2 row(s)",
        ),
        Finding("note", "last run: Shapeless", "has not run yet"),
        Finding(
            "note",
            "last run: Broken",
            "started 2027-01-15 08:00 UTC, finished 2027-01-15 08:00 UTC: failed: HTTP 400: Unknown table "
            "`nosuchtable`.",
        ),
    ]


def test_a_run_in_progress_is_shown_by_its_start_and_the_last_outcome_by_its_own_finish(tmp_path: Path):
    """While a run is in progress the store holds its start and the previous run's outcome: each line
    names one run, never the start of one with the outcome of the other."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    settings = make_settings(url)
    store = Store.from_url(url)
    store.upgrade()
    store.start_query_run("Quiet", 3600, "w1", T0)
    store.finish_query_run("Quiet", "w1", "ok", 2, None, now=T0 + 130)
    store.start_query_run("Quiet", 3600, "w2", T0 + 3700)
    store.start_query_run("Broken", 3600, "w1", T0 + 3700)  # its first run, still going
    store.dispose()
    assert query_run_findings(settings, config_with(GOOD, BROKEN)) == [
        Finding("note", "last run: Quiet", "running since 2027-01-15 09:01 UTC, started by w2"),
        Finding("ok", "last run: Quiet", "the run before finished 2027-01-15 08:02 UTC: ok, 2 row(s)"),
        Finding("note", "last run: Broken", "running since 2027-01-15 09:01 UTC, started by w1"),
    ]


def test_online_a_signal_listening_to_an_event_posthog_never_received_is_an_error(tmp_path: Path, posthog):
    for name in EXAMPLE_EVENTS:
        posthog.add_event_definition(name, volume_30_day=10)
    settings = make_settings(
        f"sqlite:///{tmp_path / 'c.db'}",
        posthog_personal_api_key=PERSONAL_KEY,
        posthog_project_id=PROJECT_ID,
        posthog_app_host_setting=posthog.url,
    )
    assert signal_event_findings(settings, config_with(GOOD)) == [
        Finding("ok", "signal events", "PostHog has received each of the 5 event(s) the signals listen to")
    ]
    base = example_config()
    typo = base.signals[0].model_copy(update={"event": "onboarding_complete"})
    config = base.model_copy(update={"signals": [typo, *base.signals[1:], GOOD]})
    assert signal_event_findings(settings, config) == [
        Finding(
            "error",
            "signals: Trial finished onboarding",
            "listens to onboarding_complete, an event PostHog never received; "
            "did you mean onboarding_completed?",
        )
    ]
    posthog.scopes = {"query:read"}
    [finding] = signal_event_findings(settings, config)
    assert finding.status == "note" and "lacks `event_definition:read`" in finding.detail
    assert signal_event_findings(make_settings(f"sqlite:///{tmp_path / 'c.db'}"), config) == []
