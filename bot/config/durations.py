"""Durations as people write them in the signals file: `90s`, `30m`, `24h`, `7d`, `2w`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(value: object) -> timedelta:
    """A timedelta from `24h`-style text or a number of seconds; ValueError says what is accepted."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30m, 24h or 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _PATTERN.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; write it like 30m, 24h or 7d")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling: 86400 s -> `1d`."""
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
