"""The five checks as one pure function, on a catalog with the five click variants, a quiet event, busy
events no signal listens to and a signal with a typo; and the weekly report's lines."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config.signals_file import Signal
from bot.lint.report import (
    BadName,
    DuplicateGroup,
    GroupMember,
    LintReport,
    QuietEvent,
    UnknownEvent,
    UnusedEvent,
    lint,
    named_in_queries,
    summary_lines,
)
from bot.lint.source import Catalog, EventDefinition
from tests.support.factories import example_config

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()
DAY = 86_400.0

TYPO = Signal(name="Trial finished onboarding", event="onboarding_complete", min_score=50)
INVITES = Signal(name="Team invited", event="invite_sent")
QUIET_LISTENER = Signal(name="Exported a report", event="legacy_export")
API = Signal(
    name="API usage dropped",
    query="SELECT properties.company_domain AS account FROM events WHERE event = 'api_called' "
    "GROUP BY account",
    every="1h",
)


def definition(name: str, volume: int | None = None, seen_days_ago: float | None = 0.1) -> EventDefinition:
    seen = None if seen_days_ago is None else datetime.fromtimestamp(NOW - seen_days_ago * DAY, UTC)
    return EventDefinition(name=name, volume_30_day=volume, last_seen_at=seen)


DEFINITIONS = [
    definition("click", 1200),
    definition("Click", 30),
    definition("button-click", 80),
    definition("btnClick", 15),
    definition("user_clicked_button", 400),
    definition("onboarding_completed", 310),
    definition("invite_sent", 64),
    definition("report_exported", 3400),
    definition("api_called", 9000),
    definition("legacy_export", 0, seen_days_ago=45),
    definition("old_banner_closed", 0, seen_days_ago=31),
    definition("$pageview", 50_000),
    definition("$opt_in", 0, seen_days_ago=200),
    definition("drafted_by_hand", None, seen_days_ago=None),
]


def config(*signals: Signal):
    return example_config().model_copy(update={"signals": list(signals)})


def catalog(definitions=DEFINITIONS, **overrides) -> Catalog:
    volumes = {d.name: d.volume_30_day for d in definitions if d.volume_30_day is not None}
    return Catalog(tuple(definitions), volumes, **overrides)


def test_the_report_finds_all_five():
    report = lint(catalog(), config(TYPO, INVITES, QUIET_LISTENER, API), NOW)
    assert report.events == 14 and report.event_signals == 3
    assert report.unknown == (
        UnknownEvent("Trial finished onboarding", "onboarding_complete", ("onboarding_completed",)),
    )
    assert report.failed and not report.clean
    assert report.bad_names == (
        BadName("button-click", "button_click", 80),
        BadName("Click", "click", 30),
        BadName("btnClick", "btn_click", 15),
    )
    assert report.duplicates == (
        DuplicateGroup((GroupMember("click", 1200), GroupMember("Click", 30)), keep="click"),
        DuplicateGroup(
            (
                GroupMember("user_clicked_button", 400),
                GroupMember("button-click", 80),
                GroupMember("btnClick", 15),
            ),
            keep="user_clicked_button",
        ),
    )
    assert report.quiet == (
        QuietEvent("old_banner_closed", NOW - 31 * DAY),
        QuietEvent("legacy_export", NOW - 45 * DAY, ("Exported a report",)),
        QuietEvent("$opt_in", NOW - 200 * DAY),
    )
    # Busiest first; `$` events, listened events and the query signal's `api_called` are left out.
    assert report.unused == (
        UnusedEvent("report_exported", 3400),
        UnusedEvent("click", 1200),
        UnusedEvent("user_clicked_button", 400),
        UnusedEvent("onboarding_completed", 310),
        UnusedEvent("button-click", 80),
        UnusedEvent("Click", 30),
        UnusedEvent("btnClick", 15),
    )


def test_a_correct_signals_file_only_warns():
    fixed = TYPO.model_copy(update={"event": "onboarding_completed"})
    report = lint(catalog(), config(fixed, INVITES), NOW)
    assert report.unknown == () and not report.failed
    assert "onboarding_completed" not in [u.name for u in report.unused]


def test_query_signals_are_not_checked_but_what_they_name_counts_as_acted_on():
    report = lint(catalog(), config(API), NOW)
    assert report.unknown == () and report.event_signals == 0
    assert named_in_queries(config(API)) == {"api_called"}
    assert "api_called" not in [u.name for u in report.unused]


def test_a_signal_listening_to_a_name_that_differs_only_in_case_is_unknown():
    report = lint(catalog(), config(Signal(name="Clicks", event="CLICK")), NOW)
    [unknown] = report.unknown
    assert unknown.event == "CLICK" and unknown.suggestions[:2] == ("click", "Click")


def test_a_member_of_a_group_names_the_signals_listening_to_it():
    report = lint(catalog(), config(Signal(name="Clicked", event="btnClick")), NOW)
    assert GroupMember("btnClick", 15, ("Clicked",)) in report.duplicates[1].members


def test_exactly_thirty_days_is_not_quiet_yet():
    report = lint(catalog([definition("edge", 0, seen_days_ago=30)]), config(), NOW)
    assert report.quiet == ()


def test_unknown_volumes_skip_the_no_action_check_and_say_why():
    defs = [definition("report_exported", None), definition("btnClick", None)]
    note = "the personal API key lacks `query:read`, so volumes are unknown"
    report = lint(catalog(defs, volume_note=note), config(), NOW)
    assert not report.volumes_known and report.unused == ()
    assert report.bad_names == (BadName("btnClick", "btn_click", None),)
    assert summary_lines(report)[-1] == "The personal API key lacks `query:read`, so volumes are unknown"


def test_an_empty_project_makes_every_signal_unknown_without_suggestions():
    report = lint(catalog([]), config(TYPO, INVITES), NOW)
    assert [u.suggestions for u in report.unknown] == [(), ()]


# -- the weekly report's lines ---------------------------------------------------------------------
def test_summary_lines():
    report = lint(catalog(), config(TYPO, INVITES, QUIET_LISTENER, API), NOW)
    assert summary_lines(report) == [
        "1 signal listens to an event PostHog never received: Trial finished onboarding "
        "(onboarding_complete; did you mean onboarding_completed?)",
        "3 names break snake_case",
        "2 near-duplicate groups",
        "3 events gone quiet",
        "7 events no signal listens to",
    ]


def test_summary_lines_in_the_singular_and_past_three_unknown_signals():
    unknown = tuple(UnknownEvent(f"<Signal {n}>", f"ev_{n}") for n in range(5))
    report = LintReport(
        NOW,
        events=1,
        event_signals=5,
        unknown=unknown,
        bad_names=(BadName("A", "a"),),
        duplicates=(DuplicateGroup((GroupMember("a", 1), GroupMember("A", 1)), "a"),),
        quiet=(QuietEvent("q", NOW - 40 * DAY),),
        unused=(UnusedEvent("u", 3),),
        capped=True,
    )
    assert summary_lines(report) == [
        "5 signals listen to an event PostHog never received: <Signal 0> (ev_0); <Signal 1> (ev_1); "
        "<Signal 2> (ev_2); and 2 more",  # unescaped: the caller escapes
        "1 name breaks snake_case",
        "1 near-duplicate group",
        "1 event gone quiet",
        "1 event no signal listens to",
        "Only the 1 most recently seen event definitions were read; PostHog has more",
    ]


def test_a_clean_plan_says_so_in_one_line():
    report = lint(catalog([definition("invite_sent", 0)]), config(INVITES), NOW)
    assert report.clean
    assert summary_lines(report) == [
        "Every signal's event is one PostHog receives (1 signal); no naming problems, near-duplicates, "
        "quiet or unused events"
    ]
