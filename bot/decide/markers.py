"""The markers `/posthog test` puts on the event it captures, and how the worker knows that event when
PostHog's destination sends it back to the webhook: shown to whoever sent it as a dry run, never
alerted. One home for both sides, so the command and the pipeline cannot drift apart.

A customer's own `test: true` is not enough: the `$lib` the bot stamps on what it sends is what makes
the event ours. Properties are untrusted input, so any value of any type is read without trusting it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from bot import LIB_NAME

TEST_PROPERTY = "test"
LIB_PROPERTY = "$lib"
TEST_COMMAND_MARKERS: Mapping[str, Any] = MappingProxyType({TEST_PROPERTY: True, LIB_PROPERTY: LIB_NAME})


def is_test_command_event(properties: Any) -> bool:
    """Whether an event's properties carry exactly the markers `/posthog test` sets: `test` is the
    boolean true (not "true", not 1) and `$lib` is the bot's own library name."""
    if not isinstance(properties, Mapping):
        return False
    lib = properties.get(LIB_PROPERTY)
    return properties.get(TEST_PROPERTY) is True and isinstance(lib, str) and lib == LIB_NAME
