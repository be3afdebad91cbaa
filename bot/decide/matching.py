"""Dotted-path lookup and `where`/`when` conditions: pure functions shared by signals and routing.

A condition maps a path (`properties.plan`, `company.domain`) to a value (equals) or a list (one of).
Values compare case-insensitively when both sides are text, and a number written in YAML matches the
same number sent as a string, because PostHog properties arrive with whatever types the SDK used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MISSING = object()


def lookup(context: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or MISSING. A key that itself contains dots is found too."""
    parts = path.split(".")
    node: Any = context
    i = 0
    while i < len(parts):
        if not isinstance(node, Mapping):
            return MISSING
        # Prefer the longest literal key so `properties.$feature.flag` style keys still resolve.
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in node:
                node = node[key]
                i = j
                break
        else:
            return MISSING
    return node


def normalise(value: Any) -> Any:
    """A comparable form: text lower-cased and stripped, booleans as YAML spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return value


def value_matches(actual: Any, expected: Any) -> bool:
    """Equality after normalisation; a list on the actual side matches when any element does."""
    if actual is MISSING or actual is None:
        return expected is None
    if isinstance(actual, list):
        return any(value_matches(item, expected) for item in actual)
    return normalise(actual) == normalise(expected)


def condition_holds(actual: Any, expected: Any) -> bool:
    if isinstance(expected, Sequence) and not isinstance(expected, str):
        return any(value_matches(actual, option) for option in expected)
    return value_matches(actual, expected)


def all_conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Every key must hold; an empty mapping always holds."""
    return all(condition_holds(lookup(context, path), expected) for path, expected in conditions.items())


def describe_condition(path: str, expected: Any) -> str:
    """Human wording for a routing reason: `company.country is one of DE, FR`."""
    if isinstance(expected, Sequence) and not isinstance(expected, str):
        values = [str(v) for v in expected]
        return f"{path} is {values[0]}" if len(values) == 1 else f"{path} is one of {', '.join(values)}"
    return f"{path} is {expected}"
