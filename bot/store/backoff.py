"""Growing pauses between tries while the database (or anything else) keeps failing.

A loop that retries after a failure should come back quickly from a blip and not hammer what is
down: the pause doubles from `first_s` up to `max_s` and starts over after a success. Shared by the
worker's claims and the digest, report and query schedules, so they all recover alike.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    first_s: float = 1.0
    max_s: float = 30.0
    failures: int = 0

    def failed(self) -> float:
        """Count a failure; returns how long to pause before the next try."""
        self.failures += 1
        return min(self.max_s, self.first_s * 2 ** (self.failures - 1))

    def succeeded(self) -> None:
        self.failures = 0
