"""Loading the signals file: the SPEC example loads, and every mistake names the file, the path inside
it and what is wrong."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config.signals_file import SignalsFileError, load_signals, parse_signals
from testkit.examples import EXAMPLE_COMPANIES, EXAMPLE_SIGNALS

# The block from SPEC.md "The signals file", byte for byte: it must work as is.
SPEC_EXAMPLE = """\
signals:
  - name: Trial finished onboarding
    event: onboarding_completed
    where: {properties.plan: [trial]}      # every key must hold; a list means "one of"
    min_score: 50                          # ICP score (0-100) needed to alert
    cooldown: 24h                          # one alert per account per signal in this window
  - name: API integration activated
    event: feature_activated
    where: {properties.feature_name: [api_integration]}
    min_score: 0
icp:                                       # points add up; the score is points / total weight * 100
  - {name: Company size, field: company.employees, between: [50, 2000], weight: 30}
  - {name: Target industry, field: company.industry, in: [fintech, saas, ecommerce], weight: 25}
  - {name: Funded, field: company.funding_stage, in: [series_a, series_b, series_c, series_d], weight: 20}
  - {name: Modern data stack, field: company.tech_stack, contains_any: [segment, snowflake, dbt], weight: 15}
  - {name: Work email, field: person.email, not_matches: '@(gmail|yahoo|hotmail|outlook)\\.', weight: 10}
routing:                                   # first match wins
  - {when: {company.domain: [acme.com, initech.com]}, channel: C0AE1, owner: U0OWNER1}
  - {when: {company.country: [DE, FR, GB]}, channel: C0EMEA}
  - {channel: C0SIGNALS}                   # default
enrichment:
  file: examples/companies.json            # domain -> company fields; an `http` provider is configured here too
  cache_ttl: 30d
access:
  writers: [U0ADMIN]                       # may run /posthog test, identify, alias
"""  # noqa: E501

FILE = Path("/etc/signals/signals.yml")
MINIMAL: dict[str, Any] = {"signals": [{"name": "S", "event": "e"}], "routing": [{"channel": "C0DEFAULT"}]}


def problems(data: Any) -> list[str]:
    """The error lines for `data` parsed as if read from FILE."""
    with pytest.raises(SignalsFileError) as caught:
        parse_signals(data, FILE)
    assert caught.value.file == FILE
    return caught.value.lines()


def only_problem(data: Any) -> str:
    lines = problems(data)
    assert len(lines) == 1, lines
    return lines[0]


def with_icp(*criteria: dict[str, Any]) -> dict[str, Any]:
    return {**MINIMAL, "icp": list(criteria)}


SIZE = {"name": "Size", "field": "company.employees", "weight": 30}


# --- the examples load -------------------------------------------------------------------------------


def test_spec_example_loads_as_written(tmp_path):
    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLE_COMPANIES, tmp_path / "examples" / "companies.json")
    (tmp_path / "signals.yml").write_text(SPEC_EXAMPLE, encoding="utf-8")

    config = load_signals(tmp_path / "signals.yml")

    assert [s.name for s in config.signals] == ["Trial finished onboarding", "API integration activated"]
    trial, api = config.signals
    assert trial.event == "onboarding_completed"
    assert trial.where == {"properties.plan": ["trial"]}
    assert trial.min_score == 50
    assert trial.cooldown == timedelta(hours=24)
    assert api.cooldown == timedelta(hours=24)  # the SPEC default
    assert [c.name for c in config.icp] == [
        "Company size",
        "Target industry",
        "Funded",
        "Modern data stack",
        "Work email",
    ]
    assert [c.kind for c in config.icp] == ["between", "in", "in", "contains_any", "not_matches"]
    assert sum(c.weight for c in config.icp) == 100
    assert config.icp[4].not_matches.search("jane@GMAIL.com")  # case-insensitive
    assert not config.icp[4].not_matches.search("jane@acme.com")
    assert [(r.channel, r.owner) for r in config.routing] == [
        ("C0AE1", "U0OWNER1"),
        ("C0EMEA", None),
        ("C0SIGNALS", None),
    ]
    assert config.enrichment.file == (tmp_path / "examples" / "companies.json").resolve()
    assert config.enrichment.cache_ttl == timedelta(days=30)
    assert config.access.writers == ["U0ADMIN"]
    assert config.event_names == {"onboarding_completed", "feature_activated"}


def test_bundled_example_loads_and_finds_its_companies_file():
    config = load_signals(EXAMPLE_SIGNALS)
    assert config.enrichment.file == EXAMPLE_COMPANIES.resolve()
    assert config.enrichment.file.is_file()
    assert {s.name for s in config.signals} >= {"Trial finished onboarding", "API integration activated"}
    assert not config.routing[-1].when


def test_relative_paths_resolve_against_the_files_folder_not_the_working_directory(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    (folder / "data").mkdir(parents=True)
    shutil.copy(EXAMPLE_COMPANIES, folder / "data" / "firms.json")
    (folder / "signals.yml").write_text(
        "signals: [{name: S, event: e}]\nrouting: [{channel: C0X}]\nenrichment: {file: data/firms.json}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_signals(Path("..") / "config" / "signals.yml")

    assert config.enrichment.file == (folder / "data" / "firms.json").resolve()


def test_absolute_enrichment_path_is_kept(tmp_path):
    (tmp_path / "signals.yml").write_text(
        f"signals: [{{name: S, event: e}}]\nrouting: [{{channel: C0X}}]\n"
        f"enrichment: {{file: '{EXAMPLE_COMPANIES}'}}\n"
    )
    assert load_signals(tmp_path / "signals.yml").enrichment.file == EXAMPLE_COMPANIES


def test_defaults_for_a_minimal_file():
    config = parse_signals(MINIMAL, FILE)
    signal = config.signals[0]
    assert signal.cooldown == timedelta(hours=24)
    assert signal.min_score == 0
    assert signal.where == {}
    assert config.icp == []
    assert config.enrichment.file is None
    assert config.enrichment.cache_ttl == timedelta(days=30)
    assert config.access.writers == []


def test_channel_names_and_user_ids_in_their_usual_forms_are_accepted():
    config = parse_signals(
        {
            **MINIMAL,
            "routing": [
                {"when": {"company.country": "DE"}, "channel": "#sales-emea", "owner": "W0ENTERPRISE"},
                {"when": {"company.country": "FR"}, "channel": "G0PRIVATE"},
                {"channel": "C0DEFAULT"},
            ],
        },
        FILE,
    )
    assert [r.channel for r in config.routing] == ["#sales-emea", "G0PRIVATE", "C0DEFAULT"]


# --- every mistake names the file, the path inside it and the reason ---------------------------------


def test_every_line_starts_with_the_file():
    line = only_problem({**MINIMAL, "signalz": []})
    assert line.startswith(f"{FILE}: ")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({**MINIMAL, "signalz": []}, "signalz"),
        ({**MINIMAL, "interval": 5}, "interval"),  # a key that looks like a type name is still named
        ({**MINIMAL, "strict": True}, "strict"),
        ({**MINIMAL, "signals": [{"name": "S", "event": "e", "min_scroe": 5}]}, "signals[0].min_scroe"),
        ({**MINIMAL, "signals": [{"name": "S", "event": "e", "cooldwn": "1h"}]}, "signals[0].cooldwn"),
        (with_icp({**SIZE, "between": [1, 2], "wieght": 3}), "icp[0].wieght"),
        ({**MINIMAL, "routing": [{"channel": "C0X", "owners": "U0A"}]}, "routing[0].owners"),
        ({**MINIMAL, "enrichment": {"file": "x.json", "ttl": "1d"}}, "enrichment.ttl"),
        ({**MINIMAL, "access": {"writer": ["U0A"]}}, "access.writer"),
    ],
)
def test_unknown_keys_are_errors_with_their_path(data, path):
    assert only_problem(data) == f"{FILE}: {path}: unknown key (check the spelling)"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({**MINIMAL, "signals": [{"name": "S", "event": "e", "cooldown": "3 days"}]}, "signals[0].cooldown"),
        ({**MINIMAL, "signals": [{"name": "S", "event": "e", "cooldown": "1y"}]}, "signals[0].cooldown"),
        ({**MINIMAL, "enrichment": {"cache_ttl": "forever"}}, "enrichment.cache_ttl"),
        ({**MINIMAL, "enrichment": {"negative_ttl": "soon"}}, "enrichment.negative_ttl"),
    ],
)
def test_bad_durations(data, path):
    line = only_problem(data)
    assert line.startswith(f"{FILE}: {path}: ")
    assert "is not a duration; write it like 30m, 24h or 7d" in line


def test_negative_duration():
    line = only_problem({**MINIMAL, "signals": [{"name": "S", "event": "e", "cooldown": -60}]})
    assert line == f"{FILE}: signals[0].cooldown: a duration cannot be negative"


def test_bad_regex_names_the_criterion_and_the_regex_problem():
    line = only_problem(with_icp({**SIZE, "field": "person.email", "not_matches": "@(gmail|yahoo"}))
    assert line.startswith(f"{FILE}: icp[0].not_matches: not a valid regular expression: ")
    assert "missing )" in line


def test_between_low_above_high():
    line = only_problem(
        with_icp(
            {"name": "Ok", "field": "company.x", "in": [1], "weight": 1}, {**SIZE, "between": [2000, 50]}
        )
    )
    assert line == f"{FILE}: icp[1]: between needs [low, high] with low <= high"


def test_between_must_hold_two_numbers():
    assert only_problem(with_icp({**SIZE, "between": [1, 2, 3]})).startswith(f"{FILE}: icp[0].between: ")
    assert only_problem(with_icp({**SIZE, "between": [1, "lots"]})).startswith(f"{FILE}: icp[0].between[1]: ")


@pytest.mark.parametrize(
    "tests",
    [
        {"between": [1, 2], "in": [1]},
        {"in": ["a"], "contains_any": ["b"]},
        {"contains_any": ["b"], "not_matches": "x"},
        {},
    ],
)
def test_a_criterion_needs_exactly_one_test(tests):
    line = only_problem(with_icp({**SIZE, **tests}))
    assert line == f"{FILE}: icp[0]: give exactly one of between, in, contains_any, not_matches"


def test_criterion_weight_must_be_positive():
    assert only_problem(with_icp({**SIZE, "between": [1, 2], "weight": 0})).startswith(
        f"{FILE}: icp[0].weight: "
    )


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (
            {**MINIMAL, "signals": [{"name": "S", "event": "e", "where": {"plan": ["trial"]}}]},
            "signals[0].where",
        ),
        (with_icp({**SIZE, "field": "employees", "between": [1, 2]}), "icp[0].field"),
        (
            {**MINIMAL, "routing": [{"when": {"domain": "a.com"}, "channel": "C0X"}, {"channel": "C0Y"}]},
            "routing[0].when",
        ),
    ],
)
def test_paths_in_conditions_must_start_with_a_known_root(data, path):
    line = only_problem(data)
    assert line.startswith(f"{FILE}: {path}: ")
    assert "must start with one of event., properties., person., company., groups., account." in line


def test_condition_value_of_the_wrong_type_names_the_condition():
    lines = problems(
        {**MINIMAL, "signals": [{"name": "S", "event": "e", "where": {"properties.plan": {"a": 1}}}]}
    )
    assert lines
    assert all(line.startswith(f"{FILE}: signals[0].where.properties.plan: ") for line in lines)


def test_missing_default_route():
    line = only_problem({**MINIMAL, "routing": [{"when": {"company.country": ["DE"]}, "channel": "C0EMEA"}]})
    assert line == f"{FILE}: routing: add a default route without `when` as the last entry"


def test_default_route_not_last():
    line = only_problem(
        {
            **MINIMAL,
            "routing": [{"channel": "C0DEFAULT"}, {"when": {"company.country": ["DE"]}, "channel": "C0EMEA"}],
        }
    )
    assert line == f"{FILE}: routing: routing[0] has no `when`, so the routes after it never match"


def test_empty_when_counts_as_a_default_route():
    line = only_problem({**MINIMAL, "routing": [{"when": {}, "channel": "C0A"}, {"channel": "C0B"}]})
    assert "routing[0] has no `when`" in line


def test_duplicate_signal_names():
    data = {**MINIMAL, "signals": [{"name": "Signup", "event": "a"}, {"name": "Signup", "event": "b"}]}
    line = only_problem(data)
    assert line == f"{FILE}: signals: signal name 'Signup' is used twice; names identify alerts"


@pytest.mark.parametrize(
    ("data", "path", "value"),
    [
        ({**MINIMAL, "routing": [{"channel": "general"}]}, "routing[0].channel", "general"),
        ({**MINIMAL, "routing": [{"channel": "c0lowercase"}]}, "routing[0].channel", "c0lowercase"),
        (
            {**MINIMAL, "routing": [{"channel": "https://acme.slack.com/archives/C0X"}]},
            "routing[0].channel",
            None,
        ),
        ({**MINIMAL, "routing": [{"channel": "C0X", "owner": "@jane"}]}, "routing[0].owner", "@jane"),
        ({**MINIMAL, "routing": [{"channel": "C0X", "owner": "C0CHANNEL"}]}, "routing[0].owner", "C0CHANNEL"),
        ({**MINIMAL, "access": {"writers": ["U0ADMIN", "jane"]}}, "access.writers", "jane"),
    ],
)
def test_bad_slack_ids(data, path, value):
    line = only_problem(data)
    assert line.startswith(f"{FILE}: {path}: ")
    assert "is not a Slack" in line
    if value:
        assert repr(value) in line


def test_several_problems_are_all_reported():
    data = {
        "signals": [{"name": "S", "event": "e", "cooldown": "soon"}],
        "routing": [{"channel": "nope"}],
        "extra": 1,
    }
    lines = problems(data)
    assert len(lines) == 3
    assert {line.split(": ")[1] for line in lines} == {"signals[0].cooldown", "routing[0].channel", "extra"}


@pytest.mark.parametrize("data", [None, [], ["signals"], "signals", 5])
def test_the_file_must_be_a_mapping(data):
    assert only_problem(data) == f"{FILE}: the file must be a mapping with `signals`, `icp` and `routing`"


@pytest.mark.parametrize(
    ("data", "path"),
    [({"routing": [{"channel": "C0X"}]}, "signals"), ({"signals": [{"name": "S", "event": "e"}]}, "routing")],
)
def test_required_sections(data, path):
    assert only_problem(data).startswith(f"{FILE}: {path}: ")


def test_no_signals_at_all():
    assert only_problem({**MINIMAL, "signals": []}).startswith(f"{FILE}: signals: ")


def test_http_provider_needs_domain_placeholder_and_http_url():
    http = {"url": "https://enrich.example.com/v1", "fields": {"name": "name"}}
    line = only_problem({**MINIMAL, "enrichment": {"http": http}})
    assert line == f"{FILE}: enrichment.http.url: the URL must contain {{domain}}"
    http = {"url": "ftp://enrich.example.com/{domain}", "fields": {"name": "name"}}
    line = only_problem({**MINIMAL, "enrichment": {"http": http}})
    assert line == f"{FILE}: enrichment.http.url: the URL must start with http:// or https://"


def _http_with_credential(name: str) -> dict[str, Any]:
    http = {
        "url": "https://enrich.example.com/v1/companies?domain={domain}",
        "fields": {"name": "name"},
        "auth_header": "Authorization",
        "auth_env": name,
    }
    return {**MINIMAL, "enrichment": {"http": http}}


@pytest.mark.parametrize(
    "name",
    [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "slack_bot_token",
        "POSTHOG_PERSONAL_API_KEY",
        "POSTHOG_WEBHOOK_SECRET",
        "ANTHROPIC_API_KEY",
        "HUBSPOT_ACCESS_TOKEN",
        "DATABASE_URL",
        "Database_Url",
    ],
)
def test_the_enrichment_credential_may_not_be_one_of_the_bots_own_settings(name):
    """Whatever auth_env names is sent to the enrichment URL: never the bot's own secrets."""
    line = only_problem(_http_with_credential(name))
    assert line == (
        f"{FILE}: enrichment.http.auth_env: {name} is one of the bot's own settings and would be sent "
        "to the enrichment API; give the API's key a variable of its own, such as ENRICHMENT_API_KEY"
    )


@pytest.mark.parametrize(
    "name", ["ENRICHMENT_API_KEY", "CLEARBIT_KEY", "SLACKBOT_ENRICH_KEY", "DATABASE_URLS"]
)
def test_other_enrichment_credentials_are_fine(name):
    assert parse_signals(_http_with_credential(name), FILE).enrichment.http.auth_env == name


# --- reading the file --------------------------------------------------------------------------------


def test_yaml_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "signals.yml"
    path.write_text(
        "signals:\n  - name: S\n    event: e\n    where: {properties.plan: [trial}\nrouting: []\n"
    )
    with pytest.raises(SignalsFileError) as caught:
        load_signals(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line 4, column ")
    assert "not valid YAML" in message


def test_tab_indentation_is_a_yaml_error_with_line(tmp_path):
    path = tmp_path / "signals.yml"
    path.write_text("signals:\n\t- name: S\n")
    with pytest.raises(SignalsFileError, match=r"signals.yml: line 2, column 1: not valid YAML"):
        load_signals(path)


def test_a_key_written_twice_is_an_error_not_a_silently_dropped_rule(tmp_path):
    path = tmp_path / "signals.yml"
    path.write_text(
        "signals: [{name: A, event: a}]\nrouting: [{channel: C0X}]\nsignals: [{name: B, event: b}]\n"
    )
    with pytest.raises(SignalsFileError) as caught:
        load_signals(path)
    assert (
        str(caught.value)
        == f"{path}: line 3, column 1: not valid YAML: 'signals' appears twice in the same mapping"
    )


def test_a_condition_written_twice_is_an_error(tmp_path):
    path = tmp_path / "signals.yml"
    path.write_text(
        "signals:\n"
        "  - {name: A, event: a, where: {properties.plan: [trial], properties.plan: [team]}}\n"
        "routing: [{channel: C0X}]\n"
    )
    with pytest.raises(SignalsFileError, match=r"line 2, .*'properties.plan' appears twice"):
        load_signals(path)


def test_yaml_anchors_and_merge_keys_still_work(tmp_path):
    path = tmp_path / "signals.yml"
    path.write_text(
        "signals:\n"
        "  - &trial {name: A, event: a, min_score: 10}\n"
        "  - {<<: *trial, name: B, min_score: 20}\n"
        "routing: [{channel: C0X}]\n"
    )
    config = load_signals(path)
    assert [(s.name, s.event, s.min_score) for s in config.signals] == [("A", "a", 10), ("B", "a", 20)]


def test_empty_file(tmp_path):
    path = tmp_path / "signals.yml"
    path.write_text("# nothing yet\n")
    with pytest.raises(SignalsFileError, match="must be a mapping"):
        load_signals(path)


def test_missing_file_says_which_setting_points_at_it(tmp_path):
    path = tmp_path / "nope.yml"
    with pytest.raises(SignalsFileError) as caught:
        load_signals(path)
    assert str(caught.value) == f"{path}: file not found (set SIGNALS_CONFIG)"


def test_a_directory_is_not_a_signals_file(tmp_path):
    with pytest.raises(SignalsFileError, match="cannot read"):
        load_signals(tmp_path)


def test_missing_enrichment_file_names_the_resolved_path(tmp_path):
    path = tmp_path / "signals.yml"
    path.write_text(
        "signals: [{name: S, event: e}]\nrouting: [{channel: C0X}]\nenrichment: {file: data/firms.json}\n"
    )
    with pytest.raises(SignalsFileError) as caught:
        load_signals(path)
    resolved = (tmp_path / "data" / "firms.json").resolve()
    assert str(caught.value) == f"{path}: enrichment.file: {resolved} does not exist"


def test_problems_from_a_file_name_that_file(tmp_path):
    path = tmp_path / "team" / "signals.yml"
    path.parent.mkdir()
    path.write_text("signals: [{name: S, event: e}]\nrouting: [{channel: C0X, owner: jane}]\n")
    with pytest.raises(SignalsFileError) as caught:
        load_signals(path)
    assert caught.value.lines() == [
        f"{path}: routing[0].owner: 'jane' is not a Slack user id (U…) or `crm` (the HubSpot company's owner)"
    ]


# --- thresholds --------------------------------------------------------------------------------------


def with_threshold(threshold: dict[str, Any]) -> dict[str, Any]:
    return {
        **MINIMAL,
        "signals": [{"name": "Team is inviting", "event": "invite_sent", "threshold": threshold}],
    }


@pytest.mark.parametrize(
    ("threshold", "kind", "target"),
    [
        ({"count": 5, "within": "7d"}, "count", 5.0),
        ({"people": 3, "within": "7d"}, "people", 3.0),
        ({"sum": "properties.seats", "at_least": 20, "within": "30d"}, "sum", 20.0),
    ],
)
def test_a_threshold_counts_events_people_or_a_sum_within_a_window(threshold, kind, target):
    [signal] = parse_signals(with_threshold(threshold), FILE).signals
    assert signal.threshold is not None
    assert (signal.threshold.kind, signal.threshold.target) == (kind, target)


@pytest.mark.parametrize(
    ("threshold", "problem"),
    [
        ({"count": 5}, "signals[0].threshold.within: Field required"),
        ({"count": 5, "people": 2, "within": "7d"}, "signals[0].threshold: give exactly one of `count`"),
        ({"sum": "properties.seats", "within": "7d"}, "signals[0].threshold: `at_least` goes with `sum`"),
        ({"count": 5, "at_least": 3, "within": "7d"}, "signals[0].threshold: `at_least` goes with `sum`"),
        (
            {"sum": "seats", "at_least": 3, "within": "7d"},
            "signals[0].threshold.sum: 'seats' must start with",
        ),
        (
            {"count": 0, "within": "7d"},
            "signals[0].threshold.count: Input should be greater than or equal to 1",
        ),
        ({"count": 5, "within": "91d"}, "signals[0].threshold.within: the window must be between 1m and 90d"),
        ({"count": 5, "within": "7d", "per": "x"}, "signals[0].threshold.per: unknown key"),
    ],
)
def test_every_threshold_error_names_its_path(threshold, problem):
    assert only_problem(with_threshold(threshold)).startswith(f"{FILE}: {problem}")


# --- query, thread, deliver and digest ---------------------------------------------------------------
QUERY = "SELECT properties.company_domain AS account, count() AS calls FROM events GROUP BY account"


def with_signal(**signal: Any) -> dict[str, Any]:
    return {**MINIMAL, "signals": [{"name": "S", **signal}]}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (with_signal(), "signals[0]: give exactly one of `event` or `query`"),
        (
            with_signal(event="e", query=QUERY, every="1h"),
            "signals[0]: give exactly one of `event` or `query`",
        ),
        (with_signal(query=QUERY), "signals[0]: a `query` needs `every` (at least 5m), e.g. `every: 1h`"),
        (with_signal(event="e", every="1h"), "signals[0]: `every` goes with `query`"),
        (with_signal(query=QUERY, every="4m"), "signals[0].every: a query runs at most every 5m"),
        (with_signal(query="  ", every="1h"), "signals[0].query: the query is empty"),
        (
            with_signal(query="SELECT properties.domain AS Account FROM events", every="1h"),
            "signals[0].query: the query must return an `account` column (a domain) or a `distinct_id` "
            "column, e.g. `SELECT properties.company_domain AS account, ...`",
        ),
        (
            with_signal(query="SELECT count() FROM events", every="1h"),
            "signals[0].query: the query must return an `account` column (a domain) or a `distinct_id` "
            "column, e.g. `SELECT properties.company_domain AS account, ...`",
        ),
        (
            with_signal(query=QUERY, every="1h", threshold={"count": 2, "within": "7d"}),
            "signals[0]: a `query` signal cannot have a `threshold`: put the condition in the query",
        ),
        (with_signal(event="$query:S"), "signals[0]: event names starting with '$query:' are the bot's own"),
        (with_signal(event="e", thread="channel"), "signals[0].thread: Input should be 'account' or 'none'"),
        (with_signal(event="e", deliver="later"), "signals[0].deliver: Input should be 'now' or 'digest'"),
        ({**MINIMAL, "digest": {"at": "9am"}}, "digest.at: '9am' is not a time of day as HH:MM, e.g. 09:00"),
        (
            {**MINIMAL, "digest": {"timezone": "Mars/Olympus"}},
            "digest.timezone: 'Mars/Olympus' is not a time zone, e.g. Europe/Amsterdam or UTC",
        ),
        ({**MINIMAL, "digest": {"when": "09:00"}}, "digest.when: unknown key (check the spelling)"),
        (
            with_signal(event="e", auto_task={"min_score": 101}),
            "signals[0].auto_task.min_score: Input should be less than or equal to 100",
        ),
    ],
)
def test_errors_in_the_account_level_keys_name_their_path(data, expected):
    assert only_problem(data) == f"{FILE}: {expected}"


def test_a_query_signal_listens_to_its_own_event_name_and_not_to_the_webhook():
    config = parse_signals(
        {
            **with_signal(query=QUERY, every="1h", thread="none"),
            "digest": {"at": "7:30", "timezone": "Europe/Amsterdam"},
        },
        FILE,
    )
    [signal] = config.signals
    assert signal.event == "$query:S" and signal.is_query and signal.every == timedelta(hours=1)
    assert config.event_names == frozenset() and config.query_signals == [signal]
    assert signal.thread == "none" and signal.deliver == "now"
    assert (config.digest.at, config.digest.timezone) == ("07:30", "Europe/Amsterdam")


def test_a_digest_signal_may_have_an_auto_task():
    """Its task is created once the digest listing its alert is posted (bot/actions/auto_tasks.py)."""
    data = with_signal(event="e", deliver="digest", auto_task={"min_score": 80})
    [signal] = parse_signals(data, FILE).signals
    assert signal.deliver == "digest" and signal.auto_task is not None and signal.auto_task.min_score == 80


def test_threads_and_delivery_now_by_default():
    [signal] = parse_signals(MINIMAL, FILE).signals
    assert (signal.thread, signal.deliver) == ("account", "now")
    assert parse_signals(MINIMAL, FILE).digest.at == "09:00"
