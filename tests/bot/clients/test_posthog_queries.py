"""PostHog queries as data: the funnel node, the link that opens it, insight short ids, and funnels read
back from PostHog's results. Sending them is tested with the client (test_posthog_api.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest

from bot.clients.posthog_queries import (
    MAX_TEXT,
    FunnelStep,
    UnreadableFunnel,
    UnreadableTable,
    capped_hogql,
    funnel_url,
    funnels_query,
    parse_funnel,
    parse_hogql_table,
    short_id_from,
)


def counts(steps: list[FunnelStep]) -> list[int]:
    return [s.count for s in steps]


# -- building --------------------------------------------------------------------------------------
def test_a_funnels_query_with_a_person_breakdown():
    assert funnels_query([" signup_started ", "invite_sent"], "mStart", " plan ", "person", True) == {
        "kind": "FunnelsQuery",
        "series": [
            {"kind": "EventsNode", "event": "signup_started", "name": "signup_started"},
            {"kind": "EventsNode", "event": "invite_sent", "name": "invite_sent"},
        ],
        "dateRange": {"date_from": "mStart", "date_to": None},
        "funnelsFilter": {"funnelVizType": "steps", "funnelOrderType": "ordered"},
        "filterTestAccounts": True,
        "breakdownFilter": {"breakdown": "plan", "breakdown_type": "person"},
    }


@pytest.mark.parametrize("date_from", ["-24h", "-7d", "-1mStart", "mStart", "yStart", "all", "2026-11-01"])
def test_date_froms_posthog_understands(date_from):
    assert funnels_query(["a", "b"], date_from, None)["dateRange"]["date_from"] == date_from


@pytest.mark.parametrize(
    ("steps", "date_from", "breakdown", "breakdown_type", "message"),
    [
        (["only_one"], "-7d", None, "event", "at least two"),
        (["a", " "], "-7d", None, "event", "at least two"),
        (["a", "b"], "last week", None, "event", "date_from must be like"),
        (["a", "b"], "-7d", "plan", "cohort", "breakdown_type must be event or person"),
        (["a", "b"], "-7d", "  ", "event", "breakdown must name a property"),
    ],
)
def test_a_funnel_posthog_would_refuse_is_not_built(steps, date_from, breakdown, breakdown_type, message):
    with pytest.raises(ValueError, match=message):
        funnels_query(steps, date_from, breakdown, breakdown_type)


def test_funnel_url_carries_the_query_as_posthogs_own_new_insight_link():
    url = funnel_url("https://eu.posthog.com/project/7", ["sign up", "done"], "-7d", None)
    head, _, fragment = url.partition("#q=")
    assert head == "https://eu.posthog.com/project/7/insights/new"
    assert fragment.startswith("%7B%22kind%22%3A%22InsightVizNode%22") and fragment.endswith("%7D%20")
    assert " " not in url and "+" not in url and "&" not in fragment
    node = json.loads(unquote(fragment))
    assert node == {
        "kind": "InsightVizNode",
        "source": funnels_query(["sign up", "done"], "-7d", None),
        "full": True,
    }


# -- reading ---------------------------------------------------------------------------------------
def test_short_ids_from_ids_and_links():
    assert short_id_from("AbCd1234") == "AbCd1234"
    assert short_id_from("https://us.posthog.com/project/12/insights/AbCd1234/edit?dashboard=3") == "AbCd1234"
    assert short_id_from("<https://eu.posthog.com/project/3/insights/XyZ98765/edit#q=1|saved>") == "XyZ98765"
    assert short_id_from("/project/3/insights/new") is None and short_id_from("a > b") is None


def test_results_that_are_not_a_steps_funnel_are_unreadable():
    for results in (None, {"steps": []}, "12"):
        with pytest.raises(UnreadableFunnel, match="without funnel steps"):
            parse_funnel(results)


def test_steps_read_with_their_names_counts_and_times():
    result = parse_funnel(
        [
            {"action_id": "signup_started", "order": 0, "count": 10, "median_conversion_time": None},
            {"name": "invite_sent", "custom_name": "Invited", "order": 1, "count": 4,
             "median_conversion_time": 90, "average_conversion_time": float("nan")},
            {"name": None, "order": 2, "count": None, "median_conversion_time": True},
        ],
        {"is_cached": 1, "last_refresh": datetime(2026, 11, 20, 11, tzinfo=UTC)},
    )  # fmt: skip
    assert [(s.name, s.label, s.order) for s in result.steps] == [
        ("signup_started", "signup_started", 0),
        ("invite_sent", "Invited", 1),
        ("Step 3", "Step 3", 2),
    ]
    assert counts(result.steps) == [10, 4, 0] and result.entered == 10
    assert [s.median_conversion_time for s in result.steps] == [None, 90.0, None]
    assert result.steps[1].average_conversion_time is None  # not a number PostHog meant
    assert result.is_cached and result.last_refresh == datetime(2026, 11, 20, 11, tzinfo=UTC)
    assert result.rates() == [(None, 1.0), (0.4, 0.4), (0.0, 0.0)]


def test_breakdown_values_as_lists_and_posthogs_buckets():
    def step(order: int, count: int, value: Any) -> dict[str, Any]:
        return {"name": "e", "custom_name": "Entered" if order == 0 else None, "order": order, "count": count,
                "median_conversion_time": None if order == 0 else 30, "average_conversion_time": None,
                "breakdown": value, "breakdown_value": value}  # fmt: skip

    result = parse_funnel(
        [
            [step(0, 2, ["$$_posthog_breakdown_other_$$"]), step(1, 1, ["$$_posthog_breakdown_other_$$"])],
            [step(0, 9, ["DE", "pro"]), step(1, 3, ["DE", "pro"])],
            [step(0, 4, ["$$_posthog_breakdown_null_$$"]), step(1, 0, ["$$_posthog_breakdown_null_$$"])],
        ],
        {"is_cached": True, "last_refresh": "2026-11-20T11:00:00Z"},
    )
    assert [label for label, _ in result.breakdowns] == ["DE, pro", "(none)", "Other"]
    assert counts(result.steps) == [15, 4] and result.steps[0].label == "Entered"
    assert result.breakdowns[0][1][1].median_conversion_time == 30.0
    assert result.is_cached and result.last_refresh == datetime(2026, 11, 20, 11, tzinfo=UTC)


# -- HogQL tables ---------------------------------------------------------------------------------------
def test_a_users_query_is_wrapped_with_a_limit_one_past_the_cap():
    assert (
        capped_hogql("  SELECT 1 AS a LIMIT 5 ;; \n", 10)
        == "SELECT * FROM (\nSELECT 1 AS a LIMIT 5\n) LIMIT 11"
    )
    assert capped_hogql("SELECT a FROM t -- note", 1).endswith("-- note\n) LIMIT 2")
    with pytest.raises(ValueError):
        capped_hogql("SELECT 1", 50_000)  # PostHog caps any LIMIT at 50,000


def test_a_tables_rows_are_keyed_by_column_and_json_safe():
    data = {
        "results": [["acme.com", 3, float("nan"), "a\x00b\ud800", "x" * 5000, [[[[["deep"]]]]], {"k": 1}]],
        "columns": ["account", "n", "ratio", "text", "long", "nested", "map"],
        "hasMore": None,
    }
    [row] = parse_hogql_table(data, 10).rows
    assert row["account"] == "acme.com" and row["n"] == 3
    assert row["ratio"] is None  # NaN is not JSON
    assert row["text"] == "a\ufffdb\ufffd"  # storable on PostgreSQL, encodable as UTF-8
    assert len(row["long"]) == MAX_TEXT
    assert row["nested"] == [[[['["deep"]']]]]  # past four levels, kept as text
    assert row["map"] == {"k": 1}
    json.dumps(row)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"results": "nope", "columns": []}, "results"),
        ({"results": [[1]]}, "columns"),
        ({"results": [[1, 2]], "columns": ["a"]}, "row 0 has 2 values for 1 columns"),
        ({"results": [], "columns": ["a", "a"]}, "column name twice"),
        ({"results": [], "columns": [""]}, "columns"),
    ],
)
def test_an_answer_that_is_not_a_table_says_what_is_wrong(data, says):
    with pytest.raises(UnreadableTable, match=says):
        parse_hogql_table(data, 10)
