"""Log lines an operator can follow: one JSON object a line, with the ids passed as `extra`."""

from __future__ import annotations

import logging
import sys

import orjson

from bot.ops.logs import JsonFormatter


def record(**extra) -> logging.LogRecord:
    entry = logging.LogRecord(
        "bot.app.worker", logging.WARNING, __file__, 1, "commit failed (attempt %d)", (2,), None
    )
    entry.__dict__.update(extra)
    return entry


def test_one_json_object_a_line_with_the_ids_that_follow_an_event():
    line = JsonFormatter().format(record(request_id="req-1", event_uuid="e-1", attempt=2))
    assert "\n" not in line
    entry = orjson.loads(line)
    assert entry.pop("ts").endswith("+00:00")
    assert entry == {
        "level": "warning",
        "logger": "bot.app.worker",
        "msg": "commit failed (attempt 2)",
        "request_id": "req-1",
        "event_uuid": "e-1",
        "attempt": 2,
    }


class Where:
    def __str__(self) -> str:
        return "somewhere"


def test_values_json_cannot_hold_are_written_as_text_and_a_traceback_is_kept_short():
    failed = record(path=Where())
    try:
        raise ValueError("x" * 10_000)
    except ValueError:
        failed.exc_info = sys.exc_info()
    entry = orjson.loads(JsonFormatter().format(failed))
    assert entry["path"] == "somewhere"
    assert entry["exc"].endswith("x" * 100) and len(entry["exc"]) == 4000
