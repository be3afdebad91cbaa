"""Webhook bodies: PostHog's default body, older shapes, batches, and every kind of bad body answered
with a status and a message that names the field."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from bot.ingest.webhook_body import (
    MAX_BATCH,
    BodyError,
    Counted,
    Incoming,
    WebhookBody,
    parse_body,
    parse_request,
    parse_timestamp,
)

EVENT = {
    "uuid": "0191e7c4-0000-7000-8000-000000000001",
    "event": "onboarding_completed",
    "distinct_id": "user_42",
    "properties": {"plan": "trial", "$lib": "web", "company_domain": "acme.com"},
    "timestamp": "2025-10-09T08:52:20.123Z",
    "url": "https://us.posthog.com/project/1/events/0191e7c4-0000-7000-8000-000000000001",
    "elements_chain": "",
}
PERSON = {
    "id": "0191e7c4-aaaa-7000-8000-000000000042",
    "name": "Jane Doe",
    "properties": {"email": "jane@acme.com"},
    "url": "https://us.posthog.com/project/1/person/user_42",
}


def parse(data: Any) -> list:
    return parse_body(orjson.dumps(data))


def error(raw: bytes | Any) -> BodyError:
    with pytest.raises(BodyError) as caught:
        parse_body(raw if isinstance(raw, bytes) else orjson.dumps(raw))
    return caught.value


# --- accepted shapes --------------------------------------------------------------------------------


def test_default_body():
    data = {
        "event": EVENT,
        "person": PERSON,
        "groups": {"company": {"id": "acme.com", "properties": {"name": "Acme"}}},
        "project": {"id": 1, "name": "Default"},
        "source": {
            "name": "Slack signals",
            "url": "https://us.posthog.com/project/1/pipeline/destinations/x",
        },
    }
    [body] = parse(data)
    assert body.event.uuid == EVENT["uuid"]
    assert body.event.event == "onboarding_completed"
    assert body.event.distinct_id == "user_42"
    assert body.event.properties["plan"] == "trial"
    assert body.event.url == EVENT["url"]
    assert body.event_time == 1_759_999_940.123
    assert body.person.id == PERSON["id"]
    assert body.person.name == "Jane Doe"
    assert body.person.properties == {"email": "jane@acme.com"}
    assert body.person.url == PERSON["url"]
    assert body.groups["company"]["id"] == "acme.com"
    assert body.project == {"id": 1, "name": "Default"}
    assert body.source["name"] == "Slack signals"


@pytest.mark.parametrize("query", ["SELECT 1", 5, ["a"], {"account": "evil.com"}])
def test_a_forwarded_body_with_a_query_key_is_taken_and_never_read_as_a_query_row(query):
    [body] = parse({"event": EVENT, "query": query})
    assert (
        isinstance(body, WebhookBody) and body.query_row is None
    )  # only the bot's own `$query:` events carry a row


def test_extra_event_fields_are_kept_when_stored():
    [body] = parse({"event": EVENT, "person": PERSON})
    stored = orjson.loads(body.stored())
    assert stored["event"]["elements_chain"] == ""
    assert stored["event"]["uuid"] == EVENT["uuid"]


def test_old_shape_with_event_name_and_person_uuid():
    [body] = parse({"event": {"uuid": "u1", "name": "signed_up"}, "person": {"uuid": "p1", "properties": {}}})
    assert body.event.event == "signed_up"
    assert body.person.id == "p1"
    stored = orjson.loads(body.stored())
    assert stored["event"]["event"] == "signed_up"  # stored with today's field names
    assert stored["person"]["id"] == "p1"
    assert "name" not in stored["event"]


@pytest.mark.parametrize(("distinct_id", "text"), [(12345, "12345"), (1.5, "1.5"), ("007", "007")])
def test_numeric_distinct_id_is_kept_as_text(distinct_id, text):
    [body] = parse({"event": {"uuid": "u1", "event": "e", "distinct_id": distinct_id}})
    assert body.event.distinct_id == text


def test_numeric_person_id_is_text():
    [body] = parse({"event": {"uuid": "u1", "event": "e"}, "person": {"id": 42}})
    assert body.person.id == "42"


@pytest.mark.parametrize("person", [None, "absent"])
def test_null_or_absent_person(person):
    data: dict[str, Any] = {"event": {"uuid": "u1", "event": "e"}}
    if person != "absent":
        data["person"] = person
    [body] = parse(data)
    assert body.person is None
    assert body.event.distinct_id is None
    assert body.event_time is None


def test_null_properties_are_empty():
    [body] = parse(
        {"event": {"uuid": "u1", "event": "e", "properties": None}, "person": {"properties": None}}
    )
    assert body.event.properties == {}
    assert body.person.properties == {}


def test_null_groups_project_source():
    [body] = parse({"event": {"uuid": "u1", "event": "e"}, "groups": None, "project": None, "source": None})
    assert (body.groups, body.project, body.source) == (None, None, None)


def test_a_json_array_is_a_batch():
    bodies = parse([{"event": {**EVENT, "uuid": f"u{i}"}, "person": PERSON} for i in range(3)])
    assert [b.event.uuid for b in bodies] == ["u0", "u1", "u2"]


def test_a_batch_of_the_largest_size():
    assert len(parse([{"event": {"uuid": f"u{i}", "event": "e"}} for i in range(MAX_BATCH)])) == MAX_BATCH


def test_reasonable_nesting_in_properties_is_fine_and_storable():
    nested: Any = "leaf"
    for _ in range(90):
        nested = {"a": [nested]} if isinstance(nested, str) else [nested]
    [body] = parse({"event": {"uuid": "u1", "event": "e", "properties": {"deep": nested}}})
    assert orjson.loads(body.stored())["event"]["properties"]["deep"] == nested


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = "[" * 5000 + '{"\\"' + "{" * 5000
    [body] = parse({"event": {"uuid": "u1", "event": "e", "properties": {"text": text}}})
    assert body.event.properties["text"] == text


# --- bad bodies -------------------------------------------------------------------------------------


def test_legacy_action_webhook_body_is_422_and_says_what_to_use():
    exc = error({"text": "[Jane](https://us.posthog.com/person/1) did [onboarding_completed]"})
    assert exc.status == 422
    assert "legacy" in str(exc)
    assert '{"event": "{event}", "person": "{person}"}' in str(exc)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "invalid JSON"),
        (b"", "invalid JSON"),
        (b'{"event": {"uuid": "u1", "event": "e"}', "invalid JSON"),
        (b'{"event": {"uuid": "u1", "event": "e", "distinct_id": NaN}}', "invalid JSON"),
        (b"\xff\xfe{}", "invalid JSON"),
    ],
)
def test_invalid_json_is_400(raw, message):
    exc = error(raw)
    assert exc.status == 400
    assert str(exc).startswith(message)


@pytest.mark.parametrize("data", [5, "event", None, True, 1.5])
def test_a_body_that_is_not_an_object(data):
    exc = error(data)
    assert exc.status == 400
    assert str(exc) == "the body must be a JSON object with an `event`"


def test_empty_batch():
    exc = error([])
    assert (exc.status, str(exc)) == (400, "the batch is empty")


def test_too_large_a_batch_is_413():
    exc = error([{"event": {"uuid": f"u{i}", "event": "e"}} for i in range(MAX_BATCH + 1)])
    assert exc.status == 413
    assert str(MAX_BATCH) in str(exc)


def test_a_batch_item_that_is_not_an_object_is_named_by_index():
    exc = error([{"event": {"uuid": "u1", "event": "e"}}, "oops"])
    assert str(exc) == "[1] must be a JSON object with an `event`"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"person": PERSON}, "event is missing"),
        ({"event": "onboarding_completed"}, "event must be an object"),
        ({"event": {"event": "e"}}, "event.uuid is missing"),
        ({"event": {"uuid": "u1"}}, "event.event (the event name) is missing"),
        (
            {"event": {"uuid": "u1", "properties": {}}, "person": None},
            "event.event (the event name) is missing",
        ),
        (
            [{"event": {"uuid": "u1", "event": "e"}}, {"event": {"uuid": "u2"}}],
            "[1].event.event (the event name) is missing",
        ),
        ([{"event": {"event": "e"}}], "[0].event.uuid is missing"),
        ([{"person": {}}], "[0].event is missing"),
    ],
)
def test_missing_fields_are_named(data, message):
    exc = error(data)
    assert (exc.status, str(exc)) == (400, message)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"uuid": "", "event": "e"}, "event.uuid"),
        ({"uuid": 5, "event": "e"}, "event.uuid"),
        ({"uuid": "u" * 201, "event": "e"}, "event.uuid"),
        ({"uuid": "u1", "event": ""}, "event.event"),
        ({"uuid": "u1", "event": "e", "properties": [1, 2]}, "event.properties"),
        ({"uuid": "u1", "event": "e", "distinct_id": {"id": 1}}, "event.distinct_id"),
        ({"uuid": "u1", "event": "e", "distinct_id": True}, "event.distinct_id"),
    ],
)
def test_wrong_types_are_named(event, field):
    exc = error({"event": event})
    assert exc.status == 400
    assert str(exc).startswith(f"{field}: ")


def test_a_person_of_the_wrong_type_is_named():
    assert str(error({"event": {"uuid": "u1", "event": "e"}, "person": "jane"})).startswith("person: ")


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"event": {"uuid": "u1", "event": "e", "properties": {"x": ' + b"[" * 500 + b"]" * 500 + b"}}}",
        b"[" * 100_000,  # unterminated as well
    ],
    ids=["100k-lists", "100k-objects", "500-in-properties", "unterminated"],
)
def test_deeply_nested_json_is_a_body_error_not_a_crash(raw):
    exc = error(raw)  # neither RecursionError nor a crashed process
    assert exc.status == 400
    assert "nested deeper than" in str(exc)


# --- timestamps -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "epoch"),
    [
        ("2025-10-09T08:52:20Z", 1_759_999_940.0),
        ("2025-10-09T08:52:20.500Z", 1_759_999_940.5),
        ("2025-10-09T10:52:20+02:00", 1_759_999_940.0),
        ("2025-10-09T08:52:20+00:00", 1_759_999_940.0),
        ("2025-10-09T08:52:20", 1_759_999_940.0),  # no offset: UTC, as PostHog exports write it
        ("2025-10-09 08:52:20.000000", 1_759_999_940.0),
    ],
)
def test_parse_timestamp(value, epoch):
    assert parse_timestamp(value) == epoch


@pytest.fixture
def local_time_is_new_york(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_timestamp_without_offset_does_not_depend_on_the_servers_time_zone(local_time_is_new_york):
    assert parse_timestamp("2025-10-09T08:52:20") == 1_759_999_940.0


@pytest.mark.parametrize(
    "value",
    [None, "", "yesterday", "2025-13-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],
)
def test_unusable_timestamps_are_none(value):
    assert parse_timestamp(value) is None


def test_an_unusable_timestamp_does_not_reject_the_event():
    [body] = parse({"event": {"uuid": "u1", "event": "e", "timestamp": "0001-01-01T00:00:00+01:00"}})
    assert body.event_time is None


# -- events no signal wants: read no further than their uuid and name ----------------------------------
def _wanted(name: str) -> bool:
    return name == "onboarding_completed"


def test_an_event_no_signal_wants_is_read_no_further_than_its_uuid_and_name():
    raw = orjson.dumps(
        [
            {
                "event": {
                    "uuid": "u1",
                    "event": "$pageview",
                    "distinct_id": ["not", "an", "id"],
                    "properties": 5,
                }
            },
            {"event": {"uuid": "u2", "name": "$autocapture"}},  # the older field name
            {"event": {"uuid": "u3", "event": "onboarding_completed", "distinct_id": "d3"}},
        ]
    )
    first, second, third = parse_request(raw, _wanted)
    assert first == Counted("u1", "$pageview") and second == Counted("u2", "$autocapture")
    assert isinstance(third, Incoming) and third.body.event.distinct_id == "d3"


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"event": "$pageview"}, "event.uuid is missing"),
        ({"uuid": 7, "event": "$pageview"}, "event.uuid"),
        ({"uuid": "a\x00b", "event": "$pageview"}, "control characters"),
        ({"uuid": "u1", "event": ""}, "event.event"),
        ({"uuid": "u1", "event": 5}, "event.event"),
    ],
)
def test_one_whose_uuid_or_name_is_not_an_events_is_refused_naming_the_field(event, error):
    with pytest.raises(BodyError) as refused:
        parse_request(orjson.dumps({"event": event}), _wanted)
    assert error in str(refused.value)


def test_an_event_a_signal_wants_is_validated_in_full():
    with pytest.raises(BodyError) as refused:
        parse_request(
            orjson.dumps({"event": {"uuid": "u1", "event": "onboarding_completed", "distinct_id": []}}),
            _wanted,
        )
    assert "event.distinct_id" in str(refused.value)


def test_without_a_wanted_test_every_event_is_validated_in_full():
    [incoming] = parse_request(orjson.dumps({"event": {"uuid": "u1", "event": "$pageview"}}))
    assert isinstance(incoming, Incoming)
