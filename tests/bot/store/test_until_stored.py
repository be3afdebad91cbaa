"""A claim's new state is recorded however briefly the database is away: retried until it answers,
given up only when the process stops (its claims then go back with its heartbeat)."""

from __future__ import annotations

import asyncio
import logging

from bot.store.until_stored import until_stored


class Unreachable(Exception):
    """Stands for a database that does not answer."""


def flaky(failures: int):
    calls: list[tuple] = []

    def record(*args):
        calls.append(args)
        if len(calls) <= failures:
            raise Unreachable("connection refused")
        return "recorded"

    return record, calls


def test_a_call_the_database_refuses_is_retried_until_it_answers(caplog):
    record, calls = flaky(1)
    with caplog.at_level(logging.WARNING, logger="bot.store.until_stored"):
        result = asyncio.run(until_stored(record, "e1", "w1", stopping=lambda: False, extra={}))
    assert result == "recorded" and calls == [("e1", "w1"), ("e1", "w1")]
    assert caplog.messages == ["cannot record record yet: Unreachable"]


def test_a_stopping_process_gives_up_at_once(caplog):
    record, calls = flaky(10)
    with caplog.at_level(logging.ERROR, logger="bot.store.until_stored"):
        assert asyncio.run(until_stored(record, "e1", stopping=lambda: True, extra={})) is None
    assert len(calls) == 1
    assert caplog.messages == ["cannot record record: Unreachable"]
